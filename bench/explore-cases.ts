import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createResult, deleteTable, loadJson, record, renderAgentDocumentText, renderGrouped, since, type BenchContext, type CaseResult } from './context.js';
import { groupDocument, renderShadowDocuments, shadowName, type Document, type GroupedDocument } from './documents.js';
import { runMeasuredAsync, runNft, type Measured } from './nft-process.js';
import { renderMergedDocument, type MergeSummary } from './set-merging.js';

/**
 * Ways to the memory target with the JSON API kept: shadow chains filled in
 * chunks with an atomic switch, and fewer rules through concatenated sets and
 * a vmap dispatch. Every variant is listed back after its last round.
 */

interface ListedTable {
  readonly chains: string[];
  readonly rules: number;
}

/** Chain names and rule count of the agent's table, from one `nft -j list table` (untimed). */
export function readTableShape(): ListedTable {
  const listing = JSON.parse(runNft(['-j', 'list', 'table', 'ip6', 'vr6_agent']).stdout) as { nftables: Record<string, { name?: string }>[] };
  const chains = listing.nftables.flatMap((item) => (item.chain?.name ? [item.chain.name] : []));
  return { chains, rules: listing.nftables.filter((item) => 'rule' in item).length };
}

/** One shadow-chain configuration's rows and what its listing showed. */
export interface ShadowResult {
  readonly rows: CaseResult[];
  readonly processesPerApply: number;
  readonly isVerified: boolean;
}

/**
 * A full apply as chunks into new, unreferenced chains, then one switch
 * transaction. `source` renders the full document for the state (the agent's
 * own, or the merged one). Rounds alternate the chain suffix a/b.
 */
export async function measureShadowChunks(context: BenchContext, label: string, chunkRules: number, source: () => GroupedDocument, concurrency = 1): Promise<ShadowResult> {
  deleteTable();
  const initial = source();
  loadJson(context, 'ruleset.json', { nftables: [{ add: { table: { family: 'ip6', name: 'vr6_agent' } } }, { delete: { table: { family: 'ip6', name: 'vr6_agent' } } }, ...documentOf(initial).nftables] });
  let suffix = '';
  const total = createResult(`${label}: shadow chains, chunks of ${chunkRules} rules${concurrency > 1 ? `, ${concurrency} nft at once` : ''}`, '');
  const switchRow = createResult('  of which the switch transaction', 'flush + refill input/forward with new jumps, delete old chains');
  let processesPerApply = 0;
  for (let round = 0; round < context.runs; round++) {
    const next = suffix === 'a' ? 'b' : 'a';
    const started = performance.now();
    const grouped = source();
    const { chunks, switchDocument } = renderShadowDocuments(grouped, suffix, next, chunkRules);
    const processes: Measured[] = concurrency > 1 ? await loadConcurrently(context, chunks, concurrency) : chunks.map((chunk, index) => loadJson(context, `chunk-${index}.json`, chunk));
    const switched = loadJson(context, 'switch.json', switchDocument);
    processes.push(switched);
    record(total, since(started), processes);
    record(switchRow, switched.wallMs, [switched]);
    processesPerApply = processes.length;
    suffix = next;
  }
  const shape = readTableShape();
  const expected = [...initial.chains.entries()].map(([name, chain]) => (chain.isBase ? name : shadowName(name, suffix)));
  const isVerified = shape.rules === initial.ruleCount && shape.chains.length === expected.length && expected.every((name) => shape.chains.includes(name));
  return { rows: [total, switchRow], processesPerApply, isVerified };
}

/**
 * Loads the chunks with up to `concurrency` nft processes at once. The first
 * chunk (it adds the table and counters) goes alone; the rest fill disjoint
 * chains. The kernel serialises the commits.
 */
async function loadConcurrently(context: BenchContext, chunks: readonly Document[], concurrency: number): Promise<Measured[]> {
  const paths = chunks.map((chunk, index) => {
    const path = join(context.dir, `chunk-${index}.json`);
    writeFileSync(path, JSON.stringify(chunk), { mode: 0o600 });
    return path;
  });
  const [first, ...rest] = paths;
  const done: Measured[] = first === undefined ? [] : [await runMeasuredAsync(['nft', '-j', '-f', first])];
  const queue = [...rest];
  const worker = async () => {
    for (let path = queue.shift(); path !== undefined; path = queue.shift()) done.push(await runMeasuredAsync(['nft', '-j', '-f', path]));
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return done;
}

/** Turns a grouped document back into a full replacement document (chains first, then rules). */
function documentOf(grouped: GroupedDocument): Document {
  const chains = [...grouped.chains.values()];
  return { nftables: [{ metainfo: { json_schema_version: 1 } }, { add: { table: { family: 'ip6', name: 'vr6_agent' } } }, ...grouped.objects, ...chains.map((c) => c.command), ...chains.flatMap((c) => c.rules)] };
}

/** The merged-set variants' rows and summaries. */
export interface MergedResult {
  readonly rows: CaseResult[];
  readonly summaries: { label: string; summary: MergeSummary; isVerified: boolean; sampleRule: string }[];
  readonly groupedMerged: () => GroupedDocument;
}

/**
 * Full loads of the merged renderings, end to end (render + merge + write +
 * `nft -j -f`), and `nft -j list table` of the result (a resync's cost).
 */
export function measureMergedSets(context: BenchContext): MergedResult {
  const variants = [{ label: 'concatenated sets + vmap dispatch', isVmap: true }];
  const rows: CaseResult[] = [];
  const summaries: MergedResult['summaries'] = [];
  for (const { label, isVmap } of variants) {
    deleteTable();
    const load = createResult(`${label}: full apply`, '');
    const list = createResult(`${label}: \`nft -j list table\``, 'the resync read of this variant');
    let summary: MergeSummary | null = null;
    for (let round = 0; round < context.runs; round++) {
      const started = performance.now();
      const merged = renderMergedDocument(context.state, renderGrouped(context.state), isVmap);
      const text = JSON.stringify(merged.document);
      const rendered = since(started);
      const nft = loadJson(context, 'merged.json', text);
      record(load, rendered + nft.wallMs, [nft]);
      summary = merged.summary;
      const listed = runNft(['-j', 'list', 'table', 'ip6', 'vr6_agent']);
      record(list, listed.wallMs, [listed]);
    }
    if (summary === null) throw new Error('no rounds');
    const shape = readTableShape();
    const sampleRule = runNft(['list', 'chain', 'ip6', 'vr6_agent', 'ingress_t1']).stdout.split('\n').find((line) => line.includes(' . ')) ?? '';
    summaries.push({ label, summary, isVerified: shape.rules === summary.rules, sampleRule: sampleRule.trim() });
    rows.push(load, list);
  }
  return { rows, summaries, groupedMerged: () => groupDocument(renderMergedDocument(context.state, renderGrouped(context.state), true).document) };
}

/** Reloads the agent's own document (untimed), so the next case starts from the product's table. */
export function restoreAgentTable(context: BenchContext): void {
  deleteTable();
  loadJson(context, 'ruleset.json', renderAgentDocumentText(context.state));
}
