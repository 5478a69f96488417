import type { DesiredState } from '../schema/desired-state.js';
import { vmacInterfaceOf } from '../schema/redundancy.js';
import { CONNTRACKD_PORT } from './conntrackd-conf.js';
import { ACCEPT, renderAddressMatch, renderMetaMatch, renderPayloadMatch, renderValueOrSet, type NftRule } from './ruleset-expr.js';

/** The interface names an `iifname`/`oifname` match names for one of the state's links. */
export type LinkMatch = (ifname: string) => readonly string[];

/**
 * In a redundant pair the primary receives what guests and the upstream send
 * to the virtual MAC on that MAC's macvlan, and routes to guests through it
 * (keepalived puts the /64 gateway there), so every match on a public or
 * guest link names both the link and its macvlan. Without redundancy a
 * link is itself.
 */
export function renderLinkMatch(state: DesiredState): LinkMatch {
  if (state.redundancy === undefined) return (ifname) => [ifname];
  const links = new Set([state.public.interface, ...state.guestNetworks.map((network) => network.interface)]);
  return (ifname) => (links.has(ifname) ? [ifname, vmacInterfaceOf(ifname)] : [ifname]);
}

// RFC 5798 §5.1.2.2 and §5.2: VRRP is IP protocol 112, to the all-VRRP-routers group ff02::12.
const VRRP_PROTOCOL = 112;
const VRRP_GROUP = 'ff02::12';

/**
 * The input chain's rules for the pair: VRRP advertisements on the public and
 * guest links, from a link-local source with hop limit 255 (RFC 5798
 * §5.1.1.3, §7.1: a router discards any other, so none can come from off
 * the link), and conntrackd's state sync only from the peer's address on the
 * sync link. The agent does not know the peer's link-local addresses, and
 * needs not: only a neighbour on the link can pass the hop-limit check.
 */
export function renderRedundancyRules(state: DesiredState, links: LinkMatch): NftRule[] {
  const redundancy = state.redundancy;
  if (redundancy === undefined) return [];
  const vrrpLinks = [state.public.interface, ...state.guestNetworks.map((network) => network.interface)];
  const names = vrrpLinks.flatMap(links);
  const rules: NftRule[] = [
    {
      expr: [
        renderMetaMatch('iifname', renderValueOrSet(names)),
        renderMetaMatch('l4proto', VRRP_PROTOCOL),
        ...renderAddressMatch('saddr', [{ address: 'fe80::', length: 10 }]),
        renderPayloadMatch({ protocol: 'ip6', field: 'daddr' }, VRRP_GROUP),
        renderPayloadMatch({ protocol: 'ip6', field: 'hoplimit' }, 255),
        ACCEPT,
      ],
      comment: `vrrp ${redundancy.vrrpId}`,
    },
  ];
  if (redundancy.stateSync) {
    rules.push({
      expr: [
        renderMetaMatch('iifname', redundancy.peer.interface),
        renderPayloadMatch({ protocol: 'ip6', field: 'saddr' }, redundancy.peer.address),
        renderPayloadMatch({ protocol: 'udp', field: 'dport' }, CONNTRACKD_PORT),
        ACCEPT,
      ],
      comment: 'conntrackd sync from the peer',
    });
  }
  return rules;
}
