import { z } from 'zod';
import { Identifier, Ipv6Cidr, Port, wholeNumber } from './fields.js';
import type { DeepReadonly } from './validation.js';

/**
 * Firewall rules for isolated networks and ACL lists for VPC tiers. This file
 * only says what is well formed; render/ruleset.ts says what it means.
 */

const NamedProtocol = z.enum(['tcp', 'udp', 'icmpv6', 'all']);

// The headers the kernel walks past to find the transport header
// (ipv6_ext_hdr() in include/net/ipv6.h: hop-by-hop, routing, fragment, AH,
// no next header, destination options): nftables' l4proto is never one of
// them, so a rule naming one would silently match nothing.
const EXTENSION_HEADERS = new Set([0, 43, 44, 51, 59, 60]);

/** tcp, udp, icmpv6, all, or an IP protocol number. */
export const Protocol = z
  .union([NamedProtocol, wholeNumber(255)])
  .superRefine((protocol, ctx) => {
    // CloudStack's IPv4 ACLs say "icmp"; type numbers differ between ICMP and
    // ICMPv6 (echo request is 8 against 128), so they must never slip through.
    if (protocol === 1) ctx.addIssue({ code: 'custom', message: 'protocol 1 is ICMPv4; use "icmpv6"' });
    if (typeof protocol === 'number' && EXTENSION_HEADERS.has(protocol)) {
      ctx.addIssue({ code: 'custom', message: `protocol ${protocol} is an IPv6 extension header, which a firewall rule can never match` });
    }
  })
  .meta({ description: 'tcp, udp, icmpv6, all, or an IP protocol number 0-255 (not 1, ICMPv4, nor an IPv6 extension header)' });

/** An inclusive port range. */
export const PortRange = z
  .strictObject({ start: Port, end: Port })
  .refine((range) => range.start <= range.end, { message: 'start must not exceed end', path: ['end'] });

/** An ICMPv6 type and, optionally, one code; no code means every code of the type. */
export const IcmpMatch = z.strictObject({
  type: wholeNumber(255),
  code: wholeNumber(255).optional(),
});

const RuleMatch = {
  protocol: Protocol,
  ports: PortRange.optional().meta({ description: 'destination ports; tcp and udp only' }),
  icmp: IcmpMatch.optional().meta({ description: 'ICMPv6 type and code; icmpv6 only' }),
  cidrs: z
    .array(Ipv6Cidr)
    .min(1)
    .max(1024)
    .prefault(['::/0'])
    .meta({ description: 'ingress: where the traffic comes from; egress: where it goes' }),
};

function refineMatch(rule: { protocol: string | number; ports?: unknown; icmp?: unknown }, ctx: z.RefinementCtx) {
  if (rule.ports !== undefined && rule.protocol !== 'tcp' && rule.protocol !== 'udp') {
    ctx.addIssue({ code: 'custom', path: ['ports'], message: 'ports apply only to tcp and udp' });
  }
  if (rule.icmp !== undefined && rule.protocol !== 'icmpv6') {
    ctx.addIssue({ code: 'custom', path: ['icmp'], message: 'icmp applies only to protocol icmpv6' });
  }
}

/**
 * A rule of an isolated network. Ingress rules allow; egress rules do the
 * opposite of the network's default egress policy, as in CloudStack.
 */
export const FirewallRule = z
  .strictObject({
    id: Identifier.optional(),
    ...RuleMatch,
    localCidrs: z
      .array(Ipv6Cidr)
      .min(1)
      .max(1024)
      .prefault(['::/0'])
      .meta({ description: "the network's own side: ingress, which of its addresses the traffic goes to; egress, which of them send it" }),
  })
  .superRefine(refineMatch);
export type FirewallRule = DeepReadonly<z.output<typeof FirewallRule>>;

/** The firewall of an isolated network. */
export const IsolatedFirewall = z.strictObject({
  defaultEgress: z
    .enum(['allow', 'deny'])
    .default('allow')
    .meta({ description: "the offering's default egress policy" }),
  ingress: z.array(FirewallRule).max(10000).default([]),
  egress: z.array(FirewallRule).max(10000).default([]),
});
export type IsolatedFirewall = DeepReadonly<z.output<typeof IsolatedFirewall>>;

/** One item of a VPC ACL list: evaluated in ascending number, first match wins. */
export const AclItem = z
  .strictObject({
    number: z.number().int().min(1).max(2 ** 31 - 1),
    action: z.enum(['allow', 'deny']),
    direction: z.enum(['ingress', 'egress']),
    ...RuleMatch,
  })
  .superRefine(refineMatch);
export type AclItem = DeepReadonly<z.output<typeof AclItem>>;

/** A VPC ACL list, referenced by tiers. */
export const AclList = z
  .strictObject({
    id: Identifier,
    defaultEgress: z
      .enum(['allow', 'deny'])
      .default('allow')
      .meta({ description: 'what egress traffic matching no item gets; ingress always ends in deny' }),
    items: z.array(AclItem).max(10000).default([]),
  })
  .superRefine((list, ctx) => {
    const seen = new Map<number, number>();
    list.items.forEach((item, index) => {
      const first = seen.get(item.number);
      if (first !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['items', index, 'number'],
          message: `number ${item.number} is already used by items[${first}]`,
        });
      } else {
        seen.set(item.number, index);
      }
    });
  });
export type AclList = DeepReadonly<z.output<typeof AclList>>;
