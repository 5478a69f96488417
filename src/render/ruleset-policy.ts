import type { GuestNetwork } from '../schema/desired-state.js';
import { IsolatedFirewall, type AclItem, type AclList, type FirewallRule } from '../schema/firewall.js';
import {
  ACCEPT,
  COUNTED_DROP,
  RETURN,
  renderAddressMatch,
  renderIcmpCodeMatch,
  renderIcmpTypeMatch,
  renderMetaMatch,
  renderPayloadMatch,
  type NftExpr,
  type NftRule,
} from './ruleset-expr.js';

/**
 * The per-network part of the firewall: for each guest network an egress
 * chain (traffic the network sends) and an ingress chain (traffic sent to it),
 * from an isolated network's firewall rules or a VPC tier's ACL list.
 *
 * The forward chain jumps to egress_<if> for packets coming in on the guest
 * interface and to ingress_<if> for packets going out on it. An egress chain
 * therefore `return`s to let a packet on (to the destination's ingress chain
 * or upstream) and drops to stop it; an ingress chain `accept`s.
 */

/** Allow or deny, as CloudStack spells an action. */
export type RuleAction = 'allow' | 'deny';

/** The rules of one network's two chains. */
export interface NetworkPolicyRules {
  readonly ingress: NftRule[];
  readonly egress: NftRule[];
}

/** What a rule of one direction matches: the fields shared by firewall rules and ACL items. */
type RuleMatch = Pick<FirewallRule, 'protocol' | 'ports' | 'icmp' | 'cidrs'>;

// The schema's own defaults (ingress deny all, default egress allow), for an
// isolated network that carries no firewall at all.
const DEFAULT_ISOLATED_FIREWALL: IsolatedFirewall = IsolatedFirewall.parse({});

// A tier whose ACL list is missing (the schema refuses that) fails closed.
const MISSING_ACL_LIST: AclList = { id: 'missing', defaultEgress: 'deny', items: [] };

/** The chain that checks what a guest network sends. */
export function egressChainName(interfaceName: string): string {
  return `egress_${interfaceName}`;
}

/** The chain that checks what is sent to a guest network. */
export function ingressChainName(interfaceName: string): string {
  return `ingress_${interfaceName}`;
}

/**
 * The action of an isolated network's egress rule. CloudStack's egress rules
 * are the exceptions to the offering's default egress policy: under default
 * allow every egress rule denies, under default deny every egress rule allows.
 * (Ingress rules always allow; ingress is default deny.)
 */
export function egressRuleAction(defaultEgress: RuleAction): RuleAction {
  return defaultEgress === 'allow' ? 'deny' : 'allow';
}

/** The protocol part of a match; 'all' matches any protocol. */
function renderProtocolMatch(rule: RuleMatch): NftExpr[] {
  const { protocol, ports, icmp } = rule;
  if (protocol === 'all') return [];
  if (protocol === 'tcp' || protocol === 'udp') {
    if (ports === undefined) return [renderMetaMatch('l4proto', protocol)];
    const right = ports.start === ports.end ? ports.start : { range: [ports.start, ports.end] as const };
    return [renderMetaMatch('l4proto', protocol), renderPayloadMatch({ protocol, field: 'dport' }, right)];
  }
  if (protocol === 'icmpv6') {
    if (icmp === undefined) return [renderMetaMatch('l4proto', 'ipv6-icmp')];
    const code = icmp.code === undefined ? [] : [renderIcmpCodeMatch([icmp.code])];
    return [...renderIcmpTypeMatch([icmp.type]), ...code];
  }
  // `meta l4proto` rather than `ip6 nexthdr`: it is the upper-layer protocol
  // after any extension headers (RFC 8200 §4), which is what a rule means.
  return [renderMetaMatch('l4proto', protocol)];
}

/** A whole rule: protocol, then addresses (source for ingress, destination for egress), then the verdict. */
function renderPolicyRule(
  rule: RuleMatch & { readonly localCidrs?: FirewallRule['localCidrs'] },
  direction: 'ingress' | 'egress',
  action: RuleAction,
  comment: string,
): NftRule {
  const address = renderAddressMatch(direction === 'ingress' ? 'saddr' : 'daddr', rule.cidrs);
  // The network's own side (CloudStack's dest_cidr_list of an ingress rule): ::/0 matches nothing more.
  const local = rule.localCidrs === undefined ? [] : renderAddressMatch(direction === 'ingress' ? 'daddr' : 'saddr', rule.localCidrs);
  return { expr: [...renderProtocolMatch(rule), ...address, ...local, ...renderVerdict(direction, action)], comment };
}

/** Allow means `accept` in an ingress chain and `return` in an egress chain; deny is a counted drop. */
function renderVerdict(direction: 'ingress' | 'egress', action: RuleAction): NftExpr[] {
  if (action === 'deny') return [...COUNTED_DROP];
  return [direction === 'ingress' ? ACCEPT : RETURN];
}

/** The last rule of each chain: ingress ends in a drop, egress in the default egress policy. */
function renderDefaultRules(defaultEgress: RuleAction): NetworkPolicyRules {
  return {
    ingress: [{ expr: [...COUNTED_DROP], comment: 'default ingress deny' }],
    egress: [{ expr: renderVerdict('egress', defaultEgress), comment: `default egress ${defaultEgress}` }],
  };
}

/**
 * The chains of an isolated network: ingress rules allow traffic from their
 * cidrs, egress rules to their cidrs take egressRuleAction(defaultEgress).
 * An absent firewall means the defaults: no ingress, egress allowed.
 */
export function renderIsolatedPolicy(network: GuestNetwork): NetworkPolicyRules {
  const firewall = network.firewall ?? DEFAULT_ISOLATED_FIREWALL;
  const label = (rule: FirewallRule, direction: string, index: number) =>
    rule.id === undefined ? `firewall ${direction}[${index}]` : `firewall rule ${rule.id}`;
  const egressAction = egressRuleAction(firewall.defaultEgress);
  const defaults = renderDefaultRules(firewall.defaultEgress);
  return {
    ingress: [
      ...firewall.ingress.map((rule, i) => renderPolicyRule(rule, 'ingress', 'allow', label(rule, 'ingress', i))),
      ...defaults.ingress,
    ],
    egress: [
      ...firewall.egress.map((rule, i) => renderPolicyRule(rule, 'egress', egressAction, label(rule, 'egress', i))),
      ...defaults.egress,
    ],
  };
}

/**
 * The chains of a VPC tier from its ACL list: items in ascending number,
 * first match wins (each item ends in a verdict), ingress items by source,
 * egress items by destination; ingress ends in a drop, egress in the list's
 * default egress policy. A missing list (refused by the schema) denies all.
 */
export function renderAclPolicy(list: AclList | undefined): NetworkPolicyRules {
  const acl = list ?? MISSING_ACL_LIST;
  const sorted = [...acl.items].sort((a, b) => a.number - b.number);
  const render = (direction: 'ingress' | 'egress') =>
    sorted
      .filter((item) => item.direction === direction)
      .map((item: AclItem) => renderPolicyRule(item, direction, item.action, `acl ${acl.id} item ${item.number}`));
  const defaults = renderDefaultRules(acl.defaultEgress);
  return { ingress: [...render('ingress'), ...defaults.ingress], egress: [...render('egress'), ...defaults.egress] };
}
