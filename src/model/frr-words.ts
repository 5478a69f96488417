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

/** The start of every prefix-list and route-map name the agent owns, and of its BFD profiles. */
export const OWNED_POLICY_PREFIX = 'VR6-';
export const OWNED_BFD_PROFILE_PREFIX = 'vr6-';

/** zebra's line that lets next-hop tracking resolve a BGP peer through the default route. */
export const RESOLVE_VIA_DEFAULT = 'ipv6 nht resolve-via-default';

/** The only address family the agent speaks BGP in. */
export const BGP_ADDRESS_FAMILY = 'address-family ipv6 unicast';

/**
 * Whether a top-level line or block header of bgpd's or bfdd's running config
 * is the agent's: its BGP instance, its policies and BFD profiles, and the
 * route-map delay. The rest (hostname, log settings) is left to whoever owns it.
 */
export function isOwnedRoutingHeader(line: string): boolean {
  return (
    /^router bgp \d+$/.test(line) ||
    line.startsWith(`ipv6 prefix-list ${OWNED_POLICY_PREFIX}`) ||
    line.startsWith(`route-map ${OWNED_POLICY_PREFIX}`) ||
    line.startsWith('bgp route-map delay-timer ') ||
    line === 'bfd'
  );
}
