import type { DesiredState } from '../schema/desired-state.js';
import { formatPrefix, isInPrefix } from '../schema/ipv6.js';
import type { OspfSettings } from '../schema/routing.js';
import { OSPF_INSTALL_FILTER, OSPF_POLICY, OSPF_ROUTER } from '../model/frr-words.js';
import type { FrrConfigLine } from '../model/observed.js';

/**
 * ospf6d's share of frr.conf, and zebra's one line for it, in the form
 * `show running-config` prints them (docs/routing.md, "OSPFv3").
 *
 * Only the public interface is in OSPF, in the state's area, with its cost
 * and timers. The guest /64s enter as external routes: `redistribute
 * connected` through a route-map that permits exactly the guest /64s to be
 * announced, and each aggregate is a `summary-address`, which ospf6d
 * originates in place of the /64s it covers, only while one of them is
 * redistributed, that is while its guest link is up with its gateway
 * address, and for which it installs the discard route (blackhole) itself.
 * As BGP's `aggregate-address … summary-only`, so the upstream learns the
 * same prefixes under either protocol.
 *
 * OSPF has no per-neighbour import policy: every router of the area floods
 * every route to every other. What the VR installs is filtered where routes
 * enter the kernel, in zebra (`ipv6 protocol ospf6 route-map`): the
 * aggregates' own discard routes, the default route when accepted, nothing
 * else. ospf6d still computes the others; they stay inactive in zebra.
 */
export function renderOspfLines(state: DesiredState): FrrConfigLine[] {
  const ospf = state.routing.ospf;
  if (state.routing.protocol !== 'ospf' || ospf === undefined) return [];
  const top = (line: string): FrrConfigLine => ({ context: [], line });
  const inRouter = (line: string): FrrConfigLine => ({ context: [OSPF_ROUTER], line });
  const onPublic = (line: string): FrrConfigLine => ({ context: [`interface ${state.public.interface}`], line });
  const summaries = ospf.announce.guestPrefixes ? [] : ospf.announce.aggregates.map((aggregate) => `summary-address ${formatPrefix(aggregate)}`);
  return [
    ...renderPrefixLists(state, ospf).map(top),
    ...[OSPF_POLICY.announce, OSPF_POLICY.accept].map((name) => ({ context: [`route-map ${name} permit 10`], line: `match ipv6 address prefix-list ${name}` })),
    top(OSPF_INSTALL_FILTER),
    // The router ID first: an instance without one (no IPv4 address to take it from) forms no adjacency.
    inRouter(`ospf6 router-id ${ospf.routerId}`),
    inRouter(`redistribute connected route-map ${OSPF_POLICY.announce}`),
    ...summaries.map(inRouter),
    ...renderPublicInterface(ospf).map(onPublic),
  ];
}

// ospf6d's interface timers (RFC 2328 §C.3's suggestions), which its running config leaves unprinted.
const DEFAULT_HELLO_SECONDS = 10;
const DEFAULT_DEAD_SECONDS = 40;

function renderPublicInterface(ospf: OspfSettings): string[] {
  return [
    // Stated even at 10: without it ospf6d derives the cost from the link's speed.
    `ipv6 ospf6 cost ${ospf.cost}`,
    ...(ospf.deadIntervalSeconds === DEFAULT_DEAD_SECONDS ? [] : [`ipv6 ospf6 dead-interval ${ospf.deadIntervalSeconds}`]),
    ...(ospf.helloIntervalSeconds === DEFAULT_HELLO_SECONDS ? [] : [`ipv6 ospf6 hello-interval ${ospf.helloIntervalSeconds}`]),
    // The area last: joining starts the wait timer (RFC 2328 §9.4) at the dead interval of that moment,
    // and a shorter one set afterwards does not shorten it: measured, 40 s in Waiting instead of 4.
    `ipv6 ospf6 area ${ospf.area}`,
  ];
}

function renderPrefixLists(state: DesiredState, ospf: OspfSettings): string[] {
  const { aggregates, guestPrefixes } = ospf.announce;
  // The /64s to redistribute: each one an aggregate covers (its summary takes their place), or all of them.
  const redistributed = state.guestNetworks
    .filter((network) => guestPrefixes || aggregates.some((aggregate) => isInPrefix(network.prefix.address, aggregate)))
    .map((network) => formatPrefix(network.prefix));
  // The discard routes ospf6d makes for its summaries are ospf6d's routes too: zebra must let them in.
  const installed = [...(guestPrefixes ? [] : aggregates.map(formatPrefix)), ...(ospf.accept === 'default-route' ? ['::/0'] : [])];
  const list = (name: string, seq: number, rest: string) => `ipv6 prefix-list ${name} seq ${seq} ${rest}`;
  const permits = (name: string, prefixes: readonly string[]) => [
    ...prefixes.map((prefix, i) => list(name, (i + 1) * 10, `permit ${prefix}`)),
    // Stated, so the list exists (and denies) even when it permits nothing.
    list(name, 100_000, 'deny any'),
  ];
  return [...permits(OSPF_POLICY.announce, redistributed), ...permits(OSPF_POLICY.accept, installed)];
}
