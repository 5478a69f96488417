import type { AgentConfig } from '../schema/agent-config.js';
import type { Host } from '../host/host.js';
import { RULESET_TABLE } from '../model/ownership.js';

type Json = Record<string, unknown>;

/** A base chain of another table, on a hook where ours decides too. */
export interface ForeignBaseChain {
  readonly family: string;
  readonly table: string;
  readonly name: string;
  readonly hook: string;
  readonly policy: string;
}

// ip6 and inet tables see IPv6 packets; in nftables a drop in any base chain
// on a hook is final, whatever our table accepts (docs/field-notes.md#nftables).
const IPV6_FAMILIES = new Set(['ip6', 'inet']);
const OUR_HOOKS = new Set(['input', 'forward']);

/** Parses `nft -j list chains`: the base chains of other IPv6 tables on our hooks. */
export function parseForeignBaseChains(json: unknown): ForeignBaseChain[] {
  const items = (json as { nftables?: unknown } | null)?.nftables;
  return (Array.isArray(items) ? items : []).flatMap((item) => {
    const chain = (item as Json | null)?.chain as Json | undefined;
    if (!chain || typeof chain.hook !== 'string' || !OUR_HOOKS.has(chain.hook)) return [];
    if (!IPV6_FAMILIES.has(String(chain.family))) return [];
    if (chain.family === RULESET_TABLE.family && chain.table === RULESET_TABLE.name) return [];
    return [{ family: String(chain.family), table: String(chain.table), name: String(chain.name), hook: chain.hook, policy: String(chain.policy ?? 'accept') }];
  });
}

/** True when a listed table has a rule that drops or rejects. */
export function hasDropRule(json: unknown): boolean {
  const items = (json as { nftables?: unknown } | null)?.nftables;
  return (Array.isArray(items) ? items : []).some((item) => {
    const rule = (item as Json | null)?.rule as Json | undefined;
    return rule !== undefined && /"(drop|reject)"\s*:/.test(JSON.stringify(rule.expr ?? []));
  });
}

/** A warning for a base chain of another table that could drop what ours accepts. */
export function renderForeignChainWarning(chain: ForeignBaseChain, reason: string): string {
  return `table ${chain.family} ${chain.table} has base chain ${chain.name} on hook ${chain.hook} that ${reason}: a drop there overrides what ${RULESET_TABLE.name} accepts`;
}

/**
 * Finds other IPv6 tables whose base chains on input or forward could drop
 * what ours accepts: a drop policy, or any rule that drops or rejects. Costs
 * one `nft -j list chains` (no rules) and one listing per such table.
 */
export async function readForeignTableWarnings(host: Host, config: AgentConfig): Promise<string[]> {
  const { stdout } = await host.exec([config.commands.nft, '-j', 'list', 'chains']);
  const chains = parseForeignBaseChains(JSON.parse(stdout));
  const warnings: string[] = [];
  const dropping = new Map<string, boolean>();
  for (const chain of chains) {
    if (chain.policy === 'drop') {
      warnings.push(renderForeignChainWarning(chain, 'has policy drop'));
      continue;
    }
    const key = `${chain.family} ${chain.table}`;
    if (!dropping.has(key)) {
      const listing = await host.exec([config.commands.nft, '-j', 'list', 'table', chain.family, chain.table]);
      dropping.set(key, hasDropRule(JSON.parse(listing.stdout)));
    }
    if (dropping.get(key)) warnings.push(renderForeignChainWarning(chain, 'belongs to a table with drop or reject rules'));
  }
  return warnings;
}
