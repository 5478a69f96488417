import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  createResult,
  deleteTable,
  listTableText,
  loadJson,
  record,
  renderAgentDocumentText,
  renderGrouped,
  since,
  type BenchContext,
  type CaseResult,
} from './context.js';
import { diffChains, parseTextListing, renderChainUpdate, renderTextReplacement, type ListedChain } from './documents.js';
import { createAclRenderMemo, renderMemoisedAclUpdate } from './memo-render.js';
import { runNft, type Measured } from './nft-process.js';
import { median } from './stats.js';

/**
 * The full apply (text against the agent's JSON), the CloudStack way, and one
 * changed item. Each round runs every variant once, in a rotating order, so
 * that the machine's noise falls on all of them alike.
 */

/** The full-apply rows and what the other cases need from them. */
export interface FullApplyResults {
  readonly rows: CaseResult[];
  readonly textListing: string;
  readonly renderMs: number[];
  readonly agentReplaceMs: number[];
  readonly textReplaceMs: number[];
}

/** Loads the agent's document once (untimed), then measures the four full loads side by side. */
export function measureFullApply(context: BenchContext): FullApplyResults {
  deleteTable();
  loadJson(context, 'warmup.json', renderAgentDocumentText(context.state));
  const textListing = listTableText();
  const textPath = join(context.dir, 'ruleset.nft');
  writeFileSync(textPath, renderTextReplacement(textListing));
  const textReplace = createResult('text `nft -f` (replace the table)', 'the baseline: the same ruleset as text, from `nft list table`');
  const agentReplace = createResult('agent JSON full apply (replace the table)', 'render + serialise + write + `nft -j -f`');
  const textFresh = createResult('text `nft -f` into an empty namespace', 'first load; table deleted before (untimed)');
  const agentFresh = createResult('agent JSON full apply into an empty namespace', 'first load; table deleted before (untimed)');
  const renderMs: number[] = [];
  const agent = () => {
    const started = performance.now();
    const text = renderAgentDocumentText(context.state);
    const path = join(context.dir, 'ruleset.json');
    writeFileSync(path, text, { mode: 0o600 });
    const rendered = since(started);
    const nft = runNft(['-j', '-f', path]);
    renderMs.push(rendered);
    return { wallMs: rendered + nft.wallMs, nft };
  };
  const variants = [
    () => { const nft = runNft(['-f', textPath]); record(textReplace, nft.wallMs, [nft]); },
    () => { const run = agent(); record(agentReplace, run.wallMs, [run.nft]); },
    () => { deleteTable(); const nft = runNft(['-f', textPath]); record(textFresh, nft.wallMs, [nft]); },
    () => { deleteTable(); const run = agent(); record(agentFresh, run.wallMs, [run.nft]); },
  ];
  for (let round = 0; round < context.runs; round++) {
    for (let i = 0; i < variants.length; i++) variants[(round + i) % variants.length]?.();
  }
  return {
    rows: [textReplace, agentReplace, textFresh, agentFresh],
    textListing,
    renderMs,
    agentReplaceMs: agentReplace.sample.wallMs,
    textReplaceMs: textReplace.sample.wallMs,
  };
}

/** The CloudStack way's estimate and the figures behind it. */
export interface CloudStackResults {
  readonly row: CaseResult;
  readonly perRuleEmptyMs: number;
  readonly perRuleFullMs: number;
  readonly fixedMs: number;
  readonly ruleCount: number;
  readonly sampled: number;
  readonly estimatedMs: number;
}

function chainArgv(chain: ListedChain): string[] {
  const spec = chain.declaration === null ? [] : [`{ ${chain.declaration} }`];
  return ['add', 'chain', 'ip6', 'vr6_agent', chain.name, ...spec];
}

/**
 * CloudStack's VR: delete the table, then one nft process per object and per
 * rule. All of it at 10,000 rules takes minutes, so unless `isFull`, `sample`
 * rules spread over every chain are added twice: once into empty chains, once
 * into the fully loaded table (an nft process costs more when the table is
 * large). The estimate is table + chains + counters as measured, plus rules ×
 * the mean of the two per-rule medians (cost assumed linear in table size).
 */
export function measureCloudStack(context: BenchContext, textListing: string, sample: number, isFull: boolean): CloudStackResults {
  const { chains, counters } = parseTextListing(textListing);
  const rules = chains.flatMap((chain) => chain.rules.map((rule) => ({ chain: chain.name, rule })));
  const picked = isFull ? rules : Array.from({ length: Math.min(sample, rules.length) }, (_, i) => rules[Math.floor((i * rules.length) / Math.min(sample, rules.length))]);
  const processes: Measured[] = [];
  deleteTable();
  let started = performance.now();
  processes.push(runNft(['add', 'table', 'ip6', 'vr6_agent']));
  for (const counter of counters) processes.push(runNft(['add', 'counter', 'ip6', 'vr6_agent', counter]));
  for (const chain of chains) processes.push(runNft(chainArgv(chain)));
  const fixedMs = since(started);
  const addRules = () =>
    picked.map((entry) => {
      if (entry === undefined) throw new Error('sample out of range');
      const run = runNft(['add', 'rule', 'ip6', 'vr6_agent', entry.chain, entry.rule]);
      processes.push(run);
      return run.wallMs;
    });
  started = performance.now();
  const emptyMs = addRules();
  const allRulesMs = since(started);
  let fullMs = emptyMs;
  if (!isFull) {
    deleteTable();
    loadJson(context, 'ruleset.json', renderAgentDocumentText(context.state));
    fullMs = addRules();
  }
  const perRuleEmptyMs = median(emptyMs);
  const perRuleFullMs = median(fullMs);
  const estimatedMs = isFull ? fixedMs + allRulesMs : fixedMs + (rules.length * (perRuleEmptyMs + perRuleFullMs)) / 2;
  const note = isFull
    ? `measured: all ${rules.length} rules, one process each`
    : `estimated from ${picked.length} rules into empty chains (median ${perRuleEmptyMs.toFixed(1)} ms each) and ${picked.length} into the full table (${perRuleFullMs.toFixed(1)} ms each)`;
  const row = createResult('CloudStack way: one `nft add` process per rule', note);
  record(row, estimatedMs, processes);
  deleteTable();
  loadJson(context, 'ruleset.json', renderAgentDocumentText(context.state));
  return { row, perRuleEmptyMs, perRuleFullMs, fixedMs, ruleCount: rules.length, sampled: isFull ? rules.length : picked.length * 2, estimatedMs };
}

/** The one-item-changed rows, and the check that untouched chains were left alone. */
export interface ChainUpdateResults {
  readonly rows: CaseResult[];
  readonly changedChains: string[];
  readonly isUntouchedChainKept: boolean;
  /** Whether the memoised render built the same update document as the full render. */
  readonly isMemoSame: boolean;
}

function listRuleHandles(chain: string): string {
  const listing = JSON.parse(runNft(['-j', '-a', 'list', 'chain', 'ip6', 'vr6_agent', chain]).stdout) as { nftables: { rule?: { handle: number } }[] };
  return listing.nftables.flatMap((item) => (item.rule ? [item.rule.handle] : [])).join(',');
}

/**
 * One ACL item changed, applied as one JSON transaction that flushes and
 * refills only the chains whose rendering changed. The agent's time is render
 * of the whole state + diff against the last rendering + the document + nft.
 * Rounds alternate between the two states, so every round is a real change.
 */
export function measureChainUpdate(context: BenchContext): ChainUpdateResults {
  deleteTable();
  loadJson(context, 'ruleset.json', renderAgentDocumentText(context.state));
  const groupedBy = new Map([[context.state, renderGrouped(context.state)], [context.changed, renderGrouped(context.changed)]]);
  const changedChains = diffChains(groupedBy.get(context.state)!, groupedBy.get(context.changed)!);
  const untouched = [...groupedBy.get(context.state)!.chains.keys()].find((name) => name.startsWith('ingress_') && !changedChains.includes(name)) ?? 'input';
  const handlesBefore = listRuleHandles(untouched);
  const agent = createResult('agent per-chain update (render all + diff + flush/refill changed chains)', `changes ${changedChains.join(', ')}`);
  const nftOnly = createResult('  of which the nft process', '`nft -j -f` of the update document alone');
  const renderOnly = createResult('  of which render + diff in Node', 'renderRuleset of the whole state, group, compare');
  let current = context.state;
  for (let round = 0; round < context.runs * 2; round++) {
    const next = current === context.state ? context.changed : context.state;
    const started = performance.now();
    const grouped = renderGrouped(next);
    const names = diffChains(groupedBy.get(current)!, grouped);
    const document = JSON.stringify(renderChainUpdate(grouped, names));
    const rendered = since(started);
    const nft = loadJson(context, 'update.json', document);
    record(agent, rendered + nft.wallMs, [nft]);
    record(nftOnly, nft.wallMs, [nft]);
    record(renderOnly, rendered, []);
    current = next;
  }
  const isUntouchedChainKept = listRuleHandles(untouched) === handlesBefore;
  const memoRows = measureMemoisedUpdate(context, current);
  const expected = JSON.stringify(renderChainUpdate(groupedBy.get(context.changed)!, changedChains));
  const memo = createAclRenderMemo();
  renderMemoisedAclUpdate(context.state, memo);
  const isMemoSame = JSON.stringify(renderMemoisedAclUpdate(context.changed, memo).document) === expected;
  return { rows: [agent, nftOnly, renderOnly, ...memoRows], changedChains, isUntouchedChainKept, isMemoSame };
}

/** The same alternating change, rendered through a per-list cache (memo-render.ts) instead of the whole state. */
function measureMemoisedUpdate(context: BenchContext, loaded: BenchContext['state']): CaseResult[] {
  const memo = createAclRenderMemo();
  renderMemoisedAclUpdate(loaded, memo);
  const total = createResult('agent per-chain update, render through a per-list cache', 'JSON key per list, render changed lists only');
  const renderOnly = createResult('  of which render + diff in Node', '');
  let current = loaded;
  for (let round = 0; round < context.runs * 2; round++) {
    const next = current === context.state ? context.changed : context.state;
    const started = performance.now();
    const document = JSON.stringify(renderMemoisedAclUpdate(next, memo).document);
    const rendered = since(started);
    const nft = loadJson(context, 'update.json', document);
    record(total, rendered + nft.wallMs, [nft]);
    record(renderOnly, rendered, []);
    current = next;
  }
  return [total, renderOnly];
}

/** `nft -j -c` (check only) of the full document, and whether a failing batch leaves the table as it was. */
export function measureCheckAndFailure(context: BenchContext): { rows: CaseResult[]; isUnchangedAfterFailure: boolean; failureMessage: string } {
  deleteTable();
  loadJson(context, 'ruleset.json', renderAgentDocumentText(context.state));
  const check = createResult('`nft -j -c -f` of the full document (check only)', 'what a separate check before every apply would add');
  for (let round = 0; round < context.runs; round++) {
    const nft = runNft(['-j', '-c', '-f', join(context.dir, 'ruleset.json')]);
    record(check, nft.wallMs, [nft]);
  }
  const before = runNft(['-a', 'list', 'table', 'ip6', 'vr6_agent']).stdout;
  // The changed state plus one bad command at the very end: nft must refuse the whole batch.
  const document = JSON.parse(renderAgentDocumentText(context.changed)) as { nftables: unknown[] };
  document.nftables.push({ add: { rule: { family: 'ip6', table: 'vr6_agent', chain: 'forward', expr: [{ jump: { target: 'no_such_chain' } }] } } });
  const path = join(context.dir, 'failing.json');
  writeFileSync(path, JSON.stringify(document), { mode: 0o600 });
  const failing = createResult('failing full batch (its last command jumps to a missing chain)', 'time until nft refuses it');
  const nft = runNft(['-j', '-f', path], { allowFailure: true });
  record(failing, nft.wallMs, [nft]);
  const after = runNft(['-a', 'list', 'table', 'ip6', 'vr6_agent']).stdout;
  const isUnchangedAfterFailure = nft.exitCode !== 0 && after === before;
  return { rows: [check, failing], isUnchangedAfterFailure, failureMessage: nft.stderr.trim().split('\n')[0] ?? '' };
}
