import { RULESET_TABLE } from '../model/ownership.js';
import type { NftChain, NftRule, NftRuleset } from './ruleset.js';

/**
 * The libnftables JSON documents that load the rendered table: a whole
 * replacement, an incremental update of some chains, and a staged load.
 * Pure; the executors write them to a file for `nft -j -f`.
 */

/** What an incremental update does to the table; every name is a chain or counter of ours. */
export interface RulesetChange {
  readonly addChains: readonly string[];
  readonly replaceChains: readonly string[];
  readonly deleteChains: readonly string[];
  readonly addCounters: readonly string[];
  readonly deleteCounters: readonly string[];
}

type ObjectRef = { readonly family: 'ip6'; readonly table: 'vr6_agent'; readonly name: string };

/** A libnftables JSON command (libnftables-json(5), "COMMAND OBJECTS"). */
export type NftCommand =
  | { readonly metainfo: { readonly json_schema_version: 1 } }
  | { readonly add: { readonly table: typeof RULESET_TABLE } }
  | { readonly delete: { readonly table: typeof RULESET_TABLE } }
  | { readonly add: { readonly chain: Record<string, string | number> } }
  | { readonly flush: { readonly chain: ObjectRef } }
  | { readonly delete: { readonly chain: ObjectRef } }
  | { readonly add: { readonly counter: ObjectRef } }
  | { readonly delete: { readonly counter: ObjectRef } }
  | { readonly add: { readonly rule: NftRuleCommandBody } };

/** The body of an `add rule` command. */
export interface NftRuleCommandBody extends NftRule {
  readonly family: typeof RULESET_TABLE.family;
  readonly table: typeof RULESET_TABLE.name;
  readonly chain: string;
}

/** A document for `nft -j -f FILE`. */
export interface NftDocument {
  readonly nftables: readonly NftCommand[];
}

/**
 * The libnftables JSON document that replaces our table in one transaction:
 * `add table` first, so that `delete table` cannot fail when it is absent;
 * then the table again, all chains (so every jump target exists), all rules.
 * A failing batch leaves the ruleset unchanged (docs/field-notes.md#nftables). It
 * never flushes the ruleset or names another table. Load it from a file:
 * `nft -j -f -` cannot read Node's stdin pipe.
 */
export function renderRulesetDocument(ruleset: NftRuleset): NftDocument {
  const table = { ...RULESET_TABLE };
  return {
    nftables: [
      { metainfo: { json_schema_version: 1 } },
      { add: { table } },
      { delete: { table } },
      { add: { table } },
      ...ruleset.counters.map((name) => ({ add: { counter: objectRef(name) } })),
      ...ruleset.chains.map((chain) => ({ add: { chain: renderChainBody(chain) } })),
      ...ruleset.chains.flatMap((chain) => chain.rules.map((rule) => ({ add: { rule: renderRuleBody(chain.name, rule) } }))),
    ],
  };
}

/**
 * The document that changes only the named chains and counters, in one
 * transaction: what it does not name keeps its rules, handles and counter
 * values. New counters and chains come first so every reference resolves,
 * replaced chains are flushed and refilled (base chains keep hook and
 * policy), and deletions come last, once nothing refers to them.
 */
export function renderRulesetUpdateDocument(ruleset: NftRuleset, change: RulesetChange): NftDocument {
  const fill = new Set([...change.addChains, ...change.replaceChains]);
  const byName = new Map(ruleset.chains.map((chain) => [chain.name, chain]));
  const added = change.addChains.map((name) => byName.get(name)).filter((chain): chain is NftChain => chain !== undefined);
  return {
    nftables: [
      { metainfo: { json_schema_version: 1 } },
      ...change.addCounters.map((name) => ({ add: { counter: objectRef(name) } })),
      ...added.map((chain) => ({ add: { chain: renderChainBody(chain) } })),
      ...change.replaceChains.map((name) => ({ flush: { chain: objectRef(name) } })),
      ...ruleset.chains
        .filter((chain) => fill.has(chain.name))
        .flatMap((chain) => chain.rules.map((rule) => ({ add: { rule: renderRuleBody(chain.name, rule) } }))),
      ...change.deleteChains.map((name) => ({ delete: { chain: objectRef(name) } })),
      ...change.deleteCounters.map((name) => ({ delete: { counter: objectRef(name) } })),
    ],
  };
}

/**
 * The whole table as several documents, for a table that has no base chain
 * yet (boot, or deleted): the first makes the table, its counters and its
 * jump-target chains; the next ones fill those chains, `rulesPerDocument`
 * rules at a time; the last adds the base chains with their rules. Until the
 * last commits, nothing hooks into the kernel's paths, so traffic sees the
 * table all at once, as with one transaction, while no single nft process has
 * to parse the whole document: the memory of nft's JSON parser grows with the
 * document, past a hundred megabytes for the largest policies
 * (bench/README.md).
 */
export function renderRulesetStagedDocuments(ruleset: NftRuleset, rulesPerDocument: number): NftDocument[] {
  const table = { ...RULESET_TABLE };
  const metainfo = { metainfo: { json_schema_version: 1 } } as const;
  const targets = ruleset.chains.filter((chain) => chain.base === undefined);
  const bases = ruleset.chains.filter((chain) => chain.base !== undefined);
  const targetRules = targets.flatMap((chain) => chain.rules.map((rule) => ({ add: { rule: renderRuleBody(chain.name, rule) } })));
  const chunks: NftCommand[][] = [];
  for (let start = 0; start < targetRules.length; start += rulesPerDocument) chunks.push(targetRules.slice(start, start + rulesPerDocument));
  return [
    {
      nftables: [
        metainfo,
        { add: { table } },
        { delete: { table } },
        { add: { table } },
        ...ruleset.counters.map((name) => ({ add: { counter: objectRef(name) } })),
        ...targets.map((chain) => ({ add: { chain: renderChainBody(chain) } })),
      ],
    },
    ...chunks.map((chunk) => ({ nftables: [metainfo, ...chunk] })),
    {
      nftables: [
        metainfo,
        ...bases.map((chain) => ({ add: { chain: renderChainBody(chain) } })),
        ...bases.flatMap((chain) => chain.rules.map((rule) => ({ add: { rule: renderRuleBody(chain.name, rule) } }))),
      ],
    },
  ];
}


function objectRef(name: string): ObjectRef {
  return { family: RULESET_TABLE.family, table: RULESET_TABLE.name, name };
}

function renderChainBody(chain: NftChain): Record<string, string | number> {
  return { family: RULESET_TABLE.family, table: RULESET_TABLE.name, name: chain.name, ...chain.base };
}

// Key order follows `nft -j list`: comment before expr.
function renderRuleBody(chain: string, rule: NftRule): NftRuleCommandBody {
  const comment = rule.comment === undefined ? {} : { comment: rule.comment };
  return { family: RULESET_TABLE.family, table: RULESET_TABLE.name, chain, ...comment, expr: rule.expr };
}
