import { z } from 'zod';
import { Identifier, InterfaceName, Ipv6Address, Ipv6InterfaceAddress } from './fields.js';
import { eui64Address, formatPrefix, isInPrefix, isLinkLocal, parseIpv6Prefix, type Ipv6Prefix } from './ipv6.js';
import type { DeepReadonly } from './validation.js';

/**
 * The redundancy section of the desired state: this VR is one of a pair that
 * elects a primary by VRRPv3 (RFC 5798) through keepalived. The primary
 * holds each guest network's virtual gateway (a link-local address shared by
 * both VRs and <prefix>::1, behind the virtual MAC 00:00:5e:00:02:<vrid>) and
 * the pair's public address, and only it sends RAs (docs/redundancy.md).
 */

// RFC 5798 §5.2.4: priority 255 belongs to the router that owns the virtual
// addresses as its real interface addresses. In this pair neither VR does.
const OWNER_PRIORITY = 255;
// RFC 5798 §5.2.7: Max Advertise Interval is a 12-bit count of centiseconds.
const INTERVAL_CS = { min: 1, max: 4095 };
// keepalived's range for preempt_delay (keepalived.conf(5)).
const PREEMPT_DELAY_MAX_SECONDS = 1000;
// Measured in the lab (docs/redundancy.md#bgp): a returning VR's BGP session takes up to about 4 s to come up.
const BGP_PREEMPT_DELAY_SECONDS = 10;
// The link-local address guests take as their default router unless told otherwise.
const DEFAULT_LINK_LOCAL = 'fe80::1';
// keepalived names the macvlan it creates; Linux names are at most 15 bytes (IFNAMSIZ - 1).
const VMAC_PREFIX = 'vr6-';
const VMAC_PARENT_MAX = 15 - VMAC_PREFIX.length;

/** The peer VR as this one reaches it over their dedicated sync link (state sync and the agents' heartbeat). */
export const RedundancyPeer = z.strictObject({
  interface: InterfaceName.meta({ description: 'the sync link between the two VRs: neither the public nor a guest interface' }),
  localAddress: Ipv6InterfaceAddress.meta({ description: "this VR's address on the sync link, e.g. fd00:5::1/64" }),
  address: Ipv6Address.meta({ description: "the peer's address on the sync link, inside localAddress's prefix" }),
});

/** A guest network's virtual link-local gateway, when it is not fe80::1. */
export const VirtualGateway = z.strictObject({
  networkId: Identifier.meta({ description: 'the id of an entry of guestNetworks' }),
  linkLocal: Ipv6Address.meta({ description: 'the link-local address both VRs share on that link, inside fe80::/64' }),
});

/** The redundancy section. */
export const Redundancy = z.strictObject({
  vrrpId: z.number().int().min(1).max(255).meta({ description: "the pair's virtual router id (RFC 5798 §5.2.3), unique on each of its links" }),
  priority: z
    .number()
    .int()
    .min(1)
    .max(OWNER_PRIORITY)
    .meta({ description: 'this VR\'s priority, 1-254: the higher one is primary (RFC 5798 §5.2.4)' }),
  advertisementIntervalCentiseconds: z
    .number()
    .int()
    .min(INTERVAL_CS.min)
    .max(INTERVAL_CS.max, { message: `must be at most ${INTERVAL_CS.max}: a 12-bit count of centiseconds (RFC 5798 §5.2.7)` })
    .default(10)
    .meta({ description: 'VRRP advertisement interval, 1-4095 cs (RFC 5798 §5.2.7); the backup takes over after about 3.6 of them' }),
  preempt: z.boolean().default(true).meta({ description: 'a higher-priority VR takes the primary role back when it returns (RFC 5798 §6.4.3)' }),
  preemptDelaySeconds: z
    .number()
    .int()
    .min(0)
    .max(PREEMPT_DELAY_MAX_SECONDS)
    .optional()
    .meta({ description: `seconds a returning higher-priority VR stays backup before it takes the role back, 0-${PREEMPT_DELAY_MAX_SECONDS}; absent: ${BGP_PREEMPT_DELAY_SECONDS} with BGP routing (its sessions come up first), else 0` }),
  peer: RedundancyPeer,
  publicAddress: Ipv6InterfaceAddress.meta({ description: "the pair's shared public address the upstream routes the guest prefixes to, e.g. 2001:db8:100::100/64" }),
  virtualGateways: z
    .array(VirtualGateway)
    .max(256)
    .default([])
    .meta({ description: `a guest network's shared link-local address when it is not ${DEFAULT_LINK_LOCAL}` }),
  stateSync: z.boolean().default(true).meta({ description: 'conntrackd keeps both VRs\' connection tracking in step over the sync link, so flows survive a failover' }),
});
export type Redundancy = DeepReadonly<z.output<typeof Redundancy>>;

/** The parts of a desired state the redundancy section is checked against. */
interface RedundantState {
  readonly public: { readonly interface: string; readonly address?: { readonly address: string } | undefined };
  readonly guestNetworks: readonly { readonly id: string; readonly interface: string }[];
  readonly raBackend: 'radvd' | 'frr';
  readonly redundancy?: Redundancy | undefined;
}

const FRR_REFUSAL =
  "needs raBackend radvd: zebra sends a VRRP macvlan's RAs from a random link-local address, never the shared one, so guests would change default router on every failover, and it sends router lifetime 0 when it is demoted";

/**
 * The checks of the redundancy section that need the rest of the state.
 * `publicPrefix` is the public /64 when the state names it. What the agent
 * cannot check is that the peer's state agrees on the virtual addresses: it
 * sees only its own.
 */
export function refineRedundancy(state: RedundantState, publicPrefix: Ipv6Prefix | undefined, issue: (path: (string | number)[], message: string) => void): void {
  const redundancy = state.redundancy;
  if (redundancy === undefined) return;
  const at = (...rest: (string | number)[]) => ['redundancy', ...rest];
  if (state.raBackend === 'frr') issue(at(), FRR_REFUSAL);
  if (redundancy.priority === OWNER_PRIORITY) {
    issue(at('priority'), 'must be at most 254: 255 is for the VR that owns the virtual addresses (RFC 5798 §5.2.4), and neither VR of a pair does');
  }
  const { peer } = redundancy;
  if (peer.interface === state.public.interface || state.guestNetworks.some((n) => n.interface === peer.interface)) {
    issue(at('peer', 'interface'), 'must be a link of its own between the two VRs, not the public or a guest interface');
  }
  const syncPrefix = parseIpv6Prefix(`${peer.localAddress.address}/${peer.localAddress.length}`);
  if (isLinkLocal(peer.localAddress.address)) issue(at('peer', 'localAddress'), 'must not be link-local: conntrackd binds a global or unique local address');
  else if (peer.address === peer.localAddress.address) issue(at('peer', 'address'), 'is localAddress: it must be the other VR');
  else if (!isInPrefix(peer.address, syncPrefix)) issue(at('peer', 'address'), `must be inside ${formatPrefix(syncPrefix)}, the sync link`);
  const vip = redundancy.publicAddress.address;
  if (isLinkLocal(vip)) issue(at('publicAddress'), 'must be a global address: the upstream routes the guest prefixes to it');
  else if (publicPrefix !== undefined && !isInPrefix(vip, publicPrefix)) issue(at('publicAddress'), `must be inside the public prefix ${formatPrefix(publicPrefix)}`);
  else if (vip === state.public.address?.address) issue(at('publicAddress'), "is public.address: the shared address must not be either VR's own");
  for (const link of [state.public.interface, ...state.guestNetworks.map((n) => n.interface)]) {
    if (link.length > VMAC_PARENT_MAX) {
      const path = link === state.public.interface ? ['public', 'interface'] : ['guestNetworks', state.guestNetworks.findIndex((n) => n.interface === link), 'interface'];
      issue(path, `must be at most ${VMAC_PARENT_MAX} characters with redundancy: its virtual MAC interface is named ${VMAC_PREFIX}<interface>`);
    }
  }
  redundancy.virtualGateways.forEach((gateway, i) => {
    const first = redundancy.virtualGateways.findIndex((other) => other.networkId === gateway.networkId);
    if (first < i) issue(at('virtualGateways', i, 'networkId'), `duplicates redundancy.virtualGateways[${first}].networkId`);
    if (!state.guestNetworks.some((n) => n.id === gateway.networkId)) issue(at('virtualGateways', i, 'networkId'), 'names no entry of guestNetworks');
    if (!isInPrefix(gateway.linkLocal, LINK_LOCAL_64)) issue(at('virtualGateways', i, 'linkLocal'), 'must be inside fe80::/64 (RFC 4291 §2.5.6)');
    else if (gateway.linkLocal === 'fe80::') issue(at('virtualGateways', i, 'linkLocal'), 'is the Subnet-Router anycast address of fe80::/64 (RFC 4291 §2.6.1)');
  });
}

const LINK_LOCAL_64 = parseIpv6Prefix('fe80::/64');

/** The name of the macvlan keepalived makes on `parent` for the virtual MAC. */
export function vmacInterfaceOf(parent: string): string {
  return `${VMAC_PREFIX}${parent}`;
}

/** Whether an interface name is one of the agent's virtual-MAC interfaces. */
export function isVmacInterface(name: string): boolean {
  return name.startsWith(VMAC_PREFIX);
}

/**
 * How long a returning higher-priority VR stays backup: the state's value,
 * or with BGP routing long enough for its sessions to come up, so that the
 * upstream learns its announcement as the other VR withdraws; else none.
 */
export function preemptDelayOf(redundancy: Redundancy, routingProtocol: string): number {
  return redundancy.preemptDelaySeconds ?? (routingProtocol === 'bgp' ? BGP_PREEMPT_DELAY_SECONDS : 0);
}

/** The RFC 5798 §7.3 virtual MAC of an IPv6 virtual router. */
export function virtualMacOf(vrrpId: number): string {
  return `00:00:5e:00:02:${vrrpId.toString(16).padStart(2, '0')}`;
}

/**
 * The pair's link-local address on the public link, which the primary holds
 * beside the public address: one of the virtual MAC's own (RFC 4291 §2.5.6,
 * EUI-64), unique on a link other pairs share as the VRRP id is, where
 * fe80::1 would clash.
 */
export function publicLinkLocalOf(redundancy: Redundancy): string {
  return eui64Address(LINK_LOCAL_64, virtualMacOf(redundancy.vrrpId));
}

/** A guest network's shared link-local gateway: its virtualGateways entry, or fe80::1. */
export function virtualLinkLocalOf(redundancy: Redundancy, networkId: string): string {
  return redundancy.virtualGateways.find((gateway) => gateway.networkId === networkId)?.linkLocal ?? DEFAULT_LINK_LOCAL;
}
