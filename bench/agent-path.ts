import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import type { AskOptions } from '../src/host/host.js';
import { SystemHost } from '../src/host/system-host.js';
import { Reconciler, type ReconcileResult } from '../src/reconcile/reconciler.js';
import { AgentConfig } from '../src/schema/agent-config.js';
import type { DesiredState } from '../src/schema/desired-state.js';
import { parseDesiredState } from '../src/schema/desired-state-parser.js';
import { parseServerFrame, REPEATED_ARRAYS } from '../src/transport/management-client.js';
import { RepeatingJsonParser } from '../src/transport/repeating-json.js';
import { readNetNamespace } from './nft-process.js';
import { readShippedNodeFlags } from '../test/lab/shipped-node-flags.js';
import { changeOneItem, generateVpcPolicy } from './policy.js';
import { median } from './stats.js';

/**
 * The agent's own path, end to end, against the performance targets: the Reconciler
 * with the real nft on the 50-tier, 10,000-item policy, in a throwaway network
 * namespace. The interfaces of the policy do not exist there, so the
 * reconcile does the firewall (and forwarding) and waits for the rest; radvd
 * is stood in for, since 50 missing interfaces are no place to start one.
 * Every nft process runs under GNU time, which records its peak RSS.
 */

const RUNS = Number(process.env.BENCH_AGENT_RUNS ?? 5);
const LAUNCHER_ENV = 'VR6_BENCH_AGENT_LAUNCHER_NAMESPACES';

class BenchHost extends SystemHost {
  /** When set, nft runs under GNU time, which appends its peak RSS here; the timed rounds run nft bare, as the agent does. */
  nftTimeLog: string | null = null;
  constructor(private readonly radvdConfig: string, private readonly pidFile: string) {
    super();
  }
  override async exec(argv: readonly string[], options?: { input?: string; timeoutMs?: number }) {
    if (argv[0] === 'nft' && this.nftTimeLog !== null) return super.exec(['/usr/bin/time', '-a', '-o', this.nftTimeLog, '-f', '%M', ...argv], options);
    if (argv[0] !== 'radvd') return traced(`exec ${argv.join(' ')}`, () => super.exec(argv, options));
    if (!argv.includes('-c')) writeFileSync(this.pidFile, `${process.pid}\n`);
    return { stdout: '', stderr: '', exitCode: 0 };
  }
  override ask(argv: readonly string[], requests: readonly string[], options?: AskOptions) {
    return traced(`ask ${argv[0]}`, () => super.ask(argv, requests, options));
  }
  override writeFileAtomic(path: string, content: string, mode?: number) {
    return traced(`write ${path} (${content.length} characters)`, () => super.writeFileAtomic(path, content, mode));
  }
  override async readCommandLine(pid: number) {
    return pid === process.pid ? ['radvd', '-C', this.radvdConfig] : super.readCommandLine(pid);
  }
  override signal(pid: number, signal: NodeJS.Signals) {
    return pid === process.pid ? true : super.signal(pid, signal);
  }
}

// VR6_BENCH_TRACE=1 prints each command, question and write of the agent with its duration (timed rounds only).
const TRACE_STARTED = performance.now();
async function traced<T>(what: string, body: () => Promise<T>): Promise<T> {
  if (process.env.VR6_BENCH_TRACE === undefined) return body();
  const started = performance.now();
  try {
    return await body();
  } finally {
    const at = (started - TRACE_STARTED).toFixed(0);
    console.log(`trace at ${at.padStart(6)} ms: ${(performance.now() - started).toFixed(1).padStart(6)} ms ${what.slice(0, 100)}`);
  }
}

function nftPeaksKb(log: string): number[] {
  const text = (() => {
    try {
      return readFileSync(log, 'utf8');
    } catch {
      return '';
    }
  })();
  writeFileSync(log, '');
  return text.split('\n').map(Number).filter((n) => n > 0);
}

// As the daemon parses a push: the frame's bytes with the transport's parser (lists a frame repeats are
// not parsed again), then the spec, keyed by the frame's texts, where only ACL lists not accepted before
// are validated again.
const frameParser = new RepeatingJsonParser(REPEATED_ARRAYS);
let generation = 0;
const frameOf = (spec: unknown) => Buffer.from(JSON.stringify({ type: 'desired', generation: ++generation, spec }));
function parseState(frame: Buffer): DesiredState {
  const message = parseServerFrame(frame, false, frameParser);
  if (!message.ok || message.value.type !== 'desired') throw new Error(`frame refused: ${JSON.stringify(message)}`);
  const parsed = parseDesiredState(message.value.spec, '$.spec', { sourceOf: message.sourceOf });
  if (!parsed.ok) throw new Error(`policy refused: ${JSON.stringify(parsed.errors.slice(0, 3))}`);
  return parsed.value;
}

async function timed<T>(body: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const started = performance.now();
  const value = await body();
  return { ms: performance.now() - started, value };
}

function textBaselineMs(work: string): number {
  const text = spawnSync('nft', ['list', 'table', 'ip6', 'vr6_agent'], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 }).stdout;
  const path = join(work, 'baseline.nft');
  writeFileSync(path, `table ip6 vr6_agent\ndelete table ip6 vr6_agent\n${text}`);
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const started = performance.now();
    const result = spawnSync('nft', ['-f', path], { encoding: 'utf8' });
    if (result.status !== 0) throw new Error(`text baseline failed: ${result.stderr}`);
    times.push(performance.now() - started);
  }
  return median(times);
}

interface Figures {
  readonly full: number;
  readonly learn: number;
  readonly resync: number;
  readonly change: number;
  readonly parse: number;
  readonly learnChain: number;
}

/**
 * What the bench asks of the agent, in order. With a `timeLog`, every nft
 * process runs under GNU time and `peaks` is called after each case.
 */
async function runCases(dirs: { runtime: string; state: string }, input: Record<string, unknown>, timeLog: string | null, peaks: (label: keyof Figures) => void): Promise<Figures> {
  const work = dirs.runtime;
  const config = AgentConfig.parse({
    paths: { stateDir: dirs.state, runtimeDir: work, interfacesFile: join(work, 'interfaces'), radvdConfig: join(work, 'radvd.conf'), radvdPidFile: join(work, 'radvd.pid') },
    commands: { nftGenid: join(process.cwd(), 'dist/vr6-nft-genid') },
  });
  const host = new BenchHost(config.paths.radvdConfig, config.paths.radvdPidFile);
  host.nftTimeLog = timeLog;
  const reconciler = new Reconciler(host, config, pino({ level: 'silent' }));
  await reconciler.load();
  const check = (result: ReconcileResult, what: string) => {
    if (!result.ok) throw new Error(`${what}: ${result.errors.join('; ')}`);
  };
  // Both timed pushes start from the frame's bytes, as the daemon receives them.
  const fullFrame = frameOf(input);
  const full = await timed(async () => reconciler.reconcile(await traced('parse the full frame', async () => parseState(fullFrame))));
  check(full.value, 'full apply');
  peaks('full');
  const state = parseState(fullFrame);
  const learn = await timed(() => reconciler.reconcile(state));
  peaks('learn');
  const resyncs: number[] = [];
  for (let i = 0; i < RUNS; i++) resyncs.push((await timed(() => reconciler.reconcile(state))).ms);
  peaks('resync');
  const changes: number[] = [];
  const parses: number[] = [];
  const learnings: number[] = [];
  // Each round changes one item of the state loaded before it, so the push differs from the host by exactly one.
  let current = input;
  for (let i = 0; i < RUNS; i++) {
    const changed = changeOneItem(current, 7 + i, 51);
    current = changed;
    const frame = frameOf(changed);
    const parsed = await timed(async () => traced('parse a one-item frame', async () => parseState(frame)));
    const one = await timed(async () => traced('reconcile one item', () => reconciler.reconcile(parsed.value)));
    check(one.value, 'one item');
    parses.push(parsed.ms);
    changes.push(parsed.ms + one.ms);
    peaks('change');
    // The next resync lists the chain it wrote, alone, to learn how nft prints it.
    learnings.push((await timed(() => reconciler.reconcile(parsed.value))).ms);
    peaks('learnChain');
  }
  host.close();
  return { full: full.ms, learn: learn.ms, resync: median(resyncs), change: median(changes), parse: median(parses), learnChain: median(learnings) };
}

async function main(): Promise<void> {
  // As on a VR: the runtime directory is a tmpfs (this one private to the bench's mount namespace),
  // the state directory is on disk.
  const work = mkdtempSync('/run/vr6-bench-agent-');
  const stateRoot = mkdtempSync('/var/tmp/vr6-bench-agent-state-');
  const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=256m,mode=0700', 'vr6-bench', work], { encoding: 'utf8' });
  if (mounted.status !== 0) throw new Error(`cannot mount a tmpfs on ${work}: ${mounted.stderr}`);
  try {
    const input = generateVpcPolicy();
    // Timed: nft runs as the agent runs it.
    const figures = await runCases({ runtime: join(work, 'timed'), state: join(stateRoot, 'timed') }, input, null, () => undefined);
    const text = textBaselineMs(work);
    const agentPeakMb = process.resourceUsage().maxRSS / 1024;
    // Then the same cases again, from an empty table, with every nft process under GNU time for its peak RSS.
    spawnSync('nft', ['delete', 'table', 'ip6', 'vr6_agent']);
    const timeLog = join(work, 'nft-rss.log');
    const peaks = new Map<keyof Figures, number[]>();
    await runCases({ runtime: join(work, 'memory'), state: join(stateRoot, 'memory') }, input, timeLog, (label) => peaks.set(label, [...(peaks.get(label) ?? []), ...nftPeaksKb(timeLog)]));

    const rows: [string, number, keyof Figures][] = [
      ['full apply: parse + reconcile, empty namespace', figures.full, 'full'],
      ['first resync after it (lists the table once)', figures.learn, 'learn'],
      [`resync, nothing changed (median of ${RUNS})`, figures.resync, 'resync'],
      [`one ACL item changed: parse + reconcile (median of ${RUNS})`, figures.change, 'change'],
      [`resync after it: learns the rewritten chain (median of ${RUNS})`, figures.learnChain, 'learnChain'],
    ];
    console.log(`agent path (Reconciler + real nft, Node ${process.version} ${process.execArgv.join(' ')}, ${RUNS} runs), netns ${readNetNamespace()}`);
    for (const [name, ms, label] of rows) {
      const kb = peaks.get(label) ?? [];
      const peak = kb.length > 0 ? `${(Math.max(...kb) / 1024).toFixed(1)} MB` : 'no nft process';
      console.log(`  ${name.padEnd(58)} ${ms.toFixed(0).padStart(6)} ms   nft peak RSS: ${peak}`);
      if (label === 'change') console.log(`  ${'  of which parsing the frame and the spec (median)'.padEnd(58)} ${figures.parse.toFixed(0).padStart(6)} ms`);
    }
    console.log(`  ${'raw nft -f of the same table as text (median)'.padEnd(58)} ${text.toFixed(0).padStart(6)} ms`);
    console.log(`  full apply / raw text: ${(figures.full / text).toFixed(2)}   (target <= 1.3)`);
    console.log(`  one item / full apply: ${((figures.change / figures.full) * 100).toFixed(1)} %   (target <= 5 %)`);
    console.log(`  resync, nothing changed: ${figures.resync.toFixed(0)} ms   (target <= 50 ms, no write)`);
    console.log(`  agent process peak RSS: ${agentPeakMb.toFixed(0)} MB   (target <= 64 MB)`);
  } finally {
    spawnSync('umount', [work]);
    rmSync(work, { recursive: true, force: true });
    rmSync(stateRoot, { recursive: true, force: true });
  }
}

const namespaces = () => `${readNetNamespace()} ${readlinkSync('/proc/self/ns/mnt')}`;
if (process.env[LAUNCHER_ENV] === undefined) {
  // The measured process is the agent's: it runs with the package's Node flags, in a network and a
  // mount namespace of its own (its tmpfs and its table vanish with it).
  const child = spawn('unshare', ['--net', '--mount', '--propagation', 'private', '--', process.execPath, ...readShippedNodeFlags(), ...process.argv.slice(1)], {
    stdio: 'inherit',
    env: { ...process.env, [LAUNCHER_ENV]: namespaces() },
  });
  child.on('exit', (code) => process.exit(code ?? 1));
} else if (process.env[LAUNCHER_ENV].split(' ').some((namespace) => namespaces().split(' ').includes(namespace))) {
  throw new Error('refusing to run: still in a namespace of the launcher');
} else {
  main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
