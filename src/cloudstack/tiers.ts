import type { z } from 'zod';
import type { GuestNetwork } from '../schema/desired-state.js';
import type { AclList } from '../schema/firewall.js';
import { formatPrefix, Ipv6SyntaxError, parseIpv6Prefix } from '../schema/ipv6.js';
import type { FieldError } from '../schema/validation.js';
import type { Databags, GuestNetworkEntry } from './databags.js';
import { fieldError, type Provenance } from './provenance.js';
import { translateAcl } from './rules.js';

/**
 * A VPC's tiers from guestnetwork.json and their ACLs from networkacl.json.
 * A tier is a device whose entry is added (`add: true`), has an IPv6 prefix
 * (`router_guest_ip6`) and has the VR as its gateway; its ACL is the
 * networkacl entry of the same device.
 */

type NetworkInput = z.input<typeof GuestNetwork>;
type AclListInput = z.input<typeof AclList>;

/** The translated tiers, their ACL lists, and the VR's public address as the tiers state it. */
export interface VpcTiers {
  readonly networks: NetworkInput[];
  readonly aclLists: AclListInput[];
  readonly publicAddress: PublicFromTier | null;
  readonly errors: FieldError[];
}

/** The public address, its gateway and prefix that a tier's entry carries (router_ip6*). */
export interface PublicFromTier {
  readonly device: string;
  readonly index: number;
  readonly address: string;
  readonly gateway: string | undefined;
  readonly prefix: string | undefined;
}

/** The network of an address with its length, as text (host bits cleared); undefined when it is not IPv6, for the schema to say why. */
export function networkOf(address: string, length: number | string | undefined): string | undefined {
  if (length === undefined) return undefined;
  try {
    return formatPrefix(parseIpv6Prefix(`${address}/${length}`));
  } catch (error) {
    if (error instanceof Ipv6SyntaxError) return undefined;
    throw error;
  }
}

/** The prefix length of CIDR text, or undefined. */
export function lengthOf(cidr: string | undefined): number | undefined {
  const match = cidr === undefined ? null : /\/(\d{1,3})$/.exec(cidr);
  return match ? Number(match[1]) : undefined;
}

/** Comma-separated addresses, as dns6 carries them. */
export function splitList(text: string | undefined): string[] {
  return (text ?? '').split(',').map((item) => item.trim()).filter((item) => item.length > 0);
}

/** Translates the tiers of a VPC router. */
export function translateTiers(bags: Databags, provenance: Provenance): VpcTiers {
  const networks: NetworkInput[] = [];
  const aclLists: AclListInput[] = [];
  const errors: FieldError[] = [];
  let publicAddress: PublicFromTier | null = null;
  const acls = new Map(bags.networkacl);
  for (const [device, entries] of bags.guestnetwork) {
    const index = entries.findIndex((entry) => entry.add);
    const entry = entries[index];
    if (entry === undefined || !entry.router_guest_ip6 || entry.is_vr_guest_gateway === false) continue;
    const at = ['guestNetworks', networks.length] as const;
    const aclId = `acl-${device}`;
    networks.push(translateTier(device, index, entry, aclId, provenance, at));
    const acl = acls.get(device);
    const listAt = ['aclLists', aclLists.length] as const;
    // Until the tier's network_acl.json arrives (CloudStack sends one per tier) the tier fails closed.
    aclLists.push(acl === undefined ? { id: aclId, defaultEgress: 'deny', items: [] } : translateAcl(aclId, device, acl, provenance, listAt));
    if (entry.router_ip6) {
      const found: PublicFromTier = { device, index, address: entry.router_ip6, gateway: entry.router_ip6_gateway, prefix: entry.router_ip6_cidr };
      if (publicAddress === null) publicAddress = found;
      else if (publicAddress.address !== found.address) {
        errors.push(fieldError('guestnetwork', [device, index, 'router_ip6'], `is not ${publicAddress.address}, which ${publicAddress.device} gives: a VR has one public address`));
      }
    }
  }
  for (const [device, acl] of bags.networkacl) {
    // The private gateway's IPv6 side has no place in desired state v1; its IPv4 side is CloudStack's.
    if (acl.private_gateway_acl && acl.nic_ip6_cidr) {
      errors.push(fieldError('networkacl', [device, 'nic_ip6_cidr'], 'is an IPv6 private gateway, which this agent does not route: give the private gateway no IPv6, or leave IPv6 to CloudStack'));
    }
  }
  return { networks, aclLists, publicAddress, errors };
}

function translateTier(device: string, index: number, entry: GuestNetworkEntry, aclId: string, provenance: Provenance, at: readonly PropertyKey[]): NetworkInput {
  const from = (field: string) => [device, index, field];
  provenance.record(at, 'guestnetwork', [device, index]);
  provenance.record([...at, 'prefix'], 'guestnetwork', from('router_guest_ip6_cidr'));
  provenance.record([...at, 'gateway'], 'guestnetwork', from('router_guest_ip6_gateway'));
  provenance.record([...at, 'id'], 'guestnetwork', from('network_id'));
  provenance.record([...at, 'ra', 'dnsServers'], 'guestnetwork', from('dns6'));
  provenance.record([...at, 'ra', 'searchDomains'], 'guestnetwork', from('domain_name'));
  provenance.record([...at, 'ra', 'mtu'], 'guestnetwork', from('mtu'));
  return {
    id: String(entry.network_id ?? device),
    interface: device,
    prefix: entry.router_guest_ip6_cidr ?? networkOf(entry.router_guest_ip6!, 64) ?? entry.router_guest_ip6!,
    gateway: entry.router_guest_ip6_gateway ?? entry.router_guest_ip6!,
    aclId,
    ra: {
      dnsServers: splitList(entry.dns6),
      searchDomains: entry.domain_name ? [entry.domain_name] : [],
      ...(entry.mtu === undefined ? {} : { mtu: entry.mtu }),
    },
  };
}
