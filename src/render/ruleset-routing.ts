import { isInPrefix, type Ipv6Prefix } from '../schema/ipv6.js';
import type { Routing } from '../schema/routing.js';
import { ACCEPT, renderMetaMatch, renderPayloadMatch, renderValueOrSet, type NftRule } from './ruleset-expr.js';

/** OSPF's IP protocol number (RFC 5340 §A.1). */
const OSPF_PROTOCOL = 89;

// RFC 5340 §A.1: AllSPFRouters and AllDRouters; the rest of OSPFv3 is unicast between link-local addresses.
const OSPF_DESTINATIONS = ['ff02::5', 'ff02::6', { prefix: { addr: 'fe80::', len: 10 } }] as const;

/** BGP's port (RFC 4271 §8.2.1) and BFD's control ports: single hop (RFC 5881 §4) and multihop (RFC 5883 §5). */
const BGP_PORT = 179;
const BFD_SINGLE_HOP_PORT = 3784;
const BFD_MULTIHOP_PORT = 4784;

/**
 * The input chain's rules for the routing protocol: BGP and, where the peer
 * has it, BFD, each only from that peer's own address on the interface it
 * is reached by (the public one, a link-local peer's, or the shared link whose
 * /64 holds the peer's address). Connections the VR
 * opens itself, and their replies, pass as established; nothing else reaches
 * bgpd or bfdd, so a stranger cannot even start a TCP-MD5 handshake.
 * Single-hop BFD must arrive with hop limit 255 (RFC 5881 §5), proof that
 * it was not forwarded.
 */
export function renderRoutingPeerRules(
  routing: Routing,
  publicInterface: string,
  sharedLinks: readonly { readonly interface: string; readonly prefix: Ipv6Prefix }[] = [],
): NftRule[] {
  if (routing.protocol === 'ospf') return renderOspfRules(publicInterface);
  if (routing.protocol !== 'bgp' || routing.bgp === undefined) return [];
  return routing.bgp.peers.flatMap((peer) => {
    const shared = sharedLinks.find((link) => isInPrefix(peer.address, link.prefix));
    const from = [
      renderMetaMatch('iifname', peer.interface ?? shared?.interface ?? publicInterface),
      renderPayloadMatch({ protocol: 'ip6', field: 'saddr' }, peer.address),
    ];
    const rules: NftRule[] = [
      { expr: [...from, renderPayloadMatch({ protocol: 'tcp', field: 'dport' }, BGP_PORT), ACCEPT], comment: `bgp peer ${peer.address}` },
    ];
    if (peer.bfd !== undefined) {
      const isMultihop = peer.multihopTtl !== undefined;
      const port = renderPayloadMatch({ protocol: 'udp', field: 'dport' }, renderValueOrSet([isMultihop ? BFD_MULTIHOP_PORT : BFD_SINGLE_HOP_PORT]));
      const hopLimit = isMultihop ? [] : [renderPayloadMatch({ protocol: 'ip6', field: 'hoplimit' }, 255)];
      rules.push({ expr: [...from, port, ...hopLimit, ACCEPT], comment: `bfd peer ${peer.address}` });
    }
    return rules;
  });
}

/**
 * OSPFv3 on the public interface only, and only between link-local
 * addresses: every OSPFv3 packet is sent from the router's link-local
 * address (RFC 5340 §A.1) to AllSPFRouters, AllDRouters or a neighbour's
 * link-local, and a link-local source cannot have been forwarded (RFC 4291
 * §2.5.6). Its neighbours are whoever is on that link; nothing from a guest
 * link or from further away reaches ospf6d.
 */
function renderOspfRules(publicInterface: string): NftRule[] {
  return [
    {
      expr: [
        renderMetaMatch('iifname', publicInterface),
        renderMetaMatch('l4proto', OSPF_PROTOCOL),
        renderPayloadMatch({ protocol: 'ip6', field: 'saddr' }, { prefix: { addr: 'fe80::', len: 10 } }),
        renderPayloadMatch({ protocol: 'ip6', field: 'daddr' }, renderValueOrSet([...OSPF_DESTINATIONS])),
        ACCEPT,
      ],
      comment: 'ospf on the public link',
    },
  ];
}
