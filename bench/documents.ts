/**
 * The documents the benchmark compares, all derived from the agent's own full
 * document (renderRulesetDocument), so they load exactly the agent's rules:
 * a per-chain update, shadow-chain chunks with a final switch, and the text
 * forms (a whole-table replacement, one `nft add rule` per rule).
 */

type Json = Record<string, unknown>;

/** A libnftables JSON document, loosely typed: the benchmark only regroups commands. */
export interface Document {
  readonly nftables: readonly Json[];
}

/** The agent's document taken apart: table-level commands, then each chain with its rules, in load order. */
export interface GroupedDocument {
  readonly objects: readonly Json[];
  readonly chains: ReadonlyMap<string, { readonly command: Json; readonly isBase: boolean; readonly rules: readonly Json[] }>;
  readonly ruleCount: number;
}

const TABLE = { family: 'ip6', table: 'vr6_agent' } as const;
const METAINFO = { metainfo: { json_schema_version: 1 } };

function addBody(command: Json, kind: string): Json | undefined {
  const add = command.add as Json | undefined;
  return add?.[kind] as Json | undefined;
}

/** Groups the agent's full document by chain. Counters and other table objects go to `objects`. */
export function groupDocument(document: Document): GroupedDocument {
  const objects: Json[] = [];
  const chains = new Map<string, { command: Json; isBase: boolean; rules: Json[] }>();
  let ruleCount = 0;
  for (const command of document.nftables) {
    const chain = addBody(command, 'chain');
    const rule = addBody(command, 'rule');
    if (chain !== undefined) {
      chains.set(String(chain.name), { command, isBase: chain.hook !== undefined, rules: [] });
    } else if (rule !== undefined) {
      const owner = chains.get(String(rule.chain));
      if (owner === undefined) throw new Error(`rule for unknown chain ${String(rule.chain)}`);
      owner.rules.push(command);
      ruleCount++;
    } else if (addBody(command, 'table') === undefined && !('metainfo' in command) && !('delete' in command)) {
      objects.push(command);
    }
  }
  return { objects, chains, ruleCount };
}

/** The names of chains whose rules differ between two renderings (or that exist in only one). */
export function diffChains(before: GroupedDocument, after: GroupedDocument): string[] {
  const names = new Set([...before.chains.keys(), ...after.chains.keys()]);
  return [...names].filter((name) => {
    const a = before.chains.get(name);
    const b = after.chains.get(name);
    return a === undefined || b === undefined || JSON.stringify(a.rules) !== JSON.stringify(b.rules);
  });
}

/** One transaction that flushes the named chains and adds their rules again: the per-chain update. */
export function renderChainUpdate(after: GroupedDocument, names: readonly string[]): Document {
  const chains = names.map((name) => {
    const chain = after.chains.get(name);
    if (chain === undefined) throw new Error(`no chain ${name}`);
    return { name, chain };
  });
  return {
    nftables: [
      METAINFO,
      ...chains.map(({ name }) => ({ flush: { chain: { ...TABLE, name } } })),
      ...chains.flatMap(({ chain }) => chain.rules),
    ],
  };
}

/** Renames chain references (the rule's chain, jump and goto targets, vmap verdicts) through `rename`. */
function renameChains<T>(value: T, rename: (name: string) => string): T {
  return JSON.parse(JSON.stringify(value), (key, inner: unknown) =>
    (key === 'target' || key === 'chain' || key === 'name') && typeof inner === 'string' ? rename(inner) : inner,
  ) as T;
}

/** Shadow-chain name of a regular chain for a generation suffix ('' is the agent's own naming). */
export function shadowName(name: string, suffix: string): string {
  return suffix === '' ? name : `${name}__${suffix}`;
}

/**
 * Shadow-chain loading: the regular chains are filled under new names, in
 * chunks of about `chunkRules` rules, each chunk one nft process. Nothing
 * refers to them yet, so packets still meet the old chains. Then one small
 * transaction refills the base chains with jumps to the new names and deletes
 * the old chains: the switch is atomic. `oldSuffix` names the chains in force.
 */
export function renderShadowDocuments(grouped: GroupedDocument, oldSuffix: string, newSuffix: string, chunkRules: number): { chunks: Document[]; switchDocument: Document } {
  const regular = [...grouped.chains.entries()].filter(([, chain]) => !chain.isBase);
  const isRegular = new Set(regular.map(([name]) => name));
  const rename = (suffix: string) => (name: string) => (isRegular.has(name) ? shadowName(name, suffix) : name);
  const chunks: Json[][] = [];
  let current: Json[] = [];
  let currentRules = 0;
  for (const [, chain] of regular) {
    if (currentRules > 0 && currentRules + chain.rules.length > chunkRules) {
      chunks.push(current);
      current = [];
      currentRules = 0;
    }
    current.push(renameChains(chain.command, rename(newSuffix)), ...chain.rules.map((rule) => renameChains(rule, rename(newSuffix))));
    currentRules += chain.rules.length;
  }
  if (current.length > 0) chunks.push(current);
  const [first, ...rest] = chunks;
  const prelude = [METAINFO, { add: { table: { family: TABLE.family, name: TABLE.table } } }, ...grouped.objects];
  const base = [...grouped.chains.entries()].filter(([, chain]) => chain.isBase);
  const switchCommands = [
    METAINFO,
    ...base.map(([name]) => ({ flush: { chain: { ...TABLE, name } } })),
    ...base.flatMap(([, chain]) => chain.rules.map((rule) => renameChains(rule, rename(newSuffix)))),
    ...regular.map(([name]) => ({ delete: { chain: { ...TABLE, name: shadowName(name, oldSuffix) } } })),
  ];
  return {
    chunks: [{ nftables: [...prelude, ...(first ?? [])] }, ...rest.map((commands) => ({ nftables: [METAINFO, ...commands] }))],
    switchDocument: { nftables: switchCommands },
  };
}

/** A chain of a text listing: its declaration line (base chains only) and its rules, one text each. */
export interface ListedChain {
  readonly name: string;
  readonly declaration: string | null;
  readonly rules: readonly string[];
}

/**
 * Parses `nft list table` text into chains and rules, the way a script that
 * runs one nft process per rule needs them. Counter values are dropped.
 */
export function parseTextListing(listing: string): { chains: ListedChain[]; counters: string[] } {
  const chains: { name: string; declaration: string | null; rules: string[] }[] = [];
  const counters: string[] = [];
  let chain: (typeof chains)[number] | null = null;
  let depth = 0;
  for (const raw of listing.split('\n')) {
    const line = raw.trim();
    if (line === '') continue;
    const opens = (line.match(/\{/g) ?? []).length - (line.match(/\}/g) ?? []).length;
    if (depth === 1 && /^chain \S+ \{$/.test(line)) {
      chain = { name: line.split(' ')[1] ?? '', declaration: null, rules: [] };
      chains.push(chain);
    } else if (depth === 1 && /^counter \S+ \{$/.test(line)) {
      counters.push(line.split(' ')[1] ?? '');
    } else if (depth === 2 && chain !== null && line !== '}') {
      if (/^type \S+ hook /.test(line)) chain.declaration = line;
      else chain.rules.push(line.replace(/counter packets \d+ bytes \d+/g, 'counter'));
    }
    depth += opens;
    if (depth <= 1 && line === '}') chain = null;
  }
  return { chains, counters };
}

/** The text document that replaces the table in one transaction, as the agent's JSON document does. */
export function renderTextReplacement(listing: string): string {
  return `table ip6 vr6_agent\ndelete table ip6 vr6_agent\n${listing}`;
}
