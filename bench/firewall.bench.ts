import { spawn, spawnSync } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { DesiredState } from '../src/schema/desired-state.js';
import { measureAgentMemory, measureBareNodeKb, type AgentMemoryReport } from './agent-memory.js';
import { readShippedNodeFlags } from '../test/lab/shipped-node-flags.js';
import { measureChainUpdate, measureCheckAndFailure, measureCloudStack, measureFullApply } from './apply-cases.js';
import { renderAgentDocumentText, renderGrouped, type BenchContext, type CaseResult } from './context.js';
import { measureMergedSets, measureShadowChunks, restoreAgentTable, type ShadowResult } from './explore-cases.js';
import { calibrateWrapper, canMeasureMemory, readNetNamespace, runNft } from './nft-process.js';
import { BENCH_POLICY, changeOneItem, generateVpcPolicy } from './policy.js';
import { printReport, type BenchReport } from './report.js';
import { measureMonitor, measureResync, prepareGenidReaders } from './resync-cases.js';

/**
 * The firewall benchmark (bench/README.md). Run it with `make bench`.
 * It re-executes itself under `unshare --net`, so every nft command meets an
 * empty network namespace of its own that disappears with the process; the
 * host's ruleset is never read or written. Options: --runs N (default 5),
 * --cloudstack-sample N (default 150 per fill level), --cloudstack-full,
 * --json FILE (all figures as JSON).
 */

// Set by the launcher to its own namespace; the re-executed bench must be elsewhere.
const LAUNCHER_NETNS_ENV = 'VR6_BENCH_LAUNCHER_NETNS';

interface Options {
  readonly runs: number;
  readonly cloudStackSample: number;
  readonly isCloudStackFull: boolean;
  readonly jsonPath: string | null;
}

function parseOptions(argv: readonly string[]): Options {
  const value = (flag: string) => {
    const index = argv.indexOf(flag);
    return index >= 0 ? argv[index + 1] : undefined;
  };
  const runs = Number(value('--runs') ?? 5);
  const cloudStackSample = Number(value('--cloudstack-sample') ?? 150);
  if (!Number.isInteger(runs) || runs < 1 || !Number.isInteger(cloudStackSample) || cloudStackSample < 1) throw new Error('--runs and --cloudstack-sample take a positive whole number');
  return { runs, cloudStackSample, isCloudStackFull: argv.includes('--cloudstack-full'), jsonPath: value('--json') ?? null };
}

/** Runs this same script again inside a fresh network namespace and passes its exit status on. */
function reexecInNetNamespace(): Promise<number> {
  const child = spawn('unshare', ['--net', '--', process.execPath, ...process.execArgv, ...process.argv.slice(1)], {
    stdio: 'inherit',
    env: { ...process.env, [LAUNCHER_NETNS_ENV]: readNetNamespace() },
  });
  const forward = (signal: NodeJS.Signals) => {
    if (child.pid !== undefined) process.kill(child.pid, signal);
  };
  process.on('SIGINT', forward);
  process.on('SIGTERM', forward);
  return new Promise((resolve) => child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0))));
}

function makeTempDir(): string {
  for (const base of ['/run', tmpdir()]) {
    try {
      accessSync(base, constants.W_OK);
      return mkdtempSync(join(base, 'vr6-bench-'));
    } catch {
      // not writable here; try the next
    }
  }
  throw new Error('no writable temp dir');
}

function machineFacts(): Record<string, string> {
  const first = (argv: string[]) => spawnSync(argv[0] ?? 'true', argv.slice(1), { encoding: 'utf8' }).stdout.trim().split('\n')[0] ?? '';
  return {
    kernel: first(['uname', '-r']),
    nft: first(['nft', '--version']),
    node: process.version,
    cores: first(['nproc']),
    netns: readNetNamespace(),
  };
}

async function runBench(options: Options, bundlePath: string): Promise<BenchReport> {
  const dir = makeTempDir();
  try {
    const raw = generateVpcPolicy(BENCH_POLICY);
    const started = performance.now();
    const state = DesiredState.parse(raw);
    const parseMs = performance.now() - started;
    const changed = DesiredState.parse(changeOneItem(raw, 7, 50));
    const context: BenchContext = { dir, runs: options.runs, state, changed };
    const desiredPath = join(dir, 'desired.json');
    writeFileSync(desiredPath, JSON.stringify(raw));
    const grouped = renderGrouped(state);
    const documentBytes = renderAgentDocumentText(state).length;
    const begun = performance.now();
    const log = (what: string) => process.stderr.write(`bench: ${((performance.now() - begun) / 1000).toFixed(1)} s: ${what}\n`);
    log(`policy: ${state.guestNetworks.length} tiers, ${state.aclLists.reduce((n, l) => n + l.items.length, 0)} items, ${grouped.ruleCount} rules`);
    const wrapper = calibrateWrapper();
    log('full apply');
    const full = measureFullApply(context);
    log('CloudStack way');
    const cloudStack = measureCloudStack(context, full.textListing, options.cloudStackSample, options.isCloudStackFull);
    log('one item changed');
    const update = measureChainUpdate(context);
    log('nft -c and a failing batch');
    const check = measureCheckAndFailure(context);
    log('resync');
    restoreAgentTable(context);
    const resync = measureResync(context, prepareGenidReaders(join(dirname(bundlePath), '..', '..', 'bench')));
    log('nft monitor');
    const monitor = await measureMonitor(context);
    log('shadow chains');
    const shadow: ShadowResult[] = [];
    for (const size of [1000, 2000, 5000]) shadow.push(await measureShadowChunks(context, 'agent rules', size, () => renderGrouped(state)));
    shadow.push(await measureShadowChunks(context, 'agent rules', 2000, () => renderGrouped(state), 2));
    log('concatenated sets and vmap');
    const merged = measureMergedSets(context);
    shadow.push(await measureShadowChunks(context, 'sets + vmap', 2000, merged.groupedMerged));
    restoreAgentTable(context);
    log('agent memory');
    const children = dirname(bundlePath);
    const documentPath = join(dir, 'agent-child.json');
    const shippedFlags = readShippedNodeFlags();
    const agentMemory: AgentMemoryReport[] = [
      measureAgentMemory(`as the package ships (no source map, ${shippedFlags.join(' ')})`, join(children, 'agent-memory-child.cjs'), shippedFlags, desiredPath, documentPath),
      measureAgentMemory('no source map, no flags', join(children, 'agent-memory-child.cjs'), [], desiredPath, documentPath),
      measureAgentMemory('inline source map (as dist/ builds it), no flags', join(children, 'agent-memory-child-sourcemap.cjs'), [], desiredPath, documentPath),
    ];
    const bareNodeKb = measureBareNodeKb();
    return {
      options: { runs: options.runs },
      machine: machineFacts(),
      policy: { tiers: state.guestNetworks.length, items: state.aclLists.reduce((n, l) => n + l.items.length, 0), rules: grouped.ruleCount, chains: grouped.chains.size, documentBytes, textBytes: full.textListing.length, parseMs },
      wrapper,
      isMemoryMeasured: canMeasureMemory(),
      full,
      cloudStack,
      update,
      check,
      resync,
      monitor,
      shadow,
      merged: { rows: merged.rows, summaries: merged.summaries },
      agentMemory,
      bareNodeKb,
    };
  } finally {
    runNft(['delete', 'table', 'ip6', 'vr6_agent'], { allowFailure: true });
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  const bundlePath = process.argv[1] ?? '';
  if (process.getuid?.() !== 0) throw new Error('the benchmark needs root: it makes a network namespace and runs nft in it');
  const launcherNamespace = process.env[LAUNCHER_NETNS_ENV];
  if (launcherNamespace === undefined) return reexecInNetNamespace();
  // The guards that matter: never run nft in the host's namespace, and start from an empty ruleset.
  if (readNetNamespace() === launcherNamespace) throw new Error('not in a private network namespace; refusing to run nft');
  const tables = runNft(['list', 'tables']).stdout.trim();
  if (tables !== '') throw new Error(`the new namespace already has tables (${tables}); refusing to run`);
  const options = parseOptions(argv);
  const report = await runBench(options, bundlePath);
  printReport(report);
  if (options.jsonPath !== null) writeFileSync(options.jsonPath, `${JSON.stringify(report, null, 2)}\n`);
  return 0;
}

/** Kept for the report's type: every row has a name, a sample and a note. */
export type { CaseResult };

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`bench failed: ${error instanceof Error ? error.stack ?? error.message : String(error)}\n`);
    process.exit(1);
  },
);
