import type { Routing } from '../schema/routing.js';
import { ACCEPT, renderMetaMatch, renderPayloadMatch, renderValueOrSet, type NftRule } from './ruleset-expr.js';

/** BGP's port (RFC 4271 §8.2.1) and BFD's control ports: single hop (RFC 5881 §4) and multihop (RFC 5883 §5). */
const BGP_PORT = 179;
const BFD_SINGLE_HOP_PORT = 3784;
const BFD_MULTIHOP_PORT = 4784;

/**
 * The input chain's rules for the routing protocol: BGP and, where the peer
 * has it, BFD, each only from that peer's own address on the interface it
 * is reached by (the public one, or a link-local peer's). Connections the VR
 * opens itself, and their replies, pass as established; nothing else reaches
 * bgpd or bfdd, so a stranger cannot even start a TCP-MD5 handshake.
 * Single-hop BFD must arrive with hop limit 255 (RFC 5881 §5), proof that
 * it was not forwarded.
 */
export function renderRoutingPeerRules(routing: Routing, publicInterface: string): NftRule[] {
  if (routing.protocol !== 'bgp' || routing.bgp === undefined) return [];
  return routing.bgp.peers.flatMap((peer) => {
    const from = [
      renderMetaMatch('iifname', peer.interface ?? publicInterface),
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
