import type { AgentMemoryReport } from './agent-memory.js';
import type { ChainUpdateResults, CloudStackResults, FullApplyResults } from './apply-cases.js';
import type { CaseResult } from './context.js';
import type { ShadowResult } from './explore-cases.js';
import type { MonitorResults, ResyncResults } from './resync-cases.js';
import type { MergeSummary } from './set-merging.js';
import { formatMs, formatNumber, formatRss, formatTable, median } from './stats.js';

/** Everything one run of the benchmark measured. */
export interface BenchReport {
  readonly options: { readonly runs: number };
  readonly machine: Record<string, string>;
  readonly policy: { tiers: number; items: number; rules: number; chains: number; documentBytes: number; textBytes: number; parseMs: number };
  readonly wrapper: { bareMs: number; wrappedMs: number };
  readonly isMemoryMeasured: boolean;
  readonly full: FullApplyResults;
  readonly cloudStack: CloudStackResults;
  readonly update: ChainUpdateResults;
  readonly check: { rows: CaseResult[]; isUnchangedAfterFailure: boolean; failureMessage: string };
  readonly resync: ResyncResults;
  readonly monitor: MonitorResults;
  readonly shadow: ShadowResult[];
  readonly merged: { rows: CaseResult[]; summaries: { label: string; summary: MergeSummary; isVerified: boolean; sampleRule: string }[] };
  readonly agentMemory: AgentMemoryReport[];
  readonly bareNodeKb: number;
}

const HEADER = ['case', 'wall: median (min–max)', 'peak RSS, largest nft', 'how'];

function rows(results: readonly CaseResult[]): string[][] {
  return results.map((r) => [r.name, formatMs(r.sample.wallMs), formatRss(r.sample.maxRssKb), r.note]);
}

function ratio(a: readonly number[], b: readonly number[]): string {
  return (median(a) / median(b)).toFixed(2);
}

function mb(kb: number | null): string {
  return kb === null ? 'n/a' : `${(kb / 1024).toFixed(1)} MB`;
}

function section(title: string, body: string): void {
  process.stdout.write(`\n## ${title}\n\n${body}\n`);
}

/** Prints the figures, how they were measured, and the performance targets next to them. */
export function printReport(report: BenchReport): void {
  const { full, cloudStack, update, resync, monitor, policy } = report;
  const agentFull = full.rows[1]?.sample.wallMs ?? [];
  process.stdout.write(
    [
      '# vr6-agent firewall benchmark',
      '',
      `machine: ${Object.entries(report.machine).map(([k, v]) => `${k} ${v}`).join('; ')}`,
      `policy: ${policy.tiers} tiers, ${policy.items} ACL items → ${policy.chains} chains, ${policy.rules} rules; JSON document ${(policy.documentBytes / 1e6).toFixed(2)} MB, text ${(policy.textBytes / 1e6).toFixed(2)} MB; DesiredState.parse (zod) ${formatNumber(policy.parseMs)} ms (not in any row below)`,
      `method: every case in one run, inside a private network namespace (unshare --net); median of ${report.options.runs} runs with min–max;`,
      `  wall = Node's clock from spawn to exit of each process (plus the agent's render/write where a row says so), including the GNU time wrapper (${formatNumber(report.wrapper.wrappedMs - report.wrapper.bareMs)} ms per process: ${formatNumber(report.wrapper.wrappedMs)} ms vs ${formatNumber(report.wrapper.bareMs)} ms for \`true\`);`,
      `  peak RSS = largest VmHWM (GNU time %M) of any nft process of the case, over all runs${report.isMemoryMeasured ? '' : ' (NOT MEASURED: /usr/bin/time missing)'}.`,
    ].join('\n') + '\n',
  );
  section(
    'Full apply',
    `${formatTable(HEADER, rows(full.rows))}\n\nagent ÷ text (replace): ${ratio(agentFull, full.textReplaceMs)}  (target ≤ 1.3)\n` +
      `agent ÷ text (empty namespace): ${ratio(full.rows[3]?.sample.wallMs ?? [], full.rows[2]?.sample.wallMs ?? [])}\n` +
      `render + serialise + write inside the agent rows: ${formatMs(full.renderMs)}`,
  );
  section(
    'The CloudStack way',
    `${formatTable(HEADER, rows([cloudStack.row]))}\n\ntable + counters + chains: ${formatNumber(cloudStack.fixedMs)} ms; ${cloudStack.ruleCount} rules; ${cloudStack.sampled} rule processes measured\n` +
      `CloudStack ÷ text: ${(cloudStack.estimatedMs / median(full.textReplaceMs)).toFixed(1)}; CloudStack ÷ agent full apply: ${(cloudStack.estimatedMs / median(agentFull)).toFixed(1)}`,
  );
  section(
    'One ACL item changed',
    `${formatTable(HEADER, rows(update.rows))}\n\nchains changed: ${update.changedChains.join(', ')}\n` +
      `agent update ÷ agent full apply: ${(100 * median(update.rows[0]?.sample.wallMs ?? []) / median(agentFull)).toFixed(1)} %  (target ≤ 5 %); nft part alone: ${(100 * median(update.rows[1]?.sample.wallMs ?? []) / median(agentFull)).toFixed(1)} %\n` +
      `memoised render: ${(100 * median(update.rows[3]?.sample.wallMs ?? []) / median(agentFull)).toFixed(1)} % of the full apply; it built the same update document as the full render: ${update.isMemoSame ? 'yes' : 'NO'}\n` +
      `an untouched chain kept its rule handles (so its counters): ${update.isUntouchedChainKept ? 'yes' : 'NO'}`,
  );
  const perChain = resync.rows.find((r) => r.name.startsWith('`nft -j list chain`'));
  const genid = resync.genid;
  section(
    'Resync with nothing changed (no write)',
    `${formatTable(HEADER, rows(resync.rows))}\n\nevery chain one by one: ${resync.chainCount} × ${formatNumber(median(perChain?.sample.wallMs ?? []))} ms ≈ ${formatNumber(resync.chainCount * median(perChain?.sample.wallMs ?? []))} ms\n` +
      (genid === null
        ? 'generation id: no helper could run (needs gcc or python3)'
        : `generation id (${genid.helper}): unchanged across all the reads above (the counter resets included): ${genid.isStableWithoutWrite ? 'yes' : 'NO'}; one \`nft add table\` moved it by ${genid.stepsPerWrite}`) +
      `\n\nnft monitor (one long-running process): peak RSS ${mb(monitor.peakRssKb)} with the table loaded; an outside \`nft flush chain\` printed ${monitor.linesForExternalFlush} lines, ending "${monitor.generationLine}";` +
      ` a per-chain update printed ${monitor.linesForChainUpdate} lines, a full apply ${monitor.linesForFullApply} lines (that full apply took ${formatNumber(monitor.fullApplyMs)} ms with the monitor running)`,
  );
  section(
    'nft -c, and a failing batch',
    `${formatTable(HEADER, rows(report.check.rows))}\n\nthe failing batch exited non-zero and left the table (rules, handles, counters) exactly as it was: ${report.check.isUnchangedAfterFailure ? 'yes' : 'NO'}\nnft said: ${report.check.failureMessage}`,
  );
  section(
    'Shadow chains: chunked loads, then one atomic switch',
    `${formatTable(HEADER, rows(report.shadow.flatMap((s) => s.rows)))}\n\n` +
      report.shadow.map((s) => `${s.rows[0]?.name}: ${s.processesPerApply} nft processes per apply; listed back with the right chains and rule count: ${s.isVerified ? 'yes' : 'NO'}`).join('\n'),
  );
  section(
    'Concatenated sets and vmap dispatch',
    `${formatTable(HEADER, rows(report.merged.rows))}\n\n` +
      report.merged.summaries
        .map((s) => `${s.label}: ${s.summary.rules} rules (agent: ${policy.rules}), ${s.summary.mergedItems} items merged into ${s.summary.setElements} set elements, ${s.summary.anonymousSets} anonymous sets in all; listed back with that rule count: ${s.isVerified ? 'yes' : 'NO'}\n  e.g. ${s.sampleRule.slice(0, 220)}`)
        .join('\n'),
  );
  section(
    'Agent process memory (fresh Node child: JSON.parse → parseDesiredState → renderHost → plan a missing table → serialise and write each stage)',
    `a bare \`node -e\` peaks at ${mb(report.bareNodeKb)}\n\n` +
    formatTable(
      ['child bundle', 'start', 'after JSON.parse', 'after zod parse', 'after render+write', 'peak (VmHWM)', 'zod parse', 'render+write'],
      report.agentMemory.map((m) => [m.label, mb(m.startRssKb), mb(m.afterJsonRssKb), mb(m.afterParseRssKb), mb(m.afterRenderRssKb), mb(m.peakRssKb), `${formatNumber(m.parseMs)} ms`, `${formatNumber(m.renderMs)} ms`]),
    ),
  );
  printTargets(report);
}

function maxRss(results: readonly (CaseResult | undefined)[]): number {
  return Math.max(...results.flatMap((r) => r?.sample.maxRssKb ?? []));
}

/** The issue's targets next to what this run measured; "met" is this run's medians, not a promise. */
function printTargets(report: BenchReport): void {
  const { full, update, resync, shadow, agentMemory } = report;
  const agentFull = median(full.rows[1]?.sample.wallMs ?? []);
  const fullRatio = agentFull / median(full.textReplaceMs);
  const percent = (row: CaseResult | undefined) => (100 * median(row?.sample.wallMs ?? [])) / agentFull;
  const wholeTable = resync.rows[0];
  const genid = resync.rows.find((r) => r.name.startsWith('generation id'));
  const chunked = shadow.filter((s) => /chunks of (1000|2000) rules$/.test(s.rows[0]?.name ?? ''));
  const yes = (isMet: boolean) => (isMet ? 'met' : 'NOT met');
  const lines = [
    ['full apply ÷ raw text `nft -f`', '≤ 1.3', `${fullRatio.toFixed(2)} (one JSON transaction)`, yes(fullRatio <= 1.3)],
    ['CloudStack way ÷ raw text', 'print', `${(report.cloudStack.estimatedMs / median(full.textReplaceMs)).toFixed(0)}×`, ''],
    ['one item changed ÷ full apply', '≤ 5 %', `${percent(update.rows[0]).toFixed(1)} % (render all); ${percent(update.rows[3]).toFixed(1)} % (per-list cache); nft alone ${percent(update.rows[1]).toFixed(1)} %`, yes(percent(update.rows[3]) <= 5)],
    ['untouched chains keep counters', 'yes', update.isUntouchedChainKept ? 'yes (same rule handles)' : 'no', yes(update.isUntouchedChainKept)],
    ['resync, nothing changed, no write', '≤ 50 ms', `${formatNumber(median(wholeTable?.sample.wallMs ?? []))} ms (whole table, JSON); ${genid ? `${formatNumber(median(genid.sample.wallMs))} ms (generation id)` : 'no generation-id helper'}`, yes(genid !== undefined && median(genid.sample.wallMs) <= 50)],
    ['peak RSS of each nft', '≤ 64 MB', `one-shot JSON ${mb(maxRss([full.rows[1]]))}; shadow chunks ≤ 2000 rules ${mb(maxRss(chunked.flatMap((s) => s.rows)))}; per-chain update ${mb(maxRss([update.rows[0]]))}; JSON list table ${mb(maxRss([wholeTable]))}`, yes(maxRss(chunked.flatMap((s) => s.rows)) <= 65536)],
    ['peak RSS of the agent process', '≤ 64 MB', `${agentMemory.map((m) => `${mb(m.peakRssKb)} (${m.label})`).join('; ')}; bare node ${mb(report.bareNodeKb)}`, yes(Math.min(...agentMemory.map((m) => m.peakRssKb)) <= 65536)],
  ];
  section('Targets (this run)', formatTable(['case', 'target', 'measured (medians)', ''], lines));
}
