import type { Ipv6Prefix } from '../schema/ipv6.js';

/**
 * The libnftables JSON statements (libnftables-json(5), "STATEMENTS") that the
 * firewall renderer uses, and small builders for them. Only the subset the
 * agent emits is typed; every shape here was checked against `nft -j -c` 1.0.6.
 */

/** A packet or connection field on the left of a match. */
export type NftLeft =
  | { readonly meta: { readonly key: 'iif' | 'iifname' | 'oifname' | 'l4proto' } }
  | { readonly ct: { readonly key: 'state' } }
  | { readonly payload: NftPayloadField };

/** A header field, named the way nft names it. */
export type NftPayloadField =
  | { readonly protocol: 'ip6'; readonly field: 'saddr' | 'daddr' | 'hoplimit' }
  | { readonly protocol: 'icmpv6'; readonly field: 'type' | 'code' }
  | { readonly protocol: 'tcp' | 'udp'; readonly field: 'dport' };

/** An address prefix value. */
export interface NftPrefix {
  readonly prefix: { readonly addr: string; readonly len: number };
}

/** An inclusive range value, e.g. a port range. */
export interface NftRange {
  readonly range: readonly [number, number];
}

/** An element of an anonymous set. */
export type NftSetElement = string | number | NftPrefix | NftRange;

/** An anonymous set: the match succeeds when the field equals any element. */
export interface NftSet {
  readonly set: readonly NftSetElement[];
}

/** The right side of a match; a bare string array is the flag list of `ct state`. */
export type NftRight = string | number | readonly string[] | NftPrefix | NftRange | NftSet;

/** `left op right`. */
export interface NftMatch {
  readonly match: { readonly op: '==' | '!=' | 'in'; readonly left: NftLeft; readonly right: NftRight };
}

/** A verdict statement. */
export type NftVerdict =
  | { readonly accept: null }
  | { readonly drop: null }
  | { readonly return: null }
  | { readonly jump: { readonly target: string } };

/** An anonymous counter (`null` lets nft start it at zero), or a reference to a named counter object. */
export interface NftCounter {
  readonly counter: null | string;
}

/** A verdict map: the value of `key` picks the verdict, e.g. the chain to jump to. */
export interface NftVerdictMap {
  readonly vmap: {
    readonly key: { readonly meta: { readonly key: 'iifname' | 'oifname' } };
    readonly data: { readonly set: readonly (readonly [string, NftVerdict])[] };
  };
}

/** One element of a rule's `expr` array. */
export type NftExpr = NftMatch | NftCounter | NftVerdict | NftVerdictMap;

/** One rule: its `expr` array and an optional comment (shown by `nft list`). */
export interface NftRule {
  readonly expr: readonly NftExpr[];
  readonly comment?: string;
}

/** `accept`. */
export const ACCEPT: NftVerdict = { accept: null };
/** `return` to the calling chain. */
export const RETURN: NftVerdict = { return: null };
/** `counter drop`: every drop is counted, so its use can be reported later. */
export const COUNTED_DROP: readonly NftExpr[] = [{ counter: null }, { drop: null }];

/** `jump <chain>`. */
export function renderJump(target: string): NftVerdict {
  return { jump: { target } };
}

/** One value as itself, several as an anonymous set. */
export function renderValueOrSet(values: readonly NftSetElement[]): NftRight {
  const [only] = values;
  return values.length === 1 && only !== undefined ? only : { set: values };
}

/** `meta <key> <op> <right>`. */
export function renderMetaMatch(
  key: 'iif' | 'iifname' | 'oifname' | 'l4proto',
  right: NftRight,
  op: '==' | '!=' = '==',
): NftMatch {
  return { match: { op, left: { meta: { key } }, right } };
}

/** `<protocol> <field> <op> <right>`. */
export function renderPayloadMatch(field: NftPayloadField, right: NftRight, op: '==' | '!=' = '=='): NftMatch {
  return { match: { op, left: { payload: field }, right } };
}

/** `ct state <states>`; nft spells a flag test as op "in". */
export function renderCtStateMatch(states: readonly string[]): NftMatch {
  const [only] = states;
  return { match: { op: 'in', left: { ct: { key: 'state' } }, right: states.length === 1 && only ? only : states } };
}

/**
 * `meta l4proto ipv6-icmp icmpv6 type <types>`. The l4proto match is implied
 * by the payload match anyway (nft adds it as a dependency; the bytecode is
 * identical), but written out it makes `type != X` plainly mean "ICMPv6 only".
 */
export function renderIcmpTypeMatch(types: readonly number[], op: '==' | '!=' = '=='): NftExpr[] {
  return [
    renderMetaMatch('l4proto', 'ipv6-icmp'),
    renderPayloadMatch({ protocol: 'icmpv6', field: 'type' }, renderValueOrSet(types), op),
  ];
}

/** `icmpv6 code <codes>`. */
export function renderIcmpCodeMatch(codes: readonly number[]): NftMatch {
  return renderPayloadMatch({ protocol: 'icmpv6', field: 'code' }, renderValueOrSet(codes));
}

/** A prefix as an nft value. */
export function renderPrefix(prefix: Ipv6Prefix): NftPrefix {
  return { prefix: { addr: prefix.address, len: prefix.length } };
}

/**
 * `ip6 <saddr|daddr> <op> <prefixes>`, or nothing when the list contains ::/0
 * (it matches every address). Exact duplicates are dropped; nft merges
 * overlapping prefixes of an anonymous interval set by itself.
 */
export function renderAddressMatch(
  field: 'saddr' | 'daddr',
  prefixes: readonly Ipv6Prefix[],
  op: '==' | '!=' = '==',
): NftMatch[] {
  if (prefixes.some((prefix) => prefix.length === 0)) return [];
  const unique = new Map(prefixes.map((prefix) => [`${prefix.address}/${prefix.length}`, prefix]));
  const values = [...unique.values()].map(renderPrefix);
  return [renderPayloadMatch({ protocol: 'ip6', field }, renderValueOrSet(values), op)];
}
