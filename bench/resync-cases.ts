import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createResult, loadJson, record, renderAgentDocumentText, renderGrouped, since, type BenchContext, type CaseResult } from './context.js';
import { diffChains, renderChainUpdate } from './documents.js';
import { runMeasured, runNft } from './nft-process.js';

/**
 * Resync with nothing changed: what each way of reading the table back costs,
 * and the generation id, the one cheap fact that proves "nothing changed".
 */

/** The resync rows, and what the generation-id checks showed. */
export interface ResyncResults {
  readonly rows: CaseResult[];
  readonly chainCount: number;
  readonly genid: { isStableWithoutWrite: boolean; stepsPerWrite: number | null; helper: string } | null;
}

/** A compiled or scripted generation-id reader; null when neither gcc nor python3 is there. */
export interface GenidReader {
  readonly label: string;
  readonly argv: readonly string[];
}

/** The product's helper (dist/vr6-nft-genid, which `make bench` builds), and python3's version to compare. */
export function prepareGenidReaders(benchDir: string): GenidReader[] {
  const readers: GenidReader[] = [];
  const binary = join(benchDir, '..', 'dist', 'vr6-nft-genid');
  if (spawnSync(binary, []).status === 0) readers.push({ label: 'generation id, vr6-nft-genid (NFT_MSG_GETGEN)', argv: [binary] });
  const python = ['/usr/bin/python3', 'python3'].find((candidate) => spawnSync(candidate, ['-c', '']).status === 0);
  if (python !== undefined) readers.push({ label: 'generation id, python3 helper', argv: [python, '-S', '-I', join(benchDir, 'nft-genid.py')] });
  return readers;
}

function readGenid(reader: GenidReader): number {
  return Number.parseInt(runMeasured(reader.argv).stdout.trim(), 10);
}

/** Measures each read-back of an unchanged, loaded table; none of them writes. */
export function measureResync(context: BenchContext, readers: readonly GenidReader[]): ResyncResults {
  loadJson(context, 'ruleset.json', renderAgentDocumentText(context.state));
  const chains = [...renderGrouped(context.state).chains.keys()];
  const probeChain = chains.find((name) => name.startsWith('ingress_')) ?? 'input';
  const node = createResult('  of which JSON.parse + hash in Node', '');
  const cases: { result: CaseResult; run: () => void }[] = [
    {
      result: createResult('`nft -j list table` + JSON.parse + hash', 'the whole table as JSON: today\'s readRulesetListing'),
      run() {
        const nft = runNft(['-j', 'list', 'table', 'ip6', 'vr6_agent']);
        const started = performance.now();
        createHash('sha256').update(JSON.stringify(JSON.parse(nft.stdout))).digest('hex');
        const parsed = since(started);
        record(node, parsed, []);
        record(this.result, nft.wallMs + parsed, [nft]);
      },
    },
    { result: createResult('`nft list table` (text) + hash', 'sound, same content'), run() { const nft = runNft(['list', 'table', 'ip6', 'vr6_agent']); createHash('sha256').update(nft.stdout).digest('hex'); record(this.result, nft.wallMs, [nft]); } },
    { result: createResult(`\`nft -j list chain\` (one chain, ${probeChain})`, `× ${chains.length} chains for the whole table`), run() { const nft = runNft(['-j', 'list', 'chain', 'ip6', 'vr6_agent', probeChain]); record(this.result, nft.wallMs, [nft]); } },
    { result: createResult('`nft -j list chains ip6`', 'chains, hooks, policies, handles; no rules'), run() { const nft = runNft(['-j', 'list', 'chains', 'ip6']); record(this.result, nft.wallMs, [nft]); } },
    { result: createResult('`nft -j list tables`', 'table names only, yet nft fetches more'), run() { const nft = runNft(['-j', 'list', 'tables']); record(this.result, nft.wallMs, [nft]); } },
    { result: createResult('`nft -j list counters table ip6 vr6_agent`', 'named counters (usage report)'), run() { const nft = runNft(['-j', 'list', 'counters', 'table', 'ip6', 'vr6_agent']); record(this.result, nft.wallMs, [nft]); } },
    { result: createResult('`nft -j reset counters table ip6 vr6_agent`', 'prints the values and zeroes them: usage as deltas'), run() { const nft = runNft(['-j', 'reset', 'counters', 'table', 'ip6', 'vr6_agent']); record(this.result, nft.wallMs, [nft]); } },
    ...readers.map((reader) => ({
      result: createResult(reader.label, 'equal to the id after our last write ⇒ no drift'),
      run(this: { result: CaseResult }) { const run = runMeasured(reader.argv); record(this.result, run.wallMs, [run]); },
    })),
  ];
  const before = readers[0] === undefined ? null : readGenid(readers[0]);
  for (let round = 0; round < context.runs; round++) {
    for (let i = 0; i < cases.length; i++) {
      const entry = cases[(round + i) % cases.length];
      entry?.run.call(entry);
    }
  }
  const rows = cases.map((entry) => entry.result);
  rows.splice(1, 0, node);
  const first = readers[0];
  if (first === undefined || before === null) return { rows, chainCount: chains.length, genid: null };
  const isStableWithoutWrite = readGenid(first) === before;
  runNft(['add', 'table', 'ip6', 'vr6_bench_probe']);
  const stepsPerWrite = readGenid(first) - before;
  runNft(['delete', 'table', 'ip6', 'vr6_bench_probe']);
  return { rows, chainCount: chains.length, genid: { isStableWithoutWrite, stepsPerWrite, helper: first.label } };
}

/** What a long-running `nft monitor` costs and shows. */
export interface MonitorResults {
  readonly peakRssKb: number | null;
  readonly linesForExternalFlush: number;
  readonly generationLine: string;
  readonly linesForChainUpdate: number;
  readonly linesForFullApply: number;
  readonly fullApplyMs: number;
}

function readHwmKb(pid: number): number | null {
  try {
    const match = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) : null;
  } catch {
    return null;
  }
}

// A poke is an outside transaction. Repeated too often it would starve the
// monitor's start: nft restarts its initial dump whenever the generation moves.
const POKE_INTERVAL_MS = 2000;

async function waitForText(path: string, text: string, poke: () => void, deadlineMs: number, isRepeated: boolean): Promise<boolean> {
  const deadline = Date.now() + deadlineMs;
  poke();
  let lastPoke = Date.now();
  while (Date.now() < deadline) {
    if (existsSync(path) && readFileSync(path, 'utf8').includes(text)) return true;
    await new Promise((resolve) => setTimeout(resolve, 50));
    if (isRepeated && Date.now() - lastPoke > POKE_INTERVAL_MS) {
      poke();
      lastPoke = Date.now();
    }
  }
  return false;
}

function pokeWith(tag: string): () => void {
  return () => {
    runNft(['add', 'table', 'ip6', tag]);
    runNft(['delete', 'table', 'ip6', tag]);
  };
}

/** Lines the monitor printed from line `mark` up to (not including) the first line naming `tag`. */
function linesUntil(path: string, mark: number, tag: string): string[] {
  const lines = readFileSync(path, 'utf8').split('\n').slice(mark);
  const end = lines.findIndex((line) => line.includes(tag));
  return end < 0 ? lines : lines.slice(0, end);
}

/**
 * `nft monitor` as an event source for drift: started once, it prints every
 * change with "# new generation N by process PID (comm)". Measured: its peak
 * memory with the 10k-rule table, what an outside `nft flush chain` looks
 * like, and how many lines the agent's own updates make it print.
 */
export async function measureMonitor(context: BenchContext): Promise<MonitorResults> {
  loadJson(context, 'ruleset.json', renderAgentDocumentText(context.state));
  const path = join(context.dir, 'monitor.txt');
  const out = openSync(path, 'w');
  // nft writes through stdio, block-buffered into a file; stdbuf makes it line-buffered.
  const child = spawn('stdbuf', ['-oL', 'nft', 'monitor'], { stdio: ['ignore', out, out] });
  closeSync(out);
  const pid = child.pid;
  if (pid === undefined) throw new Error('nft monitor did not start');
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  try {
    const count = () => readFileSync(path, 'utf8').split('\n').length - 1;
    if (!(await waitForText(path, 'vr6_bench_ready', pokeWith('vr6_bench_ready'), 30_000, true))) throw new Error('nft monitor printed nothing within 30 s');
    // Each step is followed by a marker transaction; the monitor has caught up when it prints the marker.
    const step = async (tag: string, action: () => void): Promise<string[]> => {
      const mark = count();
      action();
      if (!(await waitForText(path, tag, pokeWith(tag), 60_000, false))) throw new Error(`nft monitor did not print ${tag}`);
      return linesUntil(path, mark, tag);
    };
    const flushLines = await step('vr6_bench_m1', () => runNft(['flush', 'chain', 'ip6', 'vr6_agent', 'ingress_t3']));
    const grouped = renderGrouped(context.state);
    const update = JSON.stringify(renderChainUpdate(grouped, diffChains(grouped, renderGrouped(context.changed))));
    const updateLines = await step('vr6_bench_m2', () => loadJson(context, 'update.json', update));
    let fullApplyMs = Number.NaN;
    const fullLines = await step('vr6_bench_m3', () => {
      const started = performance.now();
      loadJson(context, 'ruleset.json', renderAgentDocumentText(context.state));
      fullApplyMs = since(started);
    });
    return {
      peakRssKb: readHwmKb(pid),
      linesForExternalFlush: flushLines.length,
      generationLine: flushLines.find((line) => line.startsWith('# new generation')) ?? '',
      linesForChainUpdate: updateLines.length,
      linesForFullApply: fullLines.length,
      fullApplyMs,
    };
  } finally {
    process.kill(pid, 'SIGTERM');
    await exited;
  }
}
