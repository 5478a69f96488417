import type { z } from 'zod';
import type { AclItem, AclList, FirewallRule, IsolatedFirewall } from '../schema/firewall.js';
import type { AclEntry, AclRule, FirewallRuleEntry, Keyed } from './databags.js';
import type { Provenance } from './provenance.js';

/**
 * CloudStack's firewall rules (isolated networks) and network ACL rules (VPC
 * tiers) as the desired state's rules. Both carry CIDR lists that may mix
 * IPv4 and IPv6, and ICMP types that may be ICMPv4 numbers: docs/cloudstack.md
 * says what each becomes. A rule that means nothing for IPv6 (only IPv4
 * CIDRs, or an ICMPv4 type with no ICMPv6 counterpart) is left out.
 */

type RuleInput = z.input<typeof FirewallRule>;
type AclItemInput = z.input<typeof AclItem>;
type SpecPath = readonly PropertyKey[];

const ANY = '::/0';
// Dotted quad with an optional length: what CloudStack writes for IPv4.
const IPV4_CIDR = /^\d{1,3}(\.\d{1,3}){3}(\/\d{1,2})?$/;

/** A CIDR list split by family: IPv6 (and anything else, for the schema to judge) kept, IPv4 counted. */
export interface SplitCidrs {
  readonly ipv6: string[];
  readonly hasIpv4: boolean;
}

/** Splits CloudStack's CIDRs: an ACL rule's comma-separated text, or a firewall rule's list. */
export function splitCidrs(cidrs: readonly string[]): SplitCidrs {
  const texts = cidrs.map((cidr) => cidr.trim()).filter((cidr) => cidr.length > 0);
  return { ipv6: texts.filter((cidr) => !IPV4_CIDR.test(cidr)), hasIpv4: texts.some((cidr) => IPV4_CIDR.test(cidr)) };
}

// ICMPv4 type (RFC 792) → the ICMPv6 type of the same meaning (RFC 4443), by ICMPv4 code; '*' is any code.
// Types without an entry (redirect, router discovery, timestamp, address mask,
// source quench) have no ICMPv6 counterpart that crosses a router.
const ICMPV4_TO_V6: Record<number, Record<string, { type: number; code?: number }>> = {
  0: { '*': { type: 129 }, 0: { type: 129 } },
  8: { '*': { type: 128 }, 0: { type: 128 } },
  3: { '*': { type: 1 }, 0: { type: 1, code: 0 }, 1: { type: 1, code: 3 }, 3: { type: 1, code: 4 }, 4: { type: 2 }, 9: { type: 1, code: 1 }, 10: { type: 1, code: 1 }, 13: { type: 1, code: 1 } },
  11: { '*': { type: 3 }, 0: { type: 3, code: 0 }, 1: { type: 3, code: 1 } },
  12: { '*': { type: 4 }, 0: { type: 4, code: 0 } },
};

/**
 * The ICMPv6 match of a CloudStack ICMP rule; null when the rule means
 * nothing for IPv6. -1 is CloudStack's "any". On a rule whose CIDRs are all
 * IPv6 the numbers are ICMPv6's, as given. On a rule that also names IPv4
 * CIDRs a type below 128 is an ICMPv4 number (echo request is 8 there, 128
 * in ICMPv6) and becomes its ICMPv6 counterpart; 128 and up exist only in
 * ICMPv6 and stay.
 */
export function translateIcmp(type: number | undefined, code: number | undefined, isMixed: boolean): { icmp?: { type: number; code?: number } } | null {
  if (type === undefined || type < 0) return {};
  const anyCode = code === undefined || code < 0;
  if (!isMixed || type >= 128) return { icmp: anyCode ? { type } : { type, code } };
  const counterpart = ICMPV4_TO_V6[type]?.[anyCode ? '*' : String(code)];
  return counterpart === undefined ? null : { icmp: counterpart };
}

/** A protocol number: ICMP's (1 in IPv4, 58 in IPv6) is icmpv6, since an IPv6 rule can only mean ICMPv6. */
function protocolOfNumber(protocol: number): RuleInput['protocol'] {
  return protocol === 1 || protocol === 58 ? 'icmpv6' : protocol;
}

function protocolOfName(name: string | number): RuleInput['protocol'] | string {
  if (typeof name === 'number') return protocolOfNumber(name);
  const lower = name.toLowerCase();
  if (/^\d+$/.test(lower)) return protocolOfNumber(Number(lower));
  if (lower === 'icmp' || lower === 'icmpv6' || lower === 'ipv6-icmp') return 'icmpv6';
  // tcp, udp, all; anything else goes on for the schema to refuse at its path.
  return lower;
}

function portsOf(start: number | undefined, end: number | undefined): { ports?: { start: number; end: number } } {
  if (start === undefined || start < 0) return {};
  return { ports: { start, end: end === undefined || end < 0 ? start : end } };
}

/**
 * An isolated network's firewall from ipv6firewallrules.json. Rule 0 carries
 * the offering's default egress policy and is no rule; revoked rules are
 * left out (merge.py deletes them; one still present is not in force).
 */
export function translateFirewall(rules: Keyed<FirewallRuleEntry>, provenance: Provenance, at: SpecPath): z.input<typeof IsolatedFirewall> {
  const sorted = [...rules].filter(([, rule]) => !rule.revoked).sort(([, a], [, b]) => a.id - b.id);
  const policyCarrier = sorted.find(([, rule]) => rule.id === 0) ?? sorted.find(([, rule]) => rule.default_egress_policy !== undefined);
  const isEgressAllowed = policyCarrier?.[1].default_egress_policy ?? true;
  const firewall = { defaultEgress: isEgressAllowed ? ('allow' as const) : ('deny' as const), ingress: [] as RuleInput[], egress: [] as RuleInput[] };
  for (const [key, rule] of sorted) {
    if (rule.id === 0) continue;
    const direction = rule.traffic_type === 'Ingress' ? 'ingress' : 'egress';
    const translated = translateFirewallRule(rule);
    if (translated === null) continue;
    const path = [...at, direction, firewall[direction].length];
    firewall[direction].push(translated);
    provenance.record(path, 'ipv6firewallrules', [key]);
    const [remote, local] = direction === 'ingress' ? ['source_cidr_list', 'dest_cidr_list'] : ['dest_cidr_list', 'source_cidr_list'];
    provenance.record([...path, 'cidrs'], 'ipv6firewallrules', [key, remote]);
    provenance.record([...path, 'localCidrs'], 'ipv6firewallrules', [key, local]);
    provenance.record([...path, 'protocol'], 'ipv6firewallrules', [key, 'protocol']);
    provenance.record([...path, 'ports'], 'ipv6firewallrules', [key, 'src_port_range']);
    provenance.record([...path, 'icmp'], 'ipv6firewallrules', [key, 'icmp_type']);
  }
  return firewall;
}

function translateFirewallRule(rule: FirewallRuleEntry): RuleInput | null {
  const isIngress = rule.traffic_type === 'Ingress';
  const remote = splitCidrs(isIngress ? rule.source_cidr_list : rule.dest_cidr_list);
  const local = splitCidrs(isIngress ? rule.dest_cidr_list : rule.source_cidr_list);
  // An empty list means anywhere; a list of only IPv4 CIDRs means no IPv6 traffic at all.
  if ((remote.hasIpv4 && remote.ipv6.length === 0) || (local.hasIpv4 && local.ipv6.length === 0)) return null;
  const protocol = protocolOfName(rule.protocol) as RuleInput['protocol'];
  const match = protocol === 'icmpv6' ? translateIcmp(rule.icmp_type, rule.icmp_code, false) : {};
  if (match === null) return null;
  const ports = protocol === 'tcp' || protocol === 'udp' ? portsOf(rule.src_port_range?.[0], rule.src_port_range?.[1]) : {};
  return {
    id: String(rule.id),
    protocol,
    ...ports,
    ...match,
    cidrs: remote.ipv6.length > 0 ? remote.ipv6 : [ANY],
    localCidrs: local.ipv6.length > 0 ? local.ipv6 : [ANY],
  };
}

/**
 * A VPC tier's ACL list from its network_acl entry: ingress rules, then egress
 * rules, each in the order CloudStack sent them (first match wins). Egress
 * not matched is allowed while the entry has no egress rule at all and
 * denied once it has one, as CloudStack documents for its ACLs.
 */
export function translateAcl(id: string, device: string, entry: AclEntry, provenance: Provenance, at: SpecPath): z.input<typeof AclList> {
  const items: AclItemInput[] = [];
  for (const direction of ['ingress', 'egress'] as const) {
    const key = direction === 'ingress' ? 'ingress_rules' : 'egress_rules';
    entry[key].forEach((rule, index) => {
      const item = translateAclRule(rule, direction, items.length + 1);
      if (item === null) return;
      const path = [...at, 'items', items.length];
      items.push(item);
      provenance.record(path, 'networkacl', [device, key, index]);
      provenance.record([...path, 'cidrs'], 'networkacl', [device, key, index, 'cidr']);
      provenance.record([...path, 'protocol'], 'networkacl', [device, key, index, rule.type === 'protocol' ? 'protocol' : 'type']);
      provenance.record([...path, 'ports'], 'networkacl', [device, key, index, 'first_port']);
      provenance.record([...path, 'icmp'], 'networkacl', [device, key, index, 'icmp_type']);
    });
  }
  return { id, defaultEgress: entry.egress_rules.length === 0 ? 'allow' : 'deny', items };
}

function translateAclRule(rule: AclRule, direction: 'ingress' | 'egress', number: number): AclItemInput | null {
  const cidrs = splitCidrs(rule.cidr.split(','));
  if (cidrs.ipv6.length === 0) return null;
  const isMixed = cidrs.hasIpv4;
  const protocol = (rule.type === 'protocol' ? protocolOfNumber(rule.protocol ?? -1) : protocolOfName(rule.type)) as RuleInput['protocol'];
  const match = protocol === 'icmpv6' && rule.type !== 'protocol' ? translateIcmp(rule.icmp_type, rule.icmp_code, isMixed) : {};
  if (match === null) return null;
  const ports = protocol === 'tcp' || protocol === 'udp' ? portsOf(rule.first_port, rule.last_port) : {};
  return { number, action: rule.allowed ? 'allow' : 'deny', direction, protocol, ...ports, ...match, cidrs: cidrs.ipv6 };
}
