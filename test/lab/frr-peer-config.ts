/**
 * The config of the lab's FRR peer (test/lab/frr-peer.ts), one file per
 * daemon. Policy: eBGP only, with route-maps that permit everything in and
 * out, stated because FRR 8.4 enforces RFC 8212 for eBGP. A prefix the peer
 * originates is a `network` statement, which bgpd's import check (on by
 * default in 8.4) sends only while a route for it is in the RIB: the peer
 * puts a kernel blackhole route in its namespace, which zebra hands to bgpd.
 * That needs no staticd, and traffic for the prefix stops at the peer
 * instead of leaving by its default route. The default route is
 * `default-originate`, which needs no route, so a peer whose namespace
 * routes by a default (the far host) keeps it.
 *
 * Timers are short so that tests wait seconds: connect retry 1 s, hold 9 s,
 * `bgp route-map delay-timer 1` (0 turns policy updates off on 8.4).
 */

/** A configured neighbour of the peer. */
export interface FrrNeighbor {
  readonly address: string;
  readonly remoteAs: number;
  /** TCP-MD5 key (RFC 2385). */
  readonly password?: string;
  readonly multihopTtl?: number;
  /**
   * The local address the session comes from, for a neighbour that expects one that is not the
   * nearest. With an address of another interface than the one a neighbour shares a link on, FRR
   * 8.4 sends that other interface's link-local as the next hop, which the neighbour installs and
   * cannot reach: give a loopback address (no link-local, so the global next hop alone).
   */
  readonly updateSource?: string;
  /** BFD for this neighbour, both intervals this many ms; starts bfdd. */
  readonly bfdIntervalMs?: number;
}

/** Neighbours accepted from any address of `prefix` (`bgp listen range` with a peer group); passive: FRR never dials a dynamic neighbour. */
export interface FrrListenRange {
  readonly prefix: string;
  readonly remoteAs: number;
  readonly password?: string;
  readonly multihopTtl?: number;
}

/** What the peer is: its AS and router id, its neighbours, and what it announces. */
export interface FrrPeerSpec {
  readonly localAs: number;
  readonly routerId: string;
  readonly neighbors: readonly FrrNeighbor[];
  readonly listenRange?: FrrListenRange;
  /** Prefixes to originate. */
  readonly prefixes?: readonly string[];
  /** Send ::/0 to every neighbour. */
  readonly originateDefault?: boolean;
  /** More prefixes to originate, the ones a neighbour's import filter should refuse (same mechanism as `prefixes`). */
  readonly extraPrefixes?: readonly string[];
}

const RANGE_GROUP = 'RANGE';

/** The daemons a peer runs. */
export type Daemon = 'zebra' | 'bfdd' | 'bgpd';

/** A neighbour's (or the range group's) session lines, keyed by what they set, so that a change can say `no` to what went. */
export function renderNeighborLines(target: string, n: Omit<FrrNeighbor, 'address'>): Map<string, string> {
  const lines = new Map([
    ['remote-as', `neighbor ${target} remote-as ${n.remoteAs}`],
    ['timers', `neighbor ${target} timers 3 9`],
    ['connect', `neighbor ${target} timers connect 1`],
  ]);
  if (n.password) lines.set('password', `neighbor ${target} password ${n.password}`);
  if (n.multihopTtl) lines.set('multihop', `neighbor ${target} ebgp-multihop ${n.multihopTtl}`);
  if (n.updateSource) lines.set('update-source', `neighbor ${target} update-source ${n.updateSource}`);
  if (n.bfdIntervalMs) lines.set('bfd', `neighbor ${target} bfd`).set('bfd-profile', `neighbor ${target} bfd profile lab`);
  return lines;
}

/** A neighbour's (or the range group's) IPv6 unicast lines: activated, the permit-all route-maps, and the default route when the spec sends it. */
export function renderFamilyLines(target: string, spec: FrrPeerSpec): string[] {
  const lines = [`neighbor ${target} activate`, `neighbor ${target} route-map ANY in`, `neighbor ${target} route-map ANY out`];
  return spec.originateDefault ? [...lines, `neighbor ${target} default-originate`] : lines;
}

/** Every prefix the spec originates, each backed by a kernel blackhole route. */
export const originatedBy = (spec: FrrPeerSpec) => [...(spec.prefixes ?? []), ...(spec.extraPrefixes ?? [])];

/** The configs by daemon, one file each: a daemon reading another's block drops what follows its `exit`. */
export function renderPeerConfigs(spec: FrrPeerSpec): Record<Daemon, string> {
  const range = spec.listenRange;
  const isMultihop = spec.neighbors.some((n) => n.multihopTtl) || range?.multihopTtl !== undefined;
  // A multihop neighbour may be reached only by the default route, which next-hop tracking ignores unless told.
  const zebra = ['frr defaults traditional', ...(isMultihop ? ['ipv6 nht resolve-via-default'] : [])];
  const bfd = spec.neighbors.find((n) => n.bfdIntervalMs)?.bfdIntervalMs;
  const bfdd = ['frr defaults traditional', ...(bfd ? ['bfd', ' profile lab', `  receive-interval ${bfd}`, `  transmit-interval ${bfd}`, ' exit', 'exit'] : [])];
  const bgp = ['frr defaults traditional', 'route-map ANY permit 10', 'exit', 'bgp route-map delay-timer 1'];
  bgp.push(`router bgp ${spec.localAs}`, ` bgp router-id ${spec.routerId}`, ' no bgp default ipv4-unicast');
  if (range) bgp.push(` neighbor ${RANGE_GROUP} peer-group`, ...[...renderNeighborLines(RANGE_GROUP, range).values()].map((l) => ` ${l}`), ` bgp listen range ${range.prefix} peer-group ${RANGE_GROUP}`);
  for (const n of spec.neighbors) bgp.push(...[...renderNeighborLines(n.address, n).values()].map((l) => ` ${l}`));
  bgp.push(' address-family ipv6 unicast', ...originatedBy(spec).map((prefix) => `  network ${prefix}`));
  for (const target of [...(range ? [RANGE_GROUP] : []), ...spec.neighbors.map((n) => n.address)]) bgp.push(...renderFamilyLines(target, spec).map((l) => `  ${l}`));
  bgp.push(' exit-address-family', 'exit');
  return { zebra: `${zebra.join('\n')}\n`, bfdd: `${bfdd.join('\n')}\n`, bgpd: `${bgp.join('\n')}\n` };
}
