import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseRulesetListing } from '../../src/observe/ruleset-listing.js';
import { planRuleset } from '../../src/plan/ruleset-plan.js';
import { renderHost } from '../../src/render/host-facts.js';
import { renderRulesetDocument, renderRulesetStagedDocuments } from '../../src/render/ruleset-document.js';
import { DesiredState } from '../../src/schema/desired-state.js';
import { canRunLab } from './lab-guard.js';

/**
 * Incremental updates against the real nft: from every golden state to every
 * other, the planned update document must load in one transaction and leave
 * the table exactly as a full load of the target would, while chains it did
 * not touch keep their rule handles.
 */
const work = mkdtempSync(join(tmpdir(), 'vr6-nft-update-'));
const cases = ['isolated-basic', 'isolated-deny-egress', 'vpc-two-tiers', 'static-public'];
const stateOf = (name: string) => DesiredState.parse(JSON.parse(readFileSync(`test/golden/${name}/desired.json`, 'utf8')));

/** Runs nft commands in one throwaway network namespace; returns the final listing. */
function runInFreshNetns(documents: string[]): { json: unknown; text: string } {
  const files = documents.map((document, index) => {
    const path = join(work, `step-${index}.json`);
    writeFileSync(path, document);
    return path;
  });
  const script = [...files.map((f) => `nft -j -f ${f}`), 'nft -j -a list table ip6 vr6_agent', 'echo ====', 'nft list table ip6 vr6_agent'].join(' && ');
  const result = spawnSync('unshare', ['--net', 'sh', '-c', script], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (result.status !== 0) throw new Error(`nft failed: ${result.stderr}`);
  const [json = '', text = ''] = result.stdout.split('====\n');
  return { json: JSON.parse(json), text };
}

/** What the agent reads of a listing. */
const listingOf = (listing: { text: string }) => parseRulesetListing(listing.text);

function handlesByChain(listing: { json: unknown }): Map<string, string> {
  const rules = ((listing.json as { nftables: Record<string, any>[] }).nftables ?? []).filter((o) => o.rule);
  const handles = new Map<string, string>();
  for (const { rule } of rules) handles.set(rule.chain, `${handles.get(rule.chain) ?? ''} ${rule.handle}`);
  return handles;
}

afterAll(() => rmSync(work, { recursive: true, force: true }));

(canRunLab(['nft', 'unshare']) ? describe : describe.skip)('incremental ruleset updates on the real nft', () => {
  const pairs = cases.flatMap((from) => cases.filter((to) => to !== from).map((to) => [from, to] as const));
  it.each(pairs)('%s -> %s equals a full load and keeps untouched chains', (from, to) => {
    const before = renderHost(stateOf(from));
    const after = renderHost(stateOf(to));
    const full = `${JSON.stringify(renderRulesetDocument(before.ruleset))}\n`;
    const loaded = listingOf(runInFreshNetns([full]));
    const steps = planRuleset(after, loaded, { rendered: before.chainFingerprints, listed: loaded.chains, unlisted: new Set() });
    const documents = steps.map((step) => ('document' in step ? step.document : ''));
    expect(steps.map((s) => s.kind)).toEqual(['updateRuleset']);
    const updated = runInFreshNetns([full, ...documents]);
    const reference = runInFreshNetns([`${JSON.stringify(renderRulesetDocument(after.ruleset))}\n`]);
    expect(listingOf(updated).chains).toEqual(listingOf(reference).chains);
    expect([...listingOf(updated).counters.keys()].sort()).toEqual([...after.ruleset.counters].sort());
    const untouched = [...after.chainFingerprints.keys()].filter((name) => before.chainFingerprints.get(name) === after.chainFingerprints.get(name));
    const handlesBefore = handlesByChain(runInFreshNetns([full]));
    const handlesAfter = handlesByChain(updated);
    for (const name of untouched) expect(handlesAfter.get(name), name).toBe(handlesBefore.get(name));
  });
});

(canRunLab(['nft', 'unshare']) ? describe : describe.skip)('staged loads on the real nft', () => {
  it.each(cases)('%s loaded in stages of 3 rules lists exactly as one transaction does', (name) => {
    const { ruleset } = renderHost(stateOf(name));
    const staged = renderRulesetStagedDocuments(ruleset, 3).map((document) => `${JSON.stringify(document)}\n`);
    expect(staged.length).toBeGreaterThan(3);
    const whole = runInFreshNetns([`${JSON.stringify(renderRulesetDocument(ruleset))}\n`]);
    const inStages = runInFreshNetns(staged);
    expect(listingOf(inStages).chains).toEqual(listingOf(whole).chains);
    expect(listingOf(inStages).counters).toEqual(listingOf(whole).counters);
  });
});
