import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { LOG_LEVELS, LogLevel } from '../schema/agent-config.js';
import { SHOW_TOPICS, type ControlRequest, type ControlResponse, type PlanResult, type ShowBgpResult, type ShowRoutesResult, type StatusResult } from '../schema/control-protocol.js';
import type { AppliedMessage } from '../schema/protocol.js';
import { formatRoutesTable } from './routes-format.js';
import { formatBgpTable } from './bgp-format.js';
import { AgentUnreachableError, sendControlRequest } from './control-client.js';
import { formatAgentError, formatLogLevel, formatPlan, formatReconcile, formatStatus } from './format.js';
import { formatJournalLine } from './journal-format.js';
import { checkDirectory, DEFAULT_AGENT_CONFIG, DEFAULT_REPORT_FILE, formatImportErrors, importDirectory } from './import-cloudstack.js';

/** vr6ctl's exit codes; docs/cli.md promises them to scripts. */
export const EXIT = {
  /** Done; for `status` the last reconcile succeeded, for `plan` there is nothing to change. */
  ok: 0,
  /** The agent refused or the command failed (invalid spec, no desired state, a failed reconcile). */
  failed: 1,
  /** Bad command line. */
  usage: 2,
  /** The agent could not be reached (not running, not root, no answer). */
  unreachable: 3,
  /** Answered, but not converged: `status` after a failed or unconverged reconcile or with a stalled loop, `plan` with changes pending, `reconcile` that gave up with the host still differing. */
  notConverged: 4,
} as const;

/** Where vr6ctl reads and writes; the real process or a test's capture. */
export interface CliIo {
  write(text: string): void;
  writeError(text: string): void;
  readStdin(): Promise<string>;
  readonly env: NodeJS.ProcessEnv;
  now(): number;
}

export const DEFAULT_SOCKET = '/run/vr6-agent/control.sock';
const DEFAULT_TIMEOUT_SECONDS = 60;

export const USAGE = `usage: vr6ctl [--socket PATH] [--json] [--timeout SECONDS] COMMAND
commands:
  status                          management link, generations, components, public address, problems
  show desired|applied|observed|config
                                  the agent's current data, as JSON
  show bgp                        each BGP peer's session, asked of bgpd now (--json: the report)
  show routes                     each routed prefix: its next hop, route in the kernel, neighbour state (--json: the report)
  plan [FILE|-]                   dry run: what a reconcile of the accepted (or the given) desired state would change
  reconcile                       reconcile now and report the result
  logs [-f] [-n LINES] [--since TIME]
                                  the agent's journal, pretty-printed (--json: raw JSON lines)
  import-cloudstack [--config FILE] DIR
                                  the desired state CloudStack's merged databags in DIR give (no agent needed);
                                  a redundant router's sync link comes from the agent config (default ${DEFAULT_AGENT_CONFIG})
  cloudstack-check [--report FILE] [--config FILE] DIR
                                  wait (--timeout) until the agent reports DIR's state applied; exit 1 if refused or failed
  log-level ${LOG_LEVELS.join('|')}
                                  change the log level until the agent restarts
exit codes: 0 ok, 1 failed, 2 usage, 3 agent unreachable, 4 not converged (status, plan, reconcile)
`;

class UsageError extends Error {}

interface CliOptions {
  readonly socket: string;
  readonly isJson: boolean;
  readonly timeoutMs: number;
  readonly follow: boolean;
  readonly lines: string | undefined;
  readonly since: string | undefined;
  readonly unit: string;
  readonly reportFile: string;
  readonly agentConfig: string;
}

/** Runs vr6ctl with `argv` (without node and the script); resolves with the exit code. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  let parsed: ReturnType<typeof parseCliArgs>;
  try {
    parsed = parseCliArgs(argv, io.env);
  } catch (error) {
    io.writeError(`vr6ctl: ${(error as Error).message}\n${USAGE}`);
    return EXIT.usage;
  }
  if (parsed === 'help') {
    io.write(USAGE);
    return EXIT.ok;
  }
  const { command, args, options } = parsed;
  if (command === 'logs') return runLogs(options, io);
  if (command === 'import-cloudstack') return runImportCloudStack(args, options, io);
  if (command === 'cloudstack-check') return runCloudStackCheck(args, options, io);
  try {
    const request = await buildRequest(command, args, io);
    const response = await sendControlRequest(options.socket, request, options.timeoutMs);
    return printResponse(request, response, options, io);
  } catch (error) {
    if (error instanceof UsageError) {
      io.writeError(`vr6ctl: ${error.message}\n`);
      return EXIT.usage;
    }
    if (error instanceof AgentUnreachableError) {
      io.writeError(`vr6ctl: ${error.message}\n`);
      return EXIT.unreachable;
    }
    throw error;
  }
}

/** Splits the command line; throws on a bad one. */
export function parseCliArgs(argv: readonly string[], env: NodeJS.ProcessEnv = {}): 'help' | { command: string; args: string[]; options: CliOptions } {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      socket: { type: 'string' },
      json: { type: 'boolean' },
      timeout: { type: 'string' },
      follow: { type: 'boolean', short: 'f' },
      lines: { type: 'string', short: 'n' },
      since: { type: 'string' },
      unit: { type: 'string' },
      report: { type: 'string' },
      config: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [command, ...args] = positionals;
  if (values.help === true || command === 'help') return 'help';
  if (command === undefined) throw new Error('no command given');
  const timeoutSeconds = values.timeout === undefined ? DEFAULT_TIMEOUT_SECONDS : Number(values.timeout);
  if (!(timeoutSeconds > 0)) throw new Error('--timeout must be a positive number of seconds');
  if (values.lines !== undefined && !/^\d+$/.test(values.lines)) throw new Error('--lines must be a whole number');
  return {
    command,
    args,
    options: {
      socket: values.socket ?? env.VR6CTL_SOCKET ?? DEFAULT_SOCKET,
      isJson: values.json === true,
      timeoutMs: timeoutSeconds * 1000,
      follow: values.follow === true,
      lines: values.lines,
      since: values.since,
      unit: values.unit ?? 'vr6-agent',
      reportFile: values.report ?? DEFAULT_REPORT_FILE,
      agentConfig: values.config ?? DEFAULT_AGENT_CONFIG,
    },
  };
}

async function buildRequest(command: string, args: readonly string[], io: CliIo): Promise<ControlRequest> {
  const expectArgs = (max: number) => {
    if (args.length > max) throw new UsageError(`${command}: unexpected argument ${args[max]}`);
  };
  switch (command) {
    case 'status':
    case 'reconcile':
      expectArgs(0);
      return { command };
    case 'show': {
      expectArgs(1);
      const topic = SHOW_TOPICS.find((t) => t === args[0]);
      if (topic === undefined) throw new UsageError(`show: expected one of ${SHOW_TOPICS.join(', ')}`);
      return { command, topic };
    }
    case 'plan': {
      expectArgs(1);
      const file = args[0];
      if (file === undefined) return { command };
      const text = file === '-' ? await io.readStdin() : await readFile(file, 'utf8').catch((error: Error) => {
        throw new UsageError(`plan: cannot read ${file}: ${error.message}`);
      });
      try {
        return { command, spec: JSON.parse(text) as unknown };
      } catch (error) {
        throw new UsageError(`plan: ${file} is not JSON: ${(error as Error).message}`);
      }
    }
    case 'log-level': {
      expectArgs(1);
      const level = LogLevel.safeParse(args[0]);
      if (!level.success) throw new UsageError(`log-level: expected one of ${LOG_LEVELS.join(', ')}`);
      return { command, level: level.data };
    }
    default:
      throw new UsageError(`unknown command ${command}; try vr6ctl --help`);
  }
}

function printResponse(request: ControlRequest, response: ControlResponse, options: CliOptions, io: CliIo): number {
  if (!response.ok) {
    if (options.isJson) io.write(`${JSON.stringify(response.error, null, 2)}\n`);
    else io.writeError(formatAgentError(response.error.message, response.error.errors));
    return response.error.code === 'bad-request' ? EXIT.usage : EXIT.failed;
  }
  const result = response.result;
  const code = exitCodeOf(request, result);
  if (options.isJson || (request.command === 'show' && request.topic !== 'bgp' && request.topic !== 'routes')) {
    io.write(`${JSON.stringify(result, null, 2)}\n`);
    return code;
  }
  if (request.command === 'show' && request.topic === 'routes') io.write(formatRoutesTable(result as ShowRoutesResult));
  else if (request.command === 'show') io.write(formatBgpTable(result as ShowBgpResult, io.now()));
  else if (request.command === 'status') io.write(formatStatus(result as StatusResult, io.now()));
  else if (request.command === 'plan') io.write(formatPlan(result as PlanResult));
  else if (request.command === 'reconcile') io.write(formatReconcile(result as AppliedMessage));
  else io.write(formatLogLevel(result as { previous: string; level: string }));
  return code;
}

/** The exit code a successful answer means; the same with and without --json. */
export function exitCodeOf(request: ControlRequest, result: unknown): number {
  if (request.command === 'status') {
    const status = result as StatusResult;
    return status.applied?.ok === false || !status.loop.isHealthy ? EXIT.notConverged : EXIT.ok;
  }
  if (request.command === 'plan') return (result as PlanResult).steps.length > 0 ? EXIT.notConverged : EXIT.ok;
  if (request.command === 'reconcile') {
    const report = result as AppliedMessage;
    return report.ok ? EXIT.ok : report.remaining.length > 0 ? EXIT.notConverged : EXIT.failed;
  }
  return EXIT.ok;
}

/** `logs`: journalctl's output for the unit, each JSON line pretty-printed unless --json. */
function runLogs(options: CliOptions, io: CliIo): Promise<number> {
  const argv = ['-u', options.unit, '-o', 'cat', '--no-pager'];
  if (options.follow) argv.push('-f');
  if (options.lines !== undefined) argv.push('-n', options.lines);
  if (options.since !== undefined) argv.push('--since', options.since);
  return new Promise((resolve) => {
    const child = spawn('journalctl', argv, { stdio: ['ignore', 'pipe', 'pipe'], env: io.env });
    createInterface({ input: child.stdout }).on('line', (line) => io.write(`${options.isJson ? line : formatJournalLine(line)}\n`));
    child.stderr.on('data', (chunk: Buffer) => io.writeError(chunk.toString()));
    child.on('error', (error) => {
      io.writeError(`vr6ctl: cannot run journalctl: ${error.message}\n`);
      resolve(EXIT.failed);
    });
    child.on('close', (code) => resolve(code === 0 ? EXIT.ok : EXIT.failed));
  });
}

// Local: reads the databags itself, so it works with the agent stopped and on a copy of /etc/cloudstack.
async function runImportCloudStack(args: readonly string[], options: CliOptions, io: CliIo): Promise<number> {
  if (args.length !== 1) {
    io.writeError(`vr6ctl: import-cloudstack takes one directory\n${USAGE}`);
    return EXIT.usage;
  }
  const result = await importDirectory(args[0]!, options.agentConfig);
  if (!result.ok) {
    io.writeError(formatImportErrors(result.errors));
    return EXIT.failed;
  }
  io.write(`${JSON.stringify(result.value.spec, null, 2)}\n`);
  return EXIT.ok;
}

async function runCloudStackCheck(args: readonly string[], options: CliOptions, io: CliIo): Promise<number> {
  if (args.length !== 1) {
    io.writeError(`vr6ctl: cloudstack-check takes one directory\n${USAGE}`);
    return EXIT.usage;
  }
  const verdict = await checkDirectory(args[0]!, options.reportFile, options.agentConfig, options.timeoutMs, io.now);
  if (verdict.isOk) return EXIT.ok;
  io.writeError(`vr6ctl: ${verdict.message}\n`);
  return EXIT.failed;
}
