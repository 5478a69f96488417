import type { ObservedRuleset } from '../model/observed.js';
import type { RenderedHost } from '../render/host-facts.js';
import { type NftRuleset } from '../render/ruleset.js';
import { renderRulesetDocument, renderRulesetStagedDocuments, renderRulesetUpdateDocument, type RulesetChange } from '../render/ruleset-document.js';
import type { Step } from './steps.js';

/**
 * What the agent loaded into its table: per chain, the digest of its
 * rendering, and of how nft lists it while nobody else has touched it. A
 * chain written but not listed since is `unlisted`, and its `listed` entry is
 * a stand-in that only an observation proven by the generation id repeats.
 */
export interface RulesetMemory {
  readonly rendered: ReadonlyMap<string, string>;
  readonly listed: ReadonlyMap<string, string>;
  readonly unlisted: ReadonlySet<string>;
}

const BASE_CHAINS = ['input', 'forward'];

/** Above this many rules, a table with no base chain is loaded in stages of this many rules each. */
export const STAGED_RULES = 2000;

/**
 * Plans the firewall. Without a memory of what was loaded, or without the
 * base chains, the whole table is replaced in one transaction. Otherwise only
 * the chains that differ are: those whose rendering changed, and those nft
 * now lists differently from right after the last load (drift: someone edited
 * the table). Untouched chains keep their rules, handles and counters.
 */
export function planRuleset(rendered: RenderedHost, observed: ObservedRuleset | null, memory: RulesetMemory | null): Step[] {
  const ruleset = rendered.ruleset;
  if (observed === null || memory === null || BASE_CHAINS.some((name) => !observed.chains.has(name))) {
    const found = observed === null ? 'table was deleted' : `table ${observed.chains.size === 0 ? 'was emptied' : 'lost a base chain'}`;
    const drift = memory === null ? [] : [found];
    // Staging is safe only while no base chain hooks the table into the kernel's paths.
    const isUnhooked = observed === null || BASE_CHAINS.every((name) => !observed.chains.has(name));
    if (isUnhooked && countRules(ruleset) > STAGED_RULES) {
      // Serialised by the executor, each while nft loads the one before.
      return [{ kind: 'loadRulesetStaged', documents: renderRulesetStagedDocuments(ruleset, STAGED_RULES), drift }];
    }
    return [{ kind: 'loadRuleset', document: `${JSON.stringify(renderRulesetDocument(ruleset))}\n`, drift }];
  }
  const { change, drift } = diffRuleset(rendered, observed, memory);
  const chains = [...change.addChains, ...change.replaceChains, ...change.deleteChains];
  if (chains.length === 0 && change.addCounters.length === 0 && change.deleteCounters.length === 0) return [];
  const document = `${JSON.stringify(renderRulesetUpdateDocument(ruleset, change))}\n`;
  return [{ kind: 'updateRuleset', document, chains, drift }];
}

function countRules(ruleset: NftRuleset): number {
  return ruleset.chains.reduce((count, chain) => count + chain.rules.length, 0);
}

function diffRuleset(rendered: RenderedHost, observed: ObservedRuleset, memory: RulesetMemory): { change: RulesetChange; drift: string[] } {
  const drift: string[] = [];
  const addChains: string[] = [];
  const replaceChains: string[] = [];
  for (const [name, fingerprint] of rendered.chainFingerprints) {
    const listed = observed.chains.get(name);
    const isRenderChange = memory.rendered.get(name) !== fingerprint;
    if (listed === undefined) {
      addChains.push(name);
      if (!isRenderChange) drift.push(`chain ${name} was deleted`);
    } else if (isRenderChange) {
      replaceChains.push(name);
    } else if (memory.listed.get(name) !== listed) {
      replaceChains.push(name);
      // A chain loaded but not yet listed cannot be told from an edited one: rewrite it, claim nothing.
      if (!memory.unlisted.has(name)) drift.push(`chain ${name} was changed`);
    }
  }
  const deleteChains = [...observed.chains.keys()].filter((name) => !rendered.chainFingerprints.has(name));
  for (const name of deleteChains) if (!memory.rendered.has(name)) drift.push(`chain ${name} was added`);
  const wanted = new Set(rendered.ruleset.counters);
  const addCounters = rendered.ruleset.counters.filter((name) => !observed.counters.has(name));
  const deleteCounters = [...observed.counters.keys()].filter((name) => !wanted.has(name));
  return { change: { addChains, replaceChains, deleteChains, addCounters, deleteCounters }, drift };
}
