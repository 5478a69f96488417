import type { AclItem } from '../src/schema/firewall.js';
import type { DesiredState } from '../src/schema/desired-state.js';
import type { Document, GroupedDocument } from './documents.js';

/**
 * An alternative rendering of the ACL chains, for measurement only: runs of
 * consecutive items with the same verdict, all tcp or udp, become one rule
 * `ip6 saddr . meta l4proto . th dport { prefix . proto . ports, ... } verdict`
 * (an anonymous concatenated interval set). First match stays first match:
 * a run holds only neighbours with one verdict, so the union of their matches
 * decides exactly as the items did one by one. Optionally the forward chain's
 * per-network jumps become two `iifname vmap` / `oifname vmap` rules.
 */

type Json = Record<string, unknown>;

/** One element of a concatenated set: a prefix (as two bigints), a protocol and a port range. */
interface Element {
  readonly low: bigint;
  readonly high: bigint;
  readonly address: string;
  readonly length: number;
  readonly protocol: 'tcp' | 'udp';
  readonly ports: readonly [number, number];
}

/** What the merged rendering produced. */
export interface MergeSummary {
  readonly rules: number;
  readonly anonymousSets: number;
  readonly setElements: number;
  readonly mergedItems: number;
}

/** Parses an RFC 5952 IPv6 address into a 128-bit number. */
export function parseAddressBits(text: string): bigint {
  const [head = '', tail] = text.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = tail === undefined ? left : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  return groups.reduce((bits, group) => (bits << 16n) | BigInt(Number.parseInt(group, 16)), 0n);
}

function elementsOf(item: AclItem): Element[] | null {
  if (item.protocol !== 'tcp' && item.protocol !== 'udp') return null;
  const protocol = item.protocol;
  const ports: [number, number] = item.ports === undefined ? [0, 65535] : [item.ports.start, item.ports.end];
  const cidrs = item.cidrs.some((cidr) => cidr.length === 0) ? [{ address: '::', length: 0 }] : item.cidrs;
  const elements = cidrs.map((cidr) => {
    const low = parseAddressBits(cidr.address);
    const high = low | ((1n << BigInt(128 - cidr.length)) - 1n);
    return { low, high, address: cidr.address, length: cidr.length, protocol, ports };
  });
  // The kernel refuses overlapping elements in a concatenated interval set; such an item stays a rule of its own.
  return elements.some((a, i) => elements.slice(0, i).some((b) => overlaps(a, b))) ? null : elements;
}

function overlaps(a: Element, b: Element): boolean {
  return a.protocol === b.protocol && a.low <= b.high && b.low <= a.high && a.ports[0] <= b.ports[1] && b.ports[0] <= a.ports[1];
}

function renderElement(element: Element): Json {
  const [start, end] = element.ports;
  return { concat: [{ prefix: { addr: element.address, len: element.length } }, element.protocol, start === end ? start : { range: [start, end] }] };
}

/** The verdict part of a rendered rule: everything after its last match. */
function verdictOf(rule: Json): Json[] {
  const expr = rule.expr as Json[];
  let last = -1;
  expr.forEach((statement, index) => {
    if ('match' in statement) last = index;
  });
  return expr.slice(last + 1);
}

function ruleBody(command: Json): Json {
  return (command.add as Json).rule as Json;
}

/** Index of the state's ACL items by "list/number", to map a rendered rule back to its item via its comment. */
function indexItems(state: DesiredState): Map<string, AclItem> {
  return new Map(state.aclLists.flatMap((list) => list.items.map((item) => [`${list.id}/${item.number}`, item] as const)));
}

/** A run of neighbouring tcp/udp items with one verdict, to become one rule. */
interface Run {
  readonly first: Json;
  readonly verdict: string;
  readonly elements: Element[];
  readonly labels: string[];
}

function isRun(unit: Json | Run): unit is Run {
  return 'elements' in unit && 'verdict' in unit;
}

function renderRun(chain: string, field: 'saddr' | 'daddr', run: Run): Json {
  if (run.labels.length === 1) return run.first;
  const body = ruleBody(run.first);
  const left = { concat: [{ payload: { protocol: 'ip6', field } }, { meta: { key: 'l4proto' } }, { payload: { protocol: 'th', field: 'dport' } }] };
  const expr = [{ match: { op: '==', left, right: { set: run.elements.map(renderElement) } } }, ...verdictOf(body)];
  const comment = `${run.labels[0]} to ${run.labels[run.labels.length - 1]}`;
  return { add: { rule: { family: body.family, table: body.table, chain, comment, expr } } };
}

/** Merges the rules of one ACL chain; returns the new rule commands and the number of items merged into sets. */
function mergeChain(chain: string, rules: readonly Json[], items: Map<string, AclItem>): { commands: Json[]; merged: number; elements: number } {
  const field = chain.startsWith('ingress_') ? 'saddr' : 'daddr';
  const units: (Json | Run)[] = [];
  for (const command of rules) {
    const body = ruleBody(command);
    const found = /^acl (\S+) item (\d+)$/.exec(String(body.comment ?? ''));
    const item = found ? items.get(`${found[1]}/${found[2]}`) : undefined;
    const elements = item === undefined ? null : elementsOf(item);
    if (elements === null) {
      units.push(command);
      continue;
    }
    const verdict = JSON.stringify(verdictOf(body));
    const last = units[units.length - 1];
    if (last !== undefined && isRun(last) && last.verdict === verdict && !elements.some((a) => last.elements.some((b) => overlaps(a, b)))) {
      last.elements.push(...elements);
      last.labels.push(String(body.comment));
    } else {
      units.push({ first: command, verdict, elements: [...elements], labels: [String(body.comment)] });
    }
  }
  const runs = units.filter(isRun).filter((run) => run.labels.length > 1);
  return {
    commands: units.map((unit) => (isRun(unit) ? renderRun(chain, field, unit) : unit)),
    merged: runs.reduce((sum, run) => sum + run.labels.length, 0),
    elements: runs.reduce((sum, run) => sum + run.elements.length, 0),
  };
}

/** Replaces the forward chain's `iifname/oifname "<if>" counter jump <chain>` rules with one vmap rule per key. */
function renderVmapDispatch(rules: readonly Json[]): Json[] {
  const out: Json[] = [];
  const maps = new Map<string, unknown[]>();
  for (const command of rules) {
    const body = ruleBody(command);
    const expr = body.expr as Json[];
    const jump = expr.find((statement) => 'jump' in statement)?.jump as { target: string } | undefined;
    const match = (expr[0]?.match ?? null) as { left?: { meta?: { key?: string } }; right?: unknown } | null;
    const key = match?.left?.meta?.key;
    if (jump === undefined || (key !== 'iifname' && key !== 'oifname') || typeof match?.right !== 'string') {
      out.push(command);
      continue;
    }
    let entries = maps.get(key);
    if (entries === undefined) {
      entries = [];
      maps.set(key, entries);
      const data = { set: entries };
      out.push({ add: { rule: { family: body.family, table: body.table, chain: body.chain, comment: `${key} dispatch`, expr: [{ vmap: { key: { meta: { key } }, data } }] } } });
    }
    entries.push([match.right, { jump: { target: jump.target } }]);
  }
  return out;
}

/** The agent's document with merged ACL chains (and, with `isVmap`, a vmap dispatch in forward). */
export function renderMergedDocument(state: DesiredState, grouped: GroupedDocument, isVmap: boolean): { document: Document; summary: MergeSummary } {
  const items = indexItems(state);
  const chains: Json[] = [];
  const rules: Json[] = [];
  let mergedItems = 0;
  let setElements = 0;
  for (const [name, chain] of grouped.chains) {
    chains.push(chain.command);
    if (name === 'forward' && isVmap) rules.push(...renderVmapDispatch(chain.rules));
    else if (name.startsWith('ingress_') || name.startsWith('egress_')) {
      const { commands, merged, elements } = mergeChain(name, chain.rules, items);
      rules.push(...commands);
      mergedItems += merged;
      setElements += elements;
    } else rules.push(...chain.rules);
  }
  const table = { family: 'ip6', name: 'vr6_agent' };
  const nftables = [{ metainfo: { json_schema_version: 1 } }, { add: { table } }, { delete: { table } }, { add: { table } }, ...grouped.objects, ...chains, ...rules];
  const text = JSON.stringify(rules);
  return {
    document: { nftables },
    summary: {
      rules: rules.length,
      anonymousSets: (text.match(/"set":/g) ?? []).length,
      setElements,
      mergedItems,
    },
  };
}
