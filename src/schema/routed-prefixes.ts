import { z } from 'zod';
import { Ipv6Address, Ipv6Cidr } from './fields.js';
import { addressValue, formatPrefix, hostAddress, isInPrefix, isLinkLocal, type Ipv6Prefix } from './ipv6.js';
import type { DeepReadonly } from './validation.js';

/**
 * Routed prefixes: a block routed to one instance of a guest network, say
 * a /56 for the containers inside a VM or the clients of a VPN server.
 *
 * The desired state's schemaVersion says which form `routedPrefixes` takes:
 * - 1: plain CIDRs, meaning what they always meant: valid sources from the
 *   network (anti-spoofing), and never valid from anywhere else. Nothing is
 *   routed.
 * - 2: objects {prefix, nextHop, description?}: the VR routes the prefix via
 *   the instance's address, and it is a valid source from the network as in 1.
 * Each version refuses the other's form with a message naming its own.
 */

// RFC 6177 and RFC 7368 size a site's allocation from /48 to /56; a /40 covers
// a pod of them. Longer than /64 would cut a link's /64 (RFC 4291 §2.5.1).
export const ROUTED_PREFIX_LENGTHS = { min: 40, max: 64 } as const;

const DESCRIPTION = /^[\x20-\x7e]*$/;

/** The object form (schemaVersion 2): a prefix routed to one instance's address on the network. */
export const RoutedPrefixObject = z.strictObject({
  prefix: Ipv6Cidr.meta({ description: `the routed prefix, /${ROUTED_PREFIX_LENGTHS.min} to /${ROUTED_PREFIX_LENGTHS.max}` }),
  nextHop: Ipv6Address.meta({ description: "the instance's address on this network: inside its /64, or link-local" }),
  description: z.string().max(200).regex(DESCRIPTION, { message: 'must be printable ASCII' }).optional(),
});

/**
 * One entry of guestNetworks[].routedPrefixes in either form, as one shape:
 * `nextHop` is null for the plain form, which routes nothing.
 */
export const RoutedPrefix = z
  .union([
    Ipv6Cidr.meta({ description: 'schemaVersion 1 only: a prefix that is a valid source from this network; not routed' }),
    RoutedPrefixObject,
  ])
  .transform((entry) =>
    'nextHop' in entry
      ? { prefix: entry.prefix, nextHop: entry.nextHop as string | null, description: entry.description ?? null }
      : { prefix: entry, nextHop: null as string | null, description: null as string | null },
  );
export type RoutedPrefix = DeepReadonly<z.output<typeof RoutedPrefix>>;

/** The parts of a desired state the routed prefixes are checked against. */
interface RoutedState {
  readonly schemaVersion: 1 | 2;
  readonly guestNetworks: readonly {
    readonly prefix: Ipv6Prefix;
    readonly gateway?: string | undefined;
    readonly routedPrefixes: readonly RoutedPrefix[];
  }[];
  readonly sharedNetworks?: readonly {
    readonly prefix: Ipv6Prefix;
    readonly address: string;
    readonly routedPrefixes: readonly RoutedPrefix[];
  }[];
}

type Path = readonly (string | number)[];
type Issue = (path: (string | number)[], message: string) => void;

/** A network that holds routed prefixes, as the checks see it: where it is, its /64, the VR's address on it, and whether a next hop may be link-local. */
interface RoutedOwner {
  readonly at: Path;
  readonly prefix: Ipv6Prefix;
  readonly ownAddress: string;
  readonly isLinkLocalAllowed: boolean;
  readonly routedPrefixes: readonly RoutedPrefix[];
}

/**
 * The networks with routed prefixes: the guest networks, whose next hop may be link-local, and (schemaVersion 2) the
 * shared networks, whose next hop goes out in a BGP UPDATE and must be global (RFC 2545 §2: the global address is the
 * next hop, a link-local one only beside it).
 */
function ownersOf(state: RoutedState): RoutedOwner[] {
  return [
    ...state.guestNetworks.map((network, i) => ({
      at: ['guestNetworks', i],
      prefix: network.prefix,
      ownAddress: network.gateway ?? hostAddress(network.prefix, 1),
      isLinkLocalAllowed: true,
      routedPrefixes: network.routedPrefixes,
    })),
    ...(state.schemaVersion === 2 ? (state.sharedNetworks ?? []) : []).map((network, i) => ({
      at: ['sharedNetworks', i],
      prefix: network.prefix,
      ownAddress: network.address,
      isLinkLocalAllowed: false,
      routedPrefixes: network.routedPrefixes,
    })),
  ];
}

/**
 * The checks of routed prefixes that span the state: the form matches the
 * schemaVersion; in version 2 a prefix is /40 to /64, its next hop is on the
 * network, and it overlaps no other routed prefix; in both versions it
 * overlaps no guest prefix, no shared one and not the public one. The same
 * checks hold for a guest network's routed prefixes and a shared network's
 * (whose next hop must be global). Overlaps are found by one sort, not by
 * comparing every pair: a state may route a thousand prefixes.
 */
export function refineRoutedPrefixes(state: RoutedState, publicPrefix: Ipv6Prefix | undefined, issue: Issue): void {
  const isObjectForm = state.schemaVersion === 2;
  const owners = ownersOf(state);
  for (const owner of owners) {
    owner.routedPrefixes.forEach((routed, k) => {
      if (!isObjectForm) {
        if (routed.nextHop !== null) issue(entryPath(owner, k), 'the object form {prefix, nextHop} needs schemaVersion 2; schemaVersion 1 takes plain CIDRs');
        return;
      }
      if (routed.nextHop === null) {
        issue(entryPath(owner, k), 'is a plain CIDR: schemaVersion 2 takes {"prefix": "<cidr>", "nextHop": "<instance address>", "description"?: "..."}');
        return;
      }
      const { length } = routed.prefix;
      if (length < ROUTED_PREFIX_LENGTHS.min || length > ROUTED_PREFIX_LENGTHS.max) {
        issue(entryPath(owner, k, 'prefix'), `must be a /${ROUTED_PREFIX_LENGTHS.min} to /${ROUTED_PREFIX_LENGTHS.max}`);
      }
      const nextHop = routed.nextHop;
      const isOnLink = isInPrefix(nextHop, owner.prefix) || (owner.isLinkLocalAllowed && isLinkLocal(nextHop));
      if (!isOnLink) {
        const where = `inside the network's prefix ${formatPrefix(owner.prefix)}`;
        issue(entryPath(owner, k, 'nextHop'), owner.isLinkLocalAllowed ? `must be link-local or ${where}` : `must be a global address ${where}: a BGP next hop is global`);
      } else if (nextHop === owner.prefix.address || nextHop === owner.ownAddress) {
        issue(entryPath(owner, k, 'nextHop'), "is the VR's own address on the network, not an instance's");
      }
    });
  }
  refineOverlaps(owners, publicPrefix, isObjectForm, issue);
}

// The path of a network's routed prefix k, built only for an issue: most entries of most states have none.
function entryPath(owner: RoutedOwner, k: number, ...rest: string[]): (string | number)[] {
  return [...owner.at, 'routedPrefixes', k, ...rest];
}

/** A prefix of the state as an interval of addresses, with what names it. */
interface Span {
  readonly start: bigint;
  readonly end: bigint;
  readonly length: number;
  /** Whose it is: null for the public prefix, else a network, with `routed` the index of its routed prefix or -1 for its own. */
  readonly owner: RoutedOwner | null;
  readonly routed: number;
  /** Its place in the state's order. */
  readonly order: number;
}

const boundsOf = new WeakMap<Ipv6Prefix, { readonly start: bigint; readonly end: bigint }>();

// Kept per prefix object: a state that repeats its routed prefixes repeats the objects (ipv6.ts, desired-state-parser.ts).
function spanOf(prefix: Ipv6Prefix, owner: RoutedOwner | null, routed: number, order: number): Span {
  let bounds = boundsOf.get(prefix);
  if (bounds === undefined) {
    const start = addressValue(prefix.address);
    bounds = { start, end: start + (1n << BigInt(128 - prefix.length)) - 1n };
    boundsOf.set(prefix, bounds);
  }
  return { start: bounds.start, end: bounds.end, length: prefix.length, owner, routed, order };
}

const isRouted = (span: Span) => span.routed >= 0;

function pathOf(span: Span): (string | number)[] {
  return span.routed >= 0 ? entryPath(span.owner!, span.routed) : [...span.owner!.at, 'prefix'];
}

// How a message names a span; built only for a clash.
function nameOf(span: Span): string {
  if (span.owner === null) return 'the public prefix';
  const path = pathOf(span);
  return `${path[0]}[${path[1]}]${path.slice(2).map((part) => (typeof part === 'number' ? `[${part}]` : `.${part}`)).join('')}`;
}

/**
 * Prefixes either nest or are disjoint, so after sorting by start (the
 * shorter first on a tie) each one overlaps exactly the spans still open
 * on a stack, and the innermost of them is on top.
 */
function refineOverlaps(owners: readonly RoutedOwner[], publicPrefix: Ipv6Prefix | undefined, withEachOther: boolean, issue: Issue): void {
  const spans: Span[] = [];
  if (publicPrefix) spans.push(spanOf(publicPrefix, null, -1, spans.length));
  for (const owner of owners) {
    spans.push(spanOf(owner.prefix, owner, -1, spans.length));
    owner.routedPrefixes.forEach((routed, k) => spans.push(spanOf(routed.prefix, owner, k, spans.length)));
  }
  spans.sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : a.length - b.length || rank(a) - rank(b)));
  // Per routed prefix, the first clash with a network's or the public prefix, else with another routed one.
  const clashes = new Map<Span, { withFixed: Span | null; withRouted: Span | null }>();
  const note = (routed: Span, other: Span) => {
    const clash = clashes.get(routed) ?? { withFixed: null, withRouted: null };
    if (!isRouted(other)) clash.withFixed ??= other;
    else if (withEachOther) clash.withRouted ??= other;
    clashes.set(routed, clash);
  };
  const open: Span[] = [];
  for (const span of spans) {
    while (open.length > 0 && open[open.length - 1]!.end < span.start) open.pop();
    for (let k = open.length - 1; k >= 0; k--) {
      const outer = open[k]!;
      if (isRouted(span)) note(span, outer);
      else if (isRouted(outer)) note(outer, span);
    }
    open.push(span);
  }
  const ordered = [...clashes].sort(([a], [b]) => a.order - b.order);
  for (const [span, clash] of ordered) {
    if (clash.withFixed !== null) issue(pathOf(span), `overlaps ${nameOf(clash.withFixed)}`);
    else if (clash.withRouted !== null) issue(pathOf(span), `${isSame(span, clash.withRouted) ? 'duplicates' : 'overlaps'} ${nameOf(clash.withRouted)}`);
  }
}

// On a tie, the fixed prefixes come first, so a routed one equal to a guest /64 names the /64.
function rank(span: Span): number {
  return isRouted(span) ? 1 : 0;
}

function isSame(a: Span, b: Span): boolean {
  return a.start === b.start && a.length === b.length;
}
