import { digestText } from '../render/digest.js';

/** The agent's table as nft lists it. */
export interface ObservedRuleset {
  /** Per chain, a digest of its definition and rules, handles and counter values left out. */
  readonly chains: ReadonlyMap<string, string>;
  /** Named counters and their values. */
  readonly counters: ReadonlyMap<string, { readonly packets: number; readonly bytes: number }>;
}

type Json = Record<string, unknown>;

/**
 * Parses `nft -j list table`: handles and anonymous counter values change
 * without anyone editing the table, so they are left out of each chain's
 * text. Two chains are the same exactly when their texts are.
 */
export function parseRulesetListing(json: unknown): ObservedRuleset {
  const items = (json as { nftables?: unknown } | null)?.nftables;
  const objects = Array.isArray(items) ? (items.filter((item) => typeof item === 'object' && item !== null) as Json[]) : [];
  const parts = new Map<string, unknown[]>();
  const counters = new Map<string, { packets: number; bytes: number }>();
  for (const object of objects) {
    const chain = object.chain as Json | undefined;
    const rule = object.rule as Json | undefined;
    const counter = object.counter as Json | undefined;
    if (chain && typeof chain.name === 'string') parts.set(chain.name, [...(parts.get(chain.name) ?? []), chain]);
    if (rule && typeof rule.chain === 'string') parts.set(rule.chain, [...(parts.get(rule.chain) ?? []), rule]);
    if (counter && typeof counter.name === 'string') {
      counters.set(counter.name, { packets: Number(counter.packets) || 0, bytes: Number(counter.bytes) || 0 });
    }
  }
  const chains = new Map([...parts].map(([name, list]) => [name, digestText(JSON.stringify(list, withoutVolatile))]));
  return { chains, counters };
}

function withoutVolatile(key: string, value: unknown): unknown {
  if (key === 'handle') return undefined;
  if (key === 'counter' && typeof value === 'object' && value !== null) return {};
  return value;
}
