import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { ManagementSimulator } from './management-simulator.js';

/**
 * vr6-sim: the management-server simulator as a process, for the lab.
 *
 *   vr6-sim --listen HOST:PORT [--token-file F] [--desired FILE [--hold]] [--generation N]
 *           [--tls-cert F --tls-key F [--tls-ca F]]
 *
 * --tls-ca requires every agent to present a client certificate signed by
 * that CA (mutual TLS). Writes one JSON object per line on stdout for every event. Reads commands
 * on stdin, one per line: `push FILE`, `push-json {...}`, `reconcile`,
 * `drop`, `quit`. SIGHUP pushes --desired again as the next generation.
 * Exits on `quit`, SIGTERM or SIGINT; the end of stdin is not a reason.
 */

const USAGE = 'usage: vr6-sim --listen HOST:PORT [--token-file F] [--desired FILE [--hold]] [--generation N] [--tls-cert F --tls-key F [--tls-ca F]]';

interface CliOptions {
  readonly host: string;
  readonly port: number;
  readonly token?: string;
  readonly desiredFile?: string;
  readonly generation?: number;
  readonly tls?: { cert: string; key: string; clientCa?: string };
  /** Keep --desired until SIGHUP instead of pushing it at start, so a lab can time the push. */
  readonly isHolding: boolean;
}

/** Splits HOST:PORT, where an IPv6 host is written in brackets: [fd00::1]:8765. */
function parseListen(text: string): { host: string; port: number } {
  const match = /^(?:\[([0-9A-Fa-f:.%\w-]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text);
  const port = Number(match?.[3]);
  if (!match || port > 65535) throw new Error(`--listen must be HOST:PORT or [IPV6]:PORT, got "${text}"`);
  return { host: match[1] ?? match[2] ?? '', port };
}

function readCliOptions(argv: string[]): CliOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      listen: { type: 'string' },
      'token-file': { type: 'string' },
      desired: { type: 'string' },
      generation: { type: 'string' },
      'tls-cert': { type: 'string' },
      'tls-key': { type: 'string' },
      'tls-ca': { type: 'string' },
      hold: { type: 'boolean' },
    },
  });
  if (values.listen === undefined) throw new Error(USAGE);
  const generation = values.generation === undefined ? undefined : Number(values.generation);
  if (generation !== undefined && !(Number.isSafeInteger(generation) && generation >= 1)) {
    throw new Error('--generation must be a whole number from 1');
  }
  if ((values['tls-cert'] === undefined) !== (values['tls-key'] === undefined)) throw new Error('--tls-cert and --tls-key go together');
  if (values['tls-ca'] !== undefined && values['tls-cert'] === undefined) throw new Error('--tls-ca needs --tls-cert and --tls-key');
  return {
    ...parseListen(values.listen),
    isHolding: values.hold === true,
    ...(values['token-file'] === undefined ? {} : { token: readFileSync(values['token-file'], 'utf8').trim() }),
    ...(values.desired === undefined ? {} : { desiredFile: values.desired }),
    ...(generation === undefined ? {} : { generation }),
    ...(values['tls-cert'] === undefined || values['tls-key'] === undefined
      ? {}
      : {
          tls: {
            cert: readFileSync(values['tls-cert'], 'utf8'),
            key: readFileSync(values['tls-key'], 'utf8'),
            ...(values['tls-ca'] === undefined ? {} : { clientCa: readFileSync(values['tls-ca'], 'utf8') }),
          },
        }),
  };
}

function print(line: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

async function main(): Promise<void> {
  const options = readCliOptions(process.argv.slice(2));
  const simulator = new ManagementSimulator({
    host: options.host,
    port: options.port,
    keepHistory: false,
    ...(options.token === undefined ? {} : { token: options.token }),
    ...(options.tls === undefined ? {} : { tls: options.tls }),
  });
  simulator.onEvent((event) => print({ ...event }));
  // --generation without --desired numbers the first push instead.
  let pendingGeneration = options.generation;
  const push = (spec: unknown) => {
    const generation = simulator.push(spec, pendingGeneration);
    pendingGeneration = undefined;
    print({ event: 'pushed', generation });
  };
  const pushFile = (file: string) => push(JSON.parse(readFileSync(file, 'utf8')));

  const { port } = await simulator.start();
  print({ event: 'listening', host: options.host, port });
  if (options.desiredFile !== undefined && !options.isHolding) pushFile(options.desiredFile);

  let isQuitting = false;
  const quit = () => {
    if (isQuitting) return;
    isQuitting = true;
    simulator.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  const run = (line: string) => {
    const [command = '', rest = ''] = line.trim().split(/\s+(.*)/s);
    if (command === '') return;
    try {
      if (command === 'push') pushFile(rest);
      else if (command === 'push-json') push(JSON.parse(rest));
      else if (command === 'reconcile') print({ event: 'reconcile', agents: simulator.requestReconcile() });
      else if (command === 'drop') simulator.dropConnections();
      else if (command === 'quit') quit();
      else print({ event: 'error', message: `unknown command "${command}"` });
    } catch (error) {
      print({ event: 'error', message: `${command}: ${errorMessage(error)}` });
    }
  };
  createInterface({ input: process.stdin }).on('line', run);
  process.on('SIGTERM', quit);
  process.on('SIGINT', quit);
  process.on('SIGHUP', () => {
    if (options.desiredFile === undefined) print({ event: 'error', message: 'SIGHUP: no --desired file to push' });
    else run(`push ${options.desiredFile}`);
  });
}

main().catch((error: unknown) => {
  process.stderr.write(`vr6-sim: ${errorMessage(error)}\n`);
  process.exit(1);
});
