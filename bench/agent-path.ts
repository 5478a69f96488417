import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { SystemHost } from '../src/host/system-host.js';
import { Reconciler, type ReconcileResult } from '../src/reconcile/reconciler.js';
import { AgentConfig } from '../src/schema/agent-config.js';
import type { DesiredState } from '../src/schema/desired-state.js';
import { parseDesiredState } from '../src/schema/desired-state-parser.js';
import { readNetNamespace } from './nft-process.js';
import { readShippedNodeFlags } from './shipped-node-flags.js';
import { changeOneItem, generateVpcPolicy } from './policy.js';
import { median } from './stats.js';

/**
 * The agent's own path, end to end, for the issue 3 targets: the Reconciler
 * with the real nft on the 50-tier, 10,000-item policy, in a throwaway network
 * namespace. The interfaces of the policy do not exist there, so the
 * reconcile does the firewall (and forwarding) and waits for the rest; radvd
 * is stood in for, since 50 missing interfaces are no place to start one.
 * Every nft process runs under GNU time, which records its peak RSS.
 */

const RUNS = Number(process.env.BENCH_AGENT_RUNS ?? 5);
const LAUNCHER_ENV = 'VR6_BENCH_AGENT_LAUNCHER_NETNS';

class BenchHost extends SystemHost {
  constructor(private readonly radvdConfig: string, private readonly pidFile: string) {
    super();
  }
  override async exec(argv: readonly string[], options?: { input?: string; timeoutMs?: number }) {
    if (argv[0] !== 'radvd') return super.exec(argv, options);
    if (!argv.includes('-c')) writeFileSync(this.pidFile, `${process.pid}\n`);
    return { stdout: '', stderr: '', exitCode: 0 };
  }
  override async readCommandLine(pid: number) {
    return pid === process.pid ? ['radvd', '-C', this.radvdConfig] : super.readCommandLine(pid);
  }
  override signal(pid: number, signal: NodeJS.Signals) {
    return pid === process.pid ? true : super.signal(pid, signal);
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

// As the agent parses a push: only ACL lists it has not accepted before are validated again.
function parseState(input: unknown): DesiredState {
  const parsed = parseDesiredState(input);
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

async function main(): Promise<void> {
  const work = mkdtempSync('/run/vr6-bench-agent-');
  try {
    const timeLog = join(work, 'nft-rss.log');
    const nftWrapper = join(work, 'nft');
    writeFileSync(nftWrapper, `#!/bin/sh\nexec /usr/bin/time -a -o ${timeLog} -f %M nft "$@"\n`);
    chmodSync(nftWrapper, 0o755);
    const config = AgentConfig.parse({
      paths: { stateDir: join(work, 'state'), runtimeDir: work, interfacesFile: join(work, 'interfaces'), radvdConfig: join(work, 'radvd.conf'), radvdPidFile: join(work, 'radvd.pid') },
      commands: { nft: nftWrapper, nftGenid: join(process.cwd(), 'dist/vr6-nft-genid') },
    });
    const host = new BenchHost(config.paths.radvdConfig, config.paths.radvdPidFile);
    const reconciler = new Reconciler(host, config, pino({ level: 'silent' }));
    await reconciler.load();
    const input = generateVpcPolicy();
    const rows: [string, number, number[]][] = [];
    const check = (result: ReconcileResult, what: string) => {
      if (!result.ok) throw new Error(`${what}: ${result.errors.join('; ')}`);
    };

    const full = await timed(async () => reconciler.reconcile(parseState(JSON.parse(JSON.stringify(input)))));
    check(full.value, 'full apply');
    rows.push(['full apply: parse + reconcile, empty namespace', full.ms, nftPeaksKb(timeLog)]);
    const state = parseState(input);
    const learn = await timed(() => reconciler.reconcile(state));
    rows.push(['first resync after it (lists the table once)', learn.ms, nftPeaksKb(timeLog)]);
    const resyncs: number[] = [];
    for (let i = 0; i < RUNS; i++) resyncs.push((await timed(() => reconciler.reconcile(state))).ms);
    rows.push([`resync, nothing changed (median of ${RUNS})`, median(resyncs), nftPeaksKb(timeLog)]);
    const changes: number[] = [];
    const parses: number[] = [];
    const changePeaks: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const changed = changeOneItem(input, 7 + i, 51);
      const parsed = await timed(async () => parseState(changed));
      const one = await timed(async () => reconciler.reconcile(parsed.value));
      check(one.value, 'one item');
      parses.push(parsed.ms);
      changes.push(parsed.ms + one.ms);
      changePeaks.push(...nftPeaksKb(timeLog));
      // The next resync lists the table once to learn the chain it wrote; measured above.
      await reconciler.reconcile(parsed.value);
      nftPeaksKb(timeLog);
    }
    rows.push([`one ACL item changed: parse + reconcile (median of ${RUNS})`, median(changes), changePeaks]);
    rows.push([`  of which parseDesiredState (median)`, median(parses), []]);
    const text = textBaselineMs(work);
    const agentPeakMb = process.resourceUsage().maxRSS / 1024;

    console.log(`agent path (Reconciler + real nft, Node ${process.version} ${process.execArgv.join(' ')}, ${RUNS} runs), netns ${readNetNamespace()}`);
    for (const [name, ms, peaks] of rows) {
      const peak = peaks.length > 0 ? `${(Math.max(...peaks) / 1024).toFixed(1)} MB` : 'no nft write';
      console.log(`  ${name.padEnd(58)} ${ms.toFixed(0).padStart(6)} ms   nft processes: ${peaks.length}, peak ${peak}`);
    }
    console.log(`  ${'raw nft -f of the same table as text (median)'.padEnd(58)} ${text.toFixed(0).padStart(6)} ms`);
    console.log(`  full apply / raw text: ${(full.ms / text).toFixed(2)}   (target <= 1.3)`);
    console.log(`  one item / full apply: ${((median(changes) / full.ms) * 100).toFixed(1)} %   (target <= 5 %)`);
    console.log(`  resync, nothing changed: ${median(resyncs).toFixed(0)} ms   (target <= 50 ms, no write)`);
    console.log(`  agent process peak RSS: ${agentPeakMb.toFixed(0)} MB   (target <= 64 MB)`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

if (process.env[LAUNCHER_ENV] === undefined) {
  // The measured process is the agent's: it runs with the package's Node flags.
  const child = spawn('unshare', ['--net', '--', process.execPath, ...readShippedNodeFlags(), ...process.argv.slice(1)], {
    stdio: 'inherit',
    env: { ...process.env, [LAUNCHER_ENV]: readNetNamespace() },
  });
  child.on('exit', (code) => process.exit(code ?? 1));
} else if (process.env[LAUNCHER_ENV] === readNetNamespace()) {
  throw new Error('refusing to run: still in the launcher network namespace');
} else {
  main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
