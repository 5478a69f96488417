/**
 * The agent's nft table in the in-memory host: what a libnftables JSON
 * document does to it, all or nothing, and how nft lists it. The listing
 * keeps nft's block structure (table, chains, counters with their values)
 * and prints each rule as its JSON, which the agent's digests take as
 * opaque text; the lab tests prove nft's own spelling.
 */

/** A libnftables JSON object. */
export type Json = Record<string, unknown>;

/** The agent's nft table in the model: named counters, and chains with their rules. */
export interface MemoryTable {
  counters: Map<string, { packets: number; bytes: number }>;
  chains: Map<string, { definition: Json; rules: Json[] }>;
}

/** The table after a document's commands; throws for the first one nft would refuse, leaving the table given alone. */
export function applyNftDocument(before: MemoryTable | null, document: { nftables: readonly Json[] }): MemoryTable | null {
  let table = before && { counters: new Map(before.counters), chains: new Map([...before.chains].map(([k, c]) => [k, { ...c, rules: [...c.rules] }])) };
  for (const command of document.nftables) {
    const [verb, body] = Object.entries(command)[0] ?? [];
    const [kind, object] = Object.entries((body ?? {}) as Json)[0] ?? [];
    const o = (object ?? {}) as Json;
    const name = String(o.name ?? o.chain);
    if (verb === 'metainfo') continue;
    if (kind === 'table') table = verb === 'delete' ? null : (table ?? { counters: new Map(), chains: new Map() });
    else if (table === null) throw new Error(`no table for ${verb} ${kind}`);
    else if (kind === 'counter' && verb === 'add') table.counters.set(name, table.counters.get(name) ?? { packets: 0, bytes: 0 });
    else if (kind === 'counter' && verb === 'delete' && table.counters.delete(name)) continue;
    else if (kind === 'chain' && verb === 'add') table.chains.set(name, table.chains.get(name) ?? { definition: o, rules: [] });
    else if (kind === 'chain' && verb === 'flush' && table.chains.has(name)) table.chains.get(name)!.rules = [];
    else if (kind === 'chain' && verb === 'delete' && table.chains.delete(name)) continue;
    else if (kind === 'rule' && verb === 'add' && table.chains.has(name)) table.chains.get(name)!.rules.push(o);
    else throw new Error(`cannot ${verb} ${kind} ${name}`);
  }
  return table;
}

/** The table as `nft -j list table` lists it (without handles). */
export function listNftTable({ counters, chains }: MemoryTable): Json[] {
  return [
    ...[...counters].map(([name, value]) => ({ counter: { family: 'ip6', table: 'vr6_agent', name, ...value } })),
    ...[...chains.values()].map((chain) => ({ chain: chain.definition })),
    ...[...chains.values()].flatMap((chain) => chain.rules.map((rule) => ({ rule }))),
  ];
}

/** The table, or one chain of it, as `nft list table` or `nft list chain` prints it: one line per object. */
export function printNftTable(table: MemoryTable, onlyChain?: string): string {
  const lines = ['table ip6 vr6_agent {'];
  if (onlyChain === undefined) {
    for (const [name, value] of table.counters) lines.push(`\tcounter ${name} {`, `\t\tpackets ${value.packets} bytes ${value.bytes}`, '\t}');
  }
  for (const [name, chain] of table.chains) {
    if (onlyChain !== undefined && name !== onlyChain) continue;
    lines.push(`\tchain ${name} {`, ...[chain.definition, ...chain.rules].map((rule) => `\t\t${JSON.stringify(rule)}`), '\t}');
  }
  return `${lines.join('\n')}\n}\n`;
}
