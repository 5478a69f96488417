import { z } from 'zod';
import { Identifier, InterfaceName, Ipv6Address, Ipv6Prefix64 } from './fields.js';
import { formatPrefix, isInPrefix, isOverlapping, type Ipv6Prefix } from './ipv6.js';
import { RoutedPrefix } from './routed-prefixes.js';
import type { Routing } from './routing.js';
import type { DeepReadonly } from './validation.js';

/**
 * Shared networks (schemaVersion 2, docs/routing.md): a link where the
 * upstream router, not the VR, is the instances' gateway. The VR has an
 * address there and a BGP session with the upstream, and announces each
 * routed prefix with the instance's address as a third-party next hop
 * (RFC 4271 §5.1.3), so the upstream routes it straight to the instance and
 * a move is one UPDATE with a new next hop. The VR is not the instances'
 * router: no RAs, no gateway, no chains of its own. It only sends its own
 * guests' packets for the /64 and the routed prefixes onto the link, after
 * their egress check, as it would send them upstream.
 */

/** How many shared networks a VR takes: each is a link and a BGP peer's. */
export const SHARED_NETWORKS_MAX = 16;

/** One shared network: its link, its /64, the VR's address on it, and the prefixes announced for its instances. */
export const SharedNetwork = z.strictObject({
  id: Identifier,
  interface: InterfaceName,
  prefix: Ipv6Prefix64.meta({ description: "the link's /64; the upstream router is the instances' gateway in it" }),
  address: Ipv6Address.meta({ description: "the VR's own address in the /64, which the agent puts on the interface: bgpd's source towards the upstream" }),
  routedPrefixes: z
    .array(RoutedPrefix)
    .max(1024)
    .default([])
    .meta({ description: "{prefix, nextHop, description?}: announced over BGP with nextHop, the instance's global address in the /64, as next hop" }),
});
export type SharedNetwork = DeepReadonly<z.output<typeof SharedNetwork>>;

/** The parts of a desired state the shared networks are checked against. */
interface SharedState {
  readonly schemaVersion: 1 | 2;
  readonly public: { readonly interface: string };
  readonly guestNetworks: readonly { readonly id: string; readonly interface: string; readonly prefix: Ipv6Prefix }[];
  readonly sharedNetworks: readonly SharedNetwork[];
  readonly routing: Routing;
  readonly redundancy?: { readonly peer: { readonly interface: string } } | undefined;
}

/**
 * The checks of the shared networks that span the state: they need
 * schemaVersion 2 and BGP with a peer on each shared link (the third-party
 * next hop is kept only towards a peer on the same subnet, RFC 4271
 * §5.1.3); each has an id, an interface and a /64 of its own, and the VR's
 * address inside its /64; no peer is at that address or at the /64's
 * Subnet-Router anycast address. Their routed prefixes are checked with the guest
 * networks' (refineRoutedPrefixes).
 */
export function refineSharedNetworks(state: SharedState, publicPrefix: Ipv6Prefix | undefined, issue: (path: (string | number)[], message: string) => void): void {
  if (state.sharedNetworks.length === 0) return;
  if (state.schemaVersion !== 2) {
    issue(['sharedNetworks'], 'needs schemaVersion 2: its routedPrefixes take the object form {prefix, nextHop}');
    return;
  }
  if (state.redundancy !== undefined) {
    // In a pair the announcements name the pair's addresses as next hop (docs/redundancy.md, BGP), which would
    // override the instance's; and neither the pair's split of roles nor its failover is measured on a shared link.
    issue(['sharedNetworks'], "is not offered in a redundant pair: the pair's announcements name the pair's addresses as next hop, not the instance's");
  }
  const bgp = state.routing.protocol === 'bgp' ? state.routing.bgp : undefined;
  if (bgp === undefined) issue(['sharedNetworks'], 'needs routing.protocol bgp: a shared network is announced to the upstream over BGP, with the instance as next hop');
  state.sharedNetworks.forEach((network, i) => {
    const at = (...rest: (string | number)[]) => ['sharedNetworks', i, ...rest];
    const earlier = state.sharedNetworks.slice(0, i);
    const firstWith = <T>(key: string, valueOf: (n: { readonly id: string; readonly interface: string; readonly prefix: Ipv6Prefix }) => T, isClash: (value: T) => boolean) =>
      [...state.guestNetworks.map((n, j) => [valueOf(n), `guestNetworks[${j}].${key}`] as const), ...earlier.map((n, j) => [valueOf(n), `sharedNetworks[${j}].${key}`] as const)].find(([value]) => isClash(value))?.[1];
    const sameId = firstWith('id', (n) => n.id, (id) => id === network.id);
    if (sameId) issue(at('id'), `duplicates ${sameId}`);
    if (network.interface === state.public.interface) issue(at('interface'), 'is the public interface');
    if (network.interface === state.redundancy?.peer.interface) issue(at('interface'), "is the redundant pair's sync link (redundancy.peer.interface)");
    const sameInterface = firstWith('interface', (n) => n.interface, (ifname) => ifname === network.interface);
    if (sameInterface) issue(at('interface'), `duplicates ${sameInterface}`);
    const overlap = publicPrefix && isOverlapping(publicPrefix, network.prefix) ? 'the public prefix' : firstWith('prefix', (n) => n.prefix, (prefix) => isOverlapping(prefix, network.prefix));
    if (overlap) issue(at('prefix'), `overlaps ${overlap}`);
    if (!isInPrefix(network.address, network.prefix)) issue(at('address'), `must be inside ${formatPrefix(network.prefix)}`);
    else if (network.address === network.prefix.address) issue(at('address'), 'is the Subnet-Router anycast address (RFC 4291 §2.6.1)');
    bgp?.peers.forEach((peer, j) => {
      const peerAt = ['routing', 'bgp', 'peers', j, 'address'];
      if (peer.address === network.address) issue(peerAt, `is the VR's own address on the link (sharedNetworks[${i}].address), not the upstream's`);
      else if (peer.address === network.prefix.address) {
        issue(peerAt, `is the Subnet-Router anycast address of sharedNetworks[${i}].prefix (RFC 4291 §2.6.1), which every router on the link answers, not the upstream's`);
      }
    });
    if (bgp !== undefined && !bgp.peers.some((peer) => isInPrefix(peer.address, network.prefix))) {
      issue(
        at('prefix'),
        `has no routing.bgp peer in it: the upstream keeps a third-party next hop only from a peer on the same subnet (RFC 4271 §5.1.3); add the upstream's address in ${formatPrefix(network.prefix)} as a peer`,
      );
    }
    network.routedPrefixes.forEach((routed, k) => {
      const peer = bgp?.peers.findIndex((candidate) => candidate.address === routed.nextHop) ?? -1;
      if (peer >= 0) issue(at('routedPrefixes', k, 'nextHop'), `is the upstream's own address (routing.bgp.peers[${peer}]), not an instance's`);
      const aggregate = bgp?.announce.aggregates.findIndex((block) => isOverlapping(block, routed.prefix)) ?? -1;
      if (aggregate >= 0) {
        issue(at('routedPrefixes', k, 'prefix'), `overlaps routing.bgp.announce.aggregates[${aggregate}]: the VR would draw the prefix to itself, not to the instance`);
      }
    });
  });
}
