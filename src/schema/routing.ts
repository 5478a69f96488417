import { z } from 'zod';
import { InterfaceName, Ipv6Address, Ipv6Cidr } from './fields.js';
import type { DeepReadonly } from './validation.js';
import { formatPrefix, isInPrefix, isLinkLocal, isOverlapping, type Ipv6Prefix } from './ipv6.js';

/**
 * The routing section of the desired state: how the upstream learns the
 * prefixes the VR serves. `static` is phase 1 (the upstream holds a route per
 * guest prefix to the VR's reported address); `bgp` makes the VR announce
 * them itself through FRR's bgpd (docs/routing.md).
 */

// RFC 6793 §9: AS_TRANS stands in for a 4-byte AS towards 2-byte speakers and
// is no AS of its own. RFC 7607: AS 0 is not to be used. RFC 7300: the last
// AS of each range is reserved.
const RESERVED_AS = new Map([
  [0, 'AS 0 is reserved (RFC 7607)'],
  [23456, 'AS 23456 is AS_TRANS (RFC 6793 §9), not an AS a router may use'],
  [65535, 'AS 65535 is reserved (RFC 7300)'],
  [4294967295, 'AS 4294967295 is reserved (RFC 7300)'],
]);

/** A 4-byte AS number in asplain notation (RFC 5396), not one of the reserved ones. */
export const AsNumber = z
  .number()
  .int()
  .min(0)
  .max(4294967295)
  .superRefine((as, ctx) => {
    const reason = RESERVED_AS.get(as);
    if (reason !== undefined) ctx.addIssue({ code: 'custom', message: reason });
  })
  .meta({ description: 'AS number, asplain (RFC 5396): 1-4294967294 without 23456 and 65535' });

/** A BGP identifier in dotted-quad form: 4 octets, not zero (RFC 6286 §2.1). */
export const RouterId = z
  .string()
  .regex(/^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/, { message: 'must be a BGP identifier in dotted-quad form, e.g. 192.0.2.1' })
  .refine((id) => id !== '0.0.0.0', { message: 'must not be 0.0.0.0 (RFC 6286 §2.1)' })
  .meta({ description: 'BGP identifier, dotted quad (RFC 6286); an IPv6-only VR has no IPv4 address to take one from, so it is always stated' });

// Linux's TCP_MD5SIG_MAXKEYLEN: the kernel refuses a longer key (RFC 2385).
const MD5_KEY_MAX = 80;

/** Bidirectional Forwarding Detection of a peer (RFC 5880, 5881) by FRR's bfdd. */
export const BfdSettings = z.strictObject({
  receiveIntervalMs: z.number().int().min(10).max(60000).default(300),
  transmitIntervalMs: z.number().int().min(10).max(60000).default(300),
  detectMultiplier: z.number().int().min(2).max(255).default(3),
});
export type BfdSettings = DeepReadonly<z.output<typeof BfdSettings>>;

/** One BGP neighbour of the VR, typically the upstream router on the public link. */
export const BgpPeer = z
  .strictObject({
    address: Ipv6Address.meta({ description: 'global, or link-local with interface' }),
    interface: InterfaceName.optional().meta({ description: 'required for a link-local address: the link it is on' }),
    remoteAs: AsNumber,
    description: z
      .string()
      .max(80)
      .regex(/^[A-Za-z0-9_.:@/-]+( [A-Za-z0-9_.:@/-]+)*$/, {
        message: 'must be 1 to 80 of A-Z a-z 0-9 _ . : @ / -, words separated by one space: FRR takes an empty description for an incomplete command and folds runs of spaces',
      })
      .optional(),
    password: z
      .string()
      .min(1)
      .max(MD5_KEY_MAX, { message: `must be at most ${MD5_KEY_MAX} characters: the kernel's TCP-MD5 key limit (RFC 2385)` })
      .regex(/^[\x21-\x7e]+$/, { message: 'must be printable ASCII without spaces' })
      .optional()
      .meta({ description: 'TCP-MD5 signature key (RFC 2385); both sides must have the same' }),
    multihopTtl: z.number().int().min(2).max(255).optional().meta({ description: 'eBGP multihop: the peer is this many hops away at most' }),
    ttlSecurityHops: z.number().int().min(1).max(254).optional().meta({ description: 'GTSM (RFC 5082): accept only packets from at most this many hops away' }),
    holdTimeSeconds: z
      .number()
      .int()
      .min(0)
      .max(65535)
      .refine((hold) => hold === 0 || hold >= 3, { message: 'must be 0 or at least 3 (RFC 4271 §4.2)' })
      .default(90),
    keepaliveSeconds: z.number().int().min(0).max(21845).optional().meta({ description: 'default a third of holdTimeSeconds (RFC 4271 §10)' }),
    bfd: BfdSettings.optional().meta({ description: 'BFD for fast failure detection; absent: none' }),
    hasGracefulRestart: z.boolean().default(false).meta({ description: 'graceful restart (RFC 4724): the peer keeps the routes while bgpd restarts' }),
    accept: z
      .enum(['nothing', 'default-route'])
      .default('nothing')
      .meta({ description: 'what the VR installs from this peer: nothing, or only the default route ::/0' }),
    maxPrefixes: z.number().int().min(1).max(1000).default(1).meta({ description: 'the session goes down when the peer sends more than this many prefixes' }),
  })
  .superRefine((peer, ctx) => {
    const issue = (path: string, message: string) => ctx.addIssue({ code: 'custom', path: [path], message });
    if (peer.multihopTtl !== undefined && peer.ttlSecurityHops !== undefined) issue('ttlSecurityHops', 'cannot be combined with multihopTtl');
    if (peer.keepaliveSeconds !== undefined && peer.holdTimeSeconds > 0 && peer.keepaliveSeconds * 3 > peer.holdTimeSeconds) {
      issue('keepaliveSeconds', `must be at most a third of holdTimeSeconds (${Math.floor(peer.holdTimeSeconds / 3)}; RFC 4271 §10)`);
    }
  })
  .transform(({ keepaliveSeconds, ...peer }) => ({ ...peer, keepaliveSeconds: keepaliveSeconds ?? Math.floor(peer.holdTimeSeconds / 3) }));
export type BgpPeer = DeepReadonly<z.output<typeof BgpPeer>>;

/** What the VR announces to every peer. */
export const BgpAnnouncements = z.strictObject({
  aggregates: z
    .array(Ipv6Cidr)
    .max(16)
    .default([])
    .meta({ description: "the blocks allocated to the VR, /40 to /64; each must cover guest prefixes it serves and gets a discard route" }),
  guestPrefixes: z.boolean().default(false).meta({ description: 'announce each guest /64 as well' }),
});
export type BgpAnnouncements = DeepReadonly<z.output<typeof BgpAnnouncements>>;

/** BGP through FRR's bgpd: the VR's AS and identifier, its peers, and what it announces. */
export const BgpSettings = z.strictObject({
  localAs: AsNumber,
  routerId: RouterId,
  peers: z.array(BgpPeer).min(1).max(16),
  announce: BgpAnnouncements.prefault({}),
});
export type BgpSettings = DeepReadonly<z.output<typeof BgpSettings>>;

/** The routing section. */
export const Routing = z
  .strictObject({
    protocol: z.enum(['static', 'bgp']).default('static').meta({ description: 'static: the upstream routes each guest prefix to the VR; bgp: the VR announces them' }),
    bgp: BgpSettings.optional().meta({ description: 'protocol bgp only' }),
  })
  .superRefine((routing, ctx) => {
    if (routing.protocol === 'bgp' && routing.bgp === undefined) ctx.addIssue({ code: 'custom', path: ['bgp'], message: 'is required for protocol bgp' });
    if (routing.protocol !== 'bgp' && routing.bgp !== undefined) ctx.addIssue({ code: 'custom', path: ['bgp'], message: 'applies only to protocol bgp' });
  });
export type Routing = DeepReadonly<z.output<typeof Routing>>;


/** Whether a BGP peer gives the VR its default route (`accept: default-route`). */
export function isDefaultFromBgp(state: { readonly routing: Routing }): boolean {
  return state.routing.protocol === 'bgp' && (state.routing.bgp?.peers.some((peer) => peer.accept === 'default-route') ?? false);
}

/** The parts of a desired state that the routing section is checked against. */
interface RoutedState {
  readonly public: { readonly interface: string };
  readonly guestNetworks: readonly { readonly interface: string; readonly prefix: Ipv6Prefix }[];
  readonly routing: Routing;
}

const LINK_LOCAL_PEER_REFUSAL =
  "is link-local: FRR 8.4's bgpd never connects to an explicit link-local neighbour, and unnumbered peering makes zebra advertise the VR as a router on that link; peer with the upstream's global address";

// RFC 6177 and RFC 7368 size a site's allocation from /48 to /56; a /40 covers a pod of them.
const AGGREGATE_LENGTHS = { min: 40, max: 64 };

/**
 * The checks of the routing section that need the rest of the state: each
 * peer reachable on a link the VR has (or multihop), each aggregate covering
 * guest prefixes and never the public /64, every guest prefix announced.
 * `publicPrefix` is the public /64 when the state names it.
 */
export function refineRouting(state: RoutedState, publicPrefix: Ipv6Prefix | undefined, issue: (path: (string | number)[], message: string) => void): void {
  const bgp = state.routing.bgp;
  if (state.routing.protocol !== 'bgp' || bgp === undefined) return;
  const at = (...rest: (string | number)[]) => ['routing', 'bgp', ...rest];
  const interfaces = [state.public.interface, ...state.guestNetworks.map((n) => n.interface)];
  const onLinkPrefixes = [...(publicPrefix ? [publicPrefix] : []), ...state.guestNetworks.map((n) => n.prefix)];
  bgp.peers.forEach((peer, i) => {
    const first = bgp.peers.findIndex((other) => other.address === peer.address);
    if (first < i) issue(at('peers', i, 'address'), `duplicates routing.bgp.peers[${first}].address`);
    if (peer.remoteAs === bgp.localAs) issue(at('peers', i, 'remoteAs'), 'equals localAs: the VR speaks eBGP only');
    if (isLinkLocal(peer.address)) {
      if (peer.interface === undefined) issue(at('peers', i, 'interface'), 'is required for a link-local address');
      else if (!interfaces.includes(peer.interface)) issue(at('peers', i, 'interface'), 'is neither the public interface nor a guest interface');
      // Measured on Debian 12 (docs/research/bgp.md): refused until the daemons can do it.
      else issue(at('peers', i, 'address'), LINK_LOCAL_PEER_REFUSAL);
      return;
    }
    if (peer.interface !== undefined) issue(at('peers', i, 'interface'), 'applies only to a link-local address');
    if (peer.multihopTtl !== undefined) return;
    if (publicPrefix === undefined && state.guestNetworks.every((n) => !isInPrefix(peer.address, n.prefix))) {
      issue(at('peers', i, 'address'), 'cannot be checked to be on a link: give public.expectedPrefix, or multihopTtl');
    } else if (!onLinkPrefixes.some((prefix) => isInPrefix(peer.address, prefix))) {
      issue(at('peers', i, 'address'), 'is on no link of the VR: give multihopTtl for a peer further away');
    }
  });
  bgp.announce.aggregates.forEach((aggregate, i) => {
    const path = at('announce', 'aggregates', i);
    if (aggregate.length < AGGREGATE_LENGTHS.min || aggregate.length > AGGREGATE_LENGTHS.max) {
      issue(path, `must be a /${AGGREGATE_LENGTHS.min} to /${AGGREGATE_LENGTHS.max}`);
    } else if (publicPrefix && isOverlapping(aggregate, publicPrefix)) {
      issue(path, `overlaps the public prefix ${formatPrefix(publicPrefix)}: announcing it would draw the upstream's own link to the VR`);
    } else if (!state.guestNetworks.some((n) => isInPrefix(n.prefix.address, aggregate))) {
      issue(path, 'covers no guest prefix: the VR would announce what it does not serve');
    }
    const clash = bgp.announce.aggregates.findIndex((other, j) => j < i && isOverlapping(other, aggregate));
    if (clash >= 0) issue(path, `overlaps routing.bgp.announce.aggregates[${clash}]`);
  });
  if (bgp.announce.guestPrefixes) return;
  state.guestNetworks.forEach((network, i) => {
    if (!bgp.announce.aggregates.some((aggregate) => isInPrefix(network.prefix.address, aggregate))) {
      issue(['guestNetworks', i, 'prefix'], 'is announced by no routing.bgp.announce aggregate, and announce.guestPrefixes is off: the upstream would not reach it');
    }
  });
}
