import type { DesiredState } from '../schema/desired-state.js';
import type { SharedNetwork } from '../schema/shared-networks.js';
import { formatPrefix, isInPrefix } from '../schema/ipv6.js';
import type { BfdSettings, BgpPeer, BgpSettings } from '../schema/routing.js';
import { BGP_ADDRESS_FAMILY, BGP_POLICY, NEXT_HOP_POLICY_PREFIX, OWNED_BFD_PROFILE_PREFIX, RESOLVE_VIA_DEFAULT } from '../model/frr-words.js';
import { digestText } from '../model/digest.js';
import type { FrrConfigLine } from '../model/observed.js';
import { publicLinkLocalOf } from '../schema/redundancy.js';

/**
 * bgpd's and bfdd's share of frr.conf, as lines under their headers in the
 * form `show running-config` prints them, so that the planner can compare
 * them with the running daemons line by line (docs/routing.md).
 *
 * Each peer gets a prefix-list and a route-map in both directions (RFC 8212):
 * out, the one announce list, which names exactly the aggregates (and, when
 * asked, the guest /64s and routed prefixes), or for a peer on a shared link
 * that list and the link's own routed prefixes; in, nothing or the default
 * route only. The filter is the prefix-list, applied at once on a change;
 * the route-map is the policy hook FRR re-evaluates after `bgp route-map
 * delay-timer`.
 *
 * An aggregate is announced with `summary-only` from a `network` per guest
 * /64 it covers: bgpd originates it only while one of those /64s is on a
 * link that is up, so the VR announces nothing it cannot serve, and installs
 * the aggregate's discard route (blackhole) itself for as long as it does.
 */
export function renderBgpLines(state: DesiredState): FrrConfigLine[] {
  const bgp = state.routing.bgp;
  if (state.routing.protocol !== 'bgp' || bgp === undefined) return [];
  const top = (line: string): FrrConfigLine => ({ context: [], line });
  const router = [`router bgp ${bgp.localAs}`];
  const family = [...router, BGP_ADDRESS_FAMILY];
  const inRouter = (line: string): FrrConfigLine => ({ context: router, line });
  const inFamily = (line: string): FrrConfigLine => ({ context: family, line });
  return [
    // 1 s, not 0: on FRR 8.4, 0 turns route-map updates off altogether (docs/research/bgp.md).
    top(`bgp route-map delay-timer ${ROUTE_MAP_DELAY_SECONDS}`),
    ...renderPrefixLists(state, bgp).map(top),
    ...renderRouteMaps(state),
    ...renderNextHopRouteMaps(state),
    ...renderBfdProfiles(bgp.peers),
    // A peer further away is reached by the default route, usually the one the upstream's RAs give; zebra's
    // next-hop tracking ignores the default route unless told, and bgpd then never connects (docs/research/bgp.md).
    ...(bgp.peers.some((peer) => peer.multihopTtl !== undefined) ? [top(RESOLVE_VIA_DEFAULT)] : []),
    inRouter(`bgp router-id ${bgp.routerId}`),
    inRouter('bgp log-neighbor-changes'),
    inRouter('no bgp default ipv4-unicast'),
    ...bgp.peers.flatMap((peer) => renderPeer(peer).map(inRouter)),
    ...renderAnnouncements(state, bgp).map(inFamily),
    ...bgp.peers.flatMap((peer) => renderPeerFamily(peer, announcePolicyOf(state, peer)).map(inFamily)),
  ];
}

const ROUTE_MAP_DELAY_SECONDS = 1;
// The ConnectRetry timer (RFC 4271 §10) is 120 s by default: a peer that was down is tried again sooner.
const CONNECT_RETRY_SECONDS = 5;
// bfdd's defaults, which its running config leaves unprinted.
const BFD_DEFAULTS: BfdSettings = { receiveIntervalMs: 300, transmitIntervalMs: 300, detectMultiplier: 3 };

/** The guest /64s a peer is sent: each one an aggregate covers, or every one when they are announced themselves. */
function announcedNetworks(state: DesiredState, bgp: BgpSettings): string[] {
  return state.guestNetworks
    .filter((network) => bgp.announce.guestPrefixes || bgp.announce.aggregates.some((aggregate) => isInPrefix(network.prefix.address, aggregate)))
    .map((network) => formatPrefix(network.prefix));
}

/**
 * The routed prefixes (schemaVersion 2) no aggregate covers: each is announced by itself. One inside an
 * aggregate needs nothing: the upstream routes the aggregate to the VR, and the VR routes on to the instance.
 * bgpd originates it while the agent's kernel route to it is in zebra's table (network import-check).
 */
function announcedRoutedPrefixes(state: DesiredState, bgp: BgpSettings): string[] {
  return state.guestNetworks.flatMap((network) =>
    network.routedPrefixes
      .filter((routed) => routed.nextHop !== null && !bgp.announce.aggregates.some((aggregate) => isInPrefix(routed.prefix.address, aggregate) && aggregate.length <= routed.prefix.length))
      .map((routed) => formatPrefix(routed.prefix)),
  );
}

function renderPrefixLists(state: DesiredState, bgp: BgpSettings): string[] {
  const announced = [
    ...bgp.announce.aggregates.map(formatPrefix),
    ...(bgp.announce.guestPrefixes ? announcedNetworks(state, bgp) : []),
    ...announcedRoutedPrefixes(state, bgp),
  ];
  const list = (name: string, seq: number, rest: string) => `ipv6 prefix-list ${name} seq ${seq} ${rest}`;
  const permits = (name: string, prefixes: readonly string[]) => [
    // Exact matches only: a more specific prefix inside an aggregate is never sent by accident.
    ...prefixes.map((prefix, i) => list(name, (i + 1) * 10, `permit ${prefix}`)),
    // Stated, so the list exists (and denies) even when it announces nothing.
    list(name, 100_000, 'deny any'),
  ];
  return [
    ...permits(BGP_POLICY.announce, announced),
    ...state.sharedNetworks.flatMap((network) => permits(sharedAnnouncePolicy(network), [...announced, ...sharedAnnouncements(network).map(({ prefix }) => prefix)])),
    list(BGP_POLICY.acceptDefault, 10, 'permit ::/0'),
    list(BGP_POLICY.acceptDefault, 100_000, 'deny any'),
    list(BGP_POLICY.acceptNothing, 100_000, 'deny any'),
  ];
}

function renderRouteMaps(state: DesiredState): FrrConfigLine[] {
  const entry = (name: string) => [`route-map ${name} permit 10`];
  const match = (name: string): FrrConfigLine => ({ context: entry(name), line: `match ipv6 address prefix-list ${name}` });
  return [
    match(BGP_POLICY.announce),
    ...renderPairNextHops(state).map((line) => ({ context: entry(BGP_POLICY.announce), line })),
    ...state.sharedNetworks.map((network) => match(sharedAnnouncePolicy(network))),
    match(BGP_POLICY.acceptDefault),
    { context: [], line: `route-map ${BGP_POLICY.acceptNothing} deny 10` },
  ];
}

/**
 * The announce policy of the peers on a shared link: the one announce list
 * and the link's own routed prefixes. Those go to those peers alone: bgpd
 * keeps the instance as next hop only towards a peer on the instance's
 * subnet (RFC 4271 §5.1.3), and puts itself in its place towards any other,
 * which would then route the prefix to the VR, which does not forward it
 * there. Named by a digest of the network's id, which may hold characters
 * FRR's words take otherwise.
 */
function sharedAnnouncePolicy(network: SharedNetwork): string {
  return `${BGP_POLICY.announce}-${digestText(network.id).slice(0, 12)}`;
}

/** A peer's announce policy: its shared link's, when it is on one, else the one announce list. */
function announcePolicyOf(state: DesiredState, peer: BgpPeer): string {
  const shared = state.sharedNetworks.find((network) => isInPrefix(peer.address, network.prefix));
  return shared === undefined ? BGP_POLICY.announce : sharedAnnouncePolicy(shared);
}

/**
 * In a pair, what the primary announces names the pair's addresses as next
 * hop, global and link-local, not this VR's own (RFC 4271 §5.1.3: a next
 * hop on the shared link). An upstream that still holds a path of a VR that
 * is gone (its session waits for the hold timer) then sends to whichever VR
 * is primary now, and the guests' traffic does not wait for BGP.
 */
function renderPairNextHops(state: DesiredState): string[] {
  const redundancy = state.redundancy;
  if (redundancy === undefined) return [];
  return [`set ipv6 next-hop global ${redundancy.publicAddress.address}`, `set ipv6 next-hop local ${publicLinkLocalOf(redundancy)}`];
}

/** A shared network's routed prefix as bgpd originates it: the prefix, its instance and the route-map that sets it as next hop. */
interface SharedAnnouncement {
  readonly prefix: string;
  readonly nextHop: string;
  readonly routeMap: string;
}

/**
 * The shared networks' routed prefixes, each announced by itself with the
 * instance's address as a third-party next hop (RFC 4271 §5.1.3): the route-
 * map of its `network` line sets it at origination, and bgpd keeps it
 * towards a peer on the same subnet. The route-map's name is a digest of
 * prefix and next hop, so a move is a new route-map and one `network`
 * command, which bgpd applies at once, not after its route-map delay timer.
 */
function sharedAnnouncements(network: SharedNetwork): SharedAnnouncement[] {
  return network.routedPrefixes.flatMap((routed) => {
    if (routed.nextHop === null) return [];
    const prefix = formatPrefix(routed.prefix);
    return [{ prefix, nextHop: routed.nextHop, routeMap: `${NEXT_HOP_POLICY_PREFIX}${digestText(`${prefix} ${routed.nextHop}`).slice(0, 16)}` }];
  });
}

function renderNextHopRouteMaps(state: DesiredState): FrrConfigLine[] {
  return state.sharedNetworks.flatMap(sharedAnnouncements).map(({ nextHop, routeMap }) => ({ context: [`route-map ${routeMap} permit 10`], line: `set ipv6 next-hop global ${nextHop}` }));
}

/** A BFD profile's name says its timers, so a change of timers is a new profile and never an edit bfdd has no undo for. */
export function bfdProfileName(bfd: BfdSettings): string {
  return `${OWNED_BFD_PROFILE_PREFIX}${bfd.receiveIntervalMs}-${bfd.transmitIntervalMs}-${bfd.detectMultiplier}`;
}

function renderBfdProfiles(peers: readonly BgpPeer[]): FrrConfigLine[] {
  const profiles = new Map(peers.flatMap((peer) => (peer.bfd ? [[bfdProfileName(peer.bfd), peer.bfd] as const] : [])));
  return [...profiles].flatMap(([name, bfd]) => {
    const lines = [
      ...(bfd.detectMultiplier === BFD_DEFAULTS.detectMultiplier ? [] : [`detect-multiplier ${bfd.detectMultiplier}`]),
      ...(bfd.transmitIntervalMs === BFD_DEFAULTS.transmitIntervalMs ? [] : [`transmit-interval ${bfd.transmitIntervalMs}`]),
      ...(bfd.receiveIntervalMs === BFD_DEFAULTS.receiveIntervalMs ? [] : [`receive-interval ${bfd.receiveIntervalMs}`]),
    ];
    const header = `profile ${name}`;
    return lines.length === 0 ? [{ context: ['bfd'], line: header }] : lines.map((line) => ({ context: ['bfd', header], line }));
  });
}

/** A peer's session settings, in the order bgpd prints them. */
function renderPeer(peer: BgpPeer): string[] {
  const n = `neighbor ${peer.address}`;
  return [
    `${n} remote-as ${peer.remoteAs}`,
    ...(peer.description ? [`${n} description ${peer.description}`] : []),
    ...(peer.bfd ? [`${n} bfd`, `${n} bfd profile ${bfdProfileName(peer.bfd)}`] : []),
    ...(peer.password ? [`${n} password ${peer.password}`] : []),
    ...(peer.multihopTtl !== undefined ? [`${n} ebgp-multihop ${peer.multihopTtl}`] : []),
    ...(peer.ttlSecurityHops !== undefined ? [`${n} ttl-security hops ${peer.ttlSecurityHops}`] : []),
    `${n} timers ${peer.keepaliveSeconds} ${peer.holdTimeSeconds}`,
    `${n} timers connect ${CONNECT_RETRY_SECONDS}`,
    ...(peer.hasGracefulRestart ? [`${n} graceful-restart`] : []),
  ];
}

function renderAnnouncements(state: DesiredState, bgp: BgpSettings): string[] {
  // Without summary-only, the /64s go out beside their aggregate.
  const mode = bgp.announce.guestPrefixes ? '' : ' summary-only';
  return [
    ...announcedNetworks(state, bgp).map((prefix) => `network ${prefix}`),
    ...announcedRoutedPrefixes(state, bgp).map((prefix) => `network ${prefix}`),
    ...state.sharedNetworks.flatMap(sharedAnnouncements).map(({ prefix, routeMap }) => `network ${prefix} route-map ${routeMap}`),
    ...bgp.announce.aggregates.map((aggregate) => `aggregate-address ${formatPrefix(aggregate)}${mode}`),
  ];
}

/** A peer's address-family lines, in the order bgpd prints them. */
function renderPeerFamily(peer: BgpPeer, announce: string): string[] {
  const n = `neighbor ${peer.address}`;
  const accept = peer.accept === 'default-route' ? BGP_POLICY.acceptDefault : BGP_POLICY.acceptNothing;
  return [
    `${n} activate`,
    `${n} maximum-prefix ${peer.maxPrefixes}`,
    `${n} prefix-list ${accept} in`,
    `${n} prefix-list ${announce} out`,
    `${n} route-map ${accept} in`,
    `${n} route-map ${announce} out`,
  ];
}
