import { digestText } from '../model/digest.js';
import type { CounterValues, ObservedRuleset } from '../model/observed.js';

const CHAIN_START = /^\tchain (\S+) \{$/;
const COUNTER_START = /^\tcounter (\S+) \{$/;
const COUNTER_VALUES = /^\t\tpackets (\d+) bytes (\d+)$/;
const BLOCK_END = '\t}';

/**
 * Parses `nft list table` text (nft 1.0.6), the cheapest read of a large
 * table: nft needs less than half the memory it takes to print JSON, and
 * less time (bench/README.md). Counter values change without anyone editing the table,
 * so they are masked in each chain's text; named counters yield their values.
 * The digests are only ever compared with digests of the same listing, so
 * nft's own spelling of a rule is all they need to be stable against. Text a
 * foreign edit made that this cannot split lands in some chain's digest,
 * which then differs: the chain is rewritten, never trusted.
 */
export function parseRulesetListing(text: string): ObservedRuleset {
  const chains = new Map<string, string>();
  const counters = new Map<string, CounterValues>();
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const chain = CHAIN_START.exec(line);
    const counter = COUNTER_START.exec(line);
    if (chain) {
      const body: string[] = [];
      while (i + 1 < lines.length && lines[i + 1] !== BLOCK_END) body.push(lines[++i]!.replace(/counter packets \d+ bytes \d+/g, 'counter'));
      chains.set(chain[1]!, digestText(body.join('\n')));
    } else if (counter) {
      const values = COUNTER_VALUES.exec(lines[i + 1] ?? '');
      counters.set(counter[1]!, { packets: Number(values?.[1] ?? 0), bytes: Number(values?.[2] ?? 0) });
    }
  }
  return { chains, counters };
}
