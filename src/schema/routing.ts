import { z } from 'zod';
import { InterfaceName, Ipv6Address, Ipv6Cidr } from './fields.js';
import type { DeepReadonly } from './validation.js';
import { formatPrefix, isInPrefix, isLinkLocal, isOverlapping, type Ipv6Prefix } from './ipv6.js';

/**
 * The routing section of the desired state: how the upstream learns the
 * prefixes the VR serves. `static` is phase 1 (the upstream holds a route per
 * guest prefix to the VR's reported address); `bgp` makes the VR announce
 * them itself through FRR's bgpd, `ospf` through FRR's ospf6d (OSPFv3,
 * RFC 5340) on the public link (docs/routing.md).
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

const DOTTED_QUAD = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

// Router IDs are 32-bit numbers written as dotted quads, and not zero (RFC 6286 §2.1, RFC 5340 §2.11).
const dottedQuadId = (what: string, rfc: string) =>
  z
    .string()
    .regex(DOTTED_QUAD, { message: `must be ${what} in dotted-quad form, e.g. 192.0.2.1` })
    .refine((id) => id !== '0.0.0.0', { message: `must not be 0.0.0.0 (${rfc})` });

/** A BGP identifier in dotted-quad form: 4 octets, not zero (RFC 6286 §2.1). */
export const RouterId = dottedQuadId('a BGP identifier', 'RFC 6286 §2.1').meta({
  description: 'BGP identifier, dotted quad (RFC 6286); an IPv6-only VR has no IPv4 address to take one from, so it is always stated',
});

/** An OSPFv3 router ID: 32 bits as a dotted quad, not zero (RFC 5340 §2.11), with no IPv4 address to derive it from. */
export const OspfRouterId = dottedQuadId('an OSPF router ID', 'RFC 5340 §2.11').meta({
  description: 'OSPF router ID, dotted quad (RFC 5340 §2.11); an IPv6-only VR has no IPv4 address to take one from, so it is always stated',
});

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

/** What the VR announces: to every BGP peer, or into the OSPF area. */
export const Announcements = z.strictObject({
  aggregates: z
    .array(Ipv6Cidr)
    .max(16)
    .default([])
    .meta({ description: "the blocks allocated to the VR, /40 to /64; each must cover guest prefixes it serves and gets a discard route" }),
  guestPrefixes: z.boolean().default(false).meta({ description: 'announce each guest /64 as well' }),
});
export type Announcements = DeepReadonly<z.output<typeof Announcements>>;
/** BGP's announcements: the shared shape. */
export const BgpAnnouncements = Announcements;
export type BgpAnnouncements = Announcements;

/** BGP through FRR's bgpd: the VR's AS and identifier, its peers, and what it announces. */
export const BgpSettings = z.strictObject({
  localAs: AsNumber,
  routerId: RouterId,
  peers: z.array(BgpPeer).min(1).max(16),
  announce: BgpAnnouncements.prefault({}),
});
export type BgpSettings = DeepReadonly<z.output<typeof BgpSettings>>;

/**
 * An OSPF area ID (RFC 5340 §A.3.1: 32 bits), given as a dotted quad or a
 * number, always held as the dotted quad: ospf6d prints an area in the form
 * it was given, so one form keeps the running config comparable.
 */
export const OspfAreaId = z
  .union([
    z.string().regex(DOTTED_QUAD, { message: 'must be an area ID: a dotted quad such as 0.0.0.0, or a number 0-4294967295' }),
    z.number().int().min(0).max(4294967295),
  ])
  .transform((area) => (typeof area === 'number' ? [24, 16, 8, 0].map((shift) => (area >>> shift) & 255).join('.') : area))
  .meta({ description: 'area ID, dotted quad or 0-4294967295; 0.0.0.0 is the backbone' });

// RFC 5340 §A.3.2: HelloInterval and RouterDeadInterval are 16-bit fields in OSPFv3 (32 bits for the dead interval in OSPFv2).
const OSPF_INTERVAL_MAX = 65535;

/**
 * OSPFv3 through FRR's ospf6d, on the public interface only: the VR's
 * router ID, the public link's area, cost and timers, what it announces and
 * what it installs. The guest links are never in OSPF: their /64s reach the
 * area only through the announcement, so guests can form no adjacency.
 */
export const OspfSettings = z
  .strictObject({
    routerId: OspfRouterId,
    area: OspfAreaId.default('0.0.0.0'),
    cost: z.number().int().min(1).max(65535).default(10).meta({ description: "the public interface's output cost (RFC 5340 §A.4.3: 16 bits)" }),
    helloIntervalSeconds: z.number().int().min(1).max(OSPF_INTERVAL_MAX).default(10).meta({ description: 'RFC 2328 §C.3; must equal the upstream\'s' }),
    deadIntervalSeconds: z.number().int().min(2).max(OSPF_INTERVAL_MAX).default(40).meta({ description: 'RFC 2328 §C.3; above helloIntervalSeconds, must equal the upstream\'s' }),
    announce: Announcements.prefault({}),
    accept: z
      .enum(['nothing', 'default-route'])
      .default('nothing')
      .meta({ description: 'what the VR installs from OSPF: nothing, or only the default route ::/0' }),
  })
  .superRefine((ospf, ctx) => {
    if (ospf.deadIntervalSeconds <= ospf.helloIntervalSeconds) {
      ctx.addIssue({ code: 'custom', path: ['deadIntervalSeconds'], message: `must be above helloIntervalSeconds (${ospf.helloIntervalSeconds}; RFC 2328 §C.3 suggests 4 times it)` });
    }
  });
export type OspfSettings = DeepReadonly<z.output<typeof OspfSettings>>;

const PROTOCOL_SECTIONS = ['bgp', 'ospf'] as const;

/** The routing section. */
export const Routing = z
  .strictObject({
    protocol: z
      .enum(['static', ...PROTOCOL_SECTIONS])
      .default('static')
      .meta({ description: 'static: the upstream routes each guest prefix to the VR; bgp, ospf: the VR announces them' }),
    bgp: BgpSettings.optional().meta({ description: 'protocol bgp only' }),
    ospf: OspfSettings.optional().meta({ description: 'protocol ospf only (OSPFv3)' }),
  })
  .superRefine((routing, ctx) => {
    for (const section of PROTOCOL_SECTIONS) {
      const isChosen = routing.protocol === section;
      if (isChosen && routing[section] === undefined) ctx.addIssue({ code: 'custom', path: [section], message: `is required for protocol ${section}` });
      if (!isChosen && routing[section] !== undefined) ctx.addIssue({ code: 'custom', path: [section], message: `applies only to protocol ${section}` });
    }
  });
export type Routing = DeepReadonly<z.output<typeof Routing>>;


/**
 * Whether the routing protocol gives the VR its default route: a BGP peer
 * with `accept: default-route`, or OSPF with it. The RA's default route then
 * yields to it (src/render/sysctls.ts, src/plan/plan.ts).
 */
export function isDefaultFromRouting(state: { readonly routing: Routing }): boolean {
  const { protocol, bgp, ospf } = state.routing;
  if (protocol === 'ospf') return ospf?.accept === 'default-route';
  return protocol === 'bgp' && (bgp?.peers.some((peer) => peer.accept === 'default-route') ?? false);
}

/** The name the BGP-only callers know it by. */
export const isDefaultFromBgp = isDefaultFromRouting;

/** The parts of a desired state that the routing section is checked against. */
interface RoutedState {
  readonly public: { readonly interface: string };
  readonly guestNetworks: readonly { readonly interface: string; readonly prefix: Ipv6Prefix }[];
  /** The shared networks' links, where a peer may be too (src/schema/shared-networks.ts). */
  readonly sharedNetworks?: readonly { readonly interface: string; readonly prefix: Ipv6Prefix }[];
  readonly routing: Routing;
  /** Set for a redundant pair, whose peers must be reachable from either VR (src/schema/redundancy.ts). */
  readonly redundancy?: unknown;
}

const LINK_LOCAL_PEER_REFUSAL =
  "is link-local: FRR 8.4's bgpd never connects to an explicit link-local neighbour, and unnumbered peering makes zebra advertise the VR as a router on that link; peer with the upstream's global address";

// In a pair the announcements carry the pair's public addresses as next hop (docs/redundancy.md, BGP), and a guest
// /64's gateway moves with the primary, so the backup has no address there to reach the peer from.
const PAIR_GUEST_PEER_REFUSAL =
  "is inside a guest prefix, which a redundant pair does not peer in: the pair announces its public addresses as next hop, and the backup, holding no guest gateway, cannot reach the peer; peer on the public link";

// RFC 6177 and RFC 7368 size a site's allocation from /48 to /56; a /40 covers a pod of them.
const AGGREGATE_LENGTHS = { min: 40, max: 64 };

/**
 * The checks of the routing section that need the rest of the state: each
 * BGP peer reachable on a link the VR has (or multihop), and for BGP and
 * OSPF alike each aggregate covering guest prefixes and never the public
 * /64, and every guest prefix announced. `publicPrefix` is the public /64
 * when the state names it.
 */
export function refineRouting(state: RoutedState, publicPrefix: Ipv6Prefix | undefined, issue: (path: (string | number)[], message: string) => void): void {
  const { protocol, bgp, ospf } = state.routing;
  if (protocol === 'bgp' && bgp !== undefined) {
    refinePeers(state, bgp, publicPrefix, issue);
    refineAnnouncements(state, bgp.announce, ['routing', 'bgp', 'announce'], publicPrefix, issue);
  }
  if (protocol === 'ospf' && ospf !== undefined) {
    refineAnnouncements(state, ospf.announce, ['routing', 'ospf', 'announce'], publicPrefix, issue);
    if (ospf.announce.guestPrefixes && ospf.announce.aggregates.length > 0) {
      issue(['routing', 'ospf', 'announce', 'guestPrefixes'], OSPF_BOTH_REFUSAL);
    }
  }
}

const OSPF_BOTH_REFUSAL =
  "cannot be combined with aggregates under OSPF: ospf6d's summary-address always takes the place of the /64s it covers (FRR 8.4 has no switch to announce both); announce the aggregates or the /64s";

function refinePeers(state: RoutedState, bgp: BgpSettings, publicPrefix: Ipv6Prefix | undefined, issue: (path: (string | number)[], message: string) => void): void {
  const at = (...rest: (string | number)[]) => ['routing', 'bgp', ...rest];
  const links = [...state.guestNetworks, ...(state.sharedNetworks ?? [])];
  const interfaces = [state.public.interface, ...links.map((n) => n.interface)];
  const onLinkPrefixes = [...(publicPrefix ? [publicPrefix] : []), ...links.map((n) => n.prefix)];
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
    const guest = state.redundancy === undefined ? -1 : state.guestNetworks.findIndex((n) => isInPrefix(peer.address, n.prefix));
    if (guest >= 0) issue(at('peers', i, 'address'), `${PAIR_GUEST_PEER_REFUSAL} (guestNetworks[${guest}].prefix)`);
    if (peer.multihopTtl !== undefined) return;
    if (publicPrefix === undefined && links.every((n) => !isInPrefix(peer.address, n.prefix))) {
      issue(at('peers', i, 'address'), 'cannot be checked to be on a link: give public.expectedPrefix, or multihopTtl');
    } else if (!onLinkPrefixes.some((prefix) => isInPrefix(peer.address, prefix))) {
      issue(at('peers', i, 'address'), 'is on no link of the VR: give multihopTtl for a peer further away');
    }
  });
}

/** Each aggregate a /40 to /64 that covers guest prefixes, overlapping neither the public /64 nor another; every guest prefix announced. */
function refineAnnouncements(
  state: RoutedState,
  announce: Announcements,
  base: readonly string[],
  publicPrefix: Ipv6Prefix | undefined,
  issue: (path: (string | number)[], message: string) => void,
): void {
  const name = base.join('.');
  announce.aggregates.forEach((aggregate, i) => {
    const path = [...base, 'aggregates', i];
    if (aggregate.length < AGGREGATE_LENGTHS.min || aggregate.length > AGGREGATE_LENGTHS.max) {
      issue(path, `must be a /${AGGREGATE_LENGTHS.min} to /${AGGREGATE_LENGTHS.max}`);
    } else if (publicPrefix && isOverlapping(aggregate, publicPrefix)) {
      issue(path, `overlaps the public prefix ${formatPrefix(publicPrefix)}: announcing it would draw the upstream's own link to the VR`);
    } else if (!state.guestNetworks.some((n) => isInPrefix(n.prefix.address, aggregate))) {
      issue(path, 'covers no guest prefix: the VR would announce what it does not serve');
    }
    const clash = announce.aggregates.findIndex((other, j) => j < i && isOverlapping(other, aggregate));
    if (clash >= 0) issue(path, `overlaps ${name}.aggregates[${clash}]`);
  });
  if (announce.guestPrefixes) return;
  state.guestNetworks.forEach((network, i) => {
    if (!announce.aggregates.some((aggregate) => isInPrefix(network.prefix.address, aggregate))) {
      issue(['guestNetworks', i, 'prefix'], `is announced by no ${name} aggregate, and announce.guestPrefixes is off: the upstream would not reach it`);
    }
  });
}
