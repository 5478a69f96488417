/**
 * Words of FRR's configuration language (FRR 8.4) that the renderer writes
 * and the planner and the readers of FRR's running config must agree on.
 */

/** The line that makes zebra advertise on an interface; last, so the first RA carries every option. */
export const RA_ON = 'no ipv6 nd suppress-ra';

/** zebra's MaxRtrAdvInterval when none is configured, which `show running-config` then omits. */
export const ZEBRA_DEFAULT_RA_INTERVAL_SECONDS = 600;

/** The prefix lifetimes (valid, preferred) zebra uses and leaves unprinted when a prefix line names none: 30 d / 7 d. */
export const ZEBRA_DEFAULT_PREFIX_LIFETIMES = '2592000 604800';

/**
 * The agent's BGP policies, one prefix-list and one route-map of each name:
 * what every peer is sent, and the two things a peer may be accepted for.
 */
export const BGP_POLICY = {
  announce: 'VR6-ANNOUNCE',
  acceptDefault: 'VR6-ACCEPT-DEFAULT',
  acceptNothing: 'VR6-ACCEPT-NOTHING',
} as const;

/**
 * The start of the route-maps that set a shared network's routed prefix's
 * next hop at origination (`network P route-map …`); the rest of the name
 * is a digest of the prefix and the next hop, so a move is a new route-map.
 */
export const NEXT_HOP_POLICY_PREFIX = 'VR6-NEXT-HOP-';

/**
 * The agent's OSPF policies: what ospf6d redistributes (the guest /64s,
 * which its summary-addresses aggregate), and what zebra lets from ospf6d
 * into the kernel (the aggregates' discard routes, and the default route
 * when accepted).
 */
export const OSPF_POLICY = {
  announce: 'VR6-OSPF-ANNOUNCE',
  accept: 'VR6-OSPF-ACCEPT',
} as const;

/** The OSPFv3 instance's header; ospf6d 8.4 has one instance, unnamed. */
export const OSPF_ROUTER = 'router ospf6';

/** zebra's filter of what ospf6d may install: routes the route-map denies stay in the RIB, inactive, and out of the kernel. */
export const OSPF_INSTALL_FILTER = `ipv6 protocol ospf6 route-map ${OSPF_POLICY.accept}`;

/** The start of every prefix-list and route-map name the agent owns, and of its BFD profiles. */
export const OWNED_POLICY_PREFIX = 'VR6-';
export const OWNED_BFD_PROFILE_PREFIX = 'vr6-';

/** zebra's line that lets next-hop tracking resolve a BGP peer through the default route. */
export const RESOLVE_VIA_DEFAULT = 'ipv6 nht resolve-via-default';

/** The only address family the agent speaks BGP in. */
export const BGP_ADDRESS_FAMILY = 'address-family ipv6 unicast';

/**
 * Whether a top-level line or block header of bgpd's, bfdd's or ospf6d's
 * running config is the agent's: its BGP and OSPF instances, its policies
 * and BFD profiles, and the route-map delay. An `interface` block is
 * anyone's: only its `ipv6 ospf6` lines are the agent's. The rest
 * (hostname, log settings) is left to whoever owns it.
 */
export function isOwnedRoutingHeader(line: string): boolean {
  return (
    /^router bgp \d+$/.test(line) ||
    line === OSPF_ROUTER ||
    line.startsWith(`ipv6 prefix-list ${OWNED_POLICY_PREFIX}`) ||
    line.startsWith(`route-map ${OWNED_POLICY_PREFIX}`) ||
    line.startsWith('bgp route-map delay-timer ') ||
    line === 'bfd'
  );
}

/**
 * The policies zebra applies itself (its filter of what ospf6d installs):
 * vtysh gives every daemon each policy, so each is read from the daemon
 * that uses it, and a zebra started again gets it back although ospf6d
 * still holds it.
 */
export const ZEBRA_POLICIES: readonly string[] = [OSPF_POLICY.accept];

/** Whether a prefix-list or route-map line (or header) is one of zebra's policies. */
export function isZebraPolicyLine(line: string): boolean {
  return ZEBRA_POLICIES.some((name) => line.startsWith(`ipv6 prefix-list ${name} `) || line.startsWith(`route-map ${name} `));
}

/** zebra's routing lines the agent owns: next-hop tracking through the default route, and the install filters of its policies. */
export function isZebraRoutingLine(line: string): boolean {
  return line === RESOLVE_VIA_DEFAULT || line.startsWith(`ipv6 protocol `) && ZEBRA_POLICIES.some((name) => line.endsWith(` route-map ${name}`));
}
