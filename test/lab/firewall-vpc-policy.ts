import type { FlowCase } from './flow-matrix.js';
import { IF, OPTIONAL_IF, TIER1, TIER2, TIER3 } from './topology.js';

/**
 * The VPC firewall lab's data: a three-tier desired state and the allow/deny
 * matrix it must produce on the wire. Endpoints: web, app, db (the guests g1,
 * g2, g3 of tiers 1-3), upstream (the upstream router's 2001:db8:100::1) and
 * internet (2001:db8:ffff::1 on the upstream's loopback), and mgmt (the
 * management network behind the VR's control interface).
 */

/** The /48 of the internet host: what acl-web's CIDR-restricted items name. */
const INTERNET_48 = '2001:db8:ffff::/48';

/**
 * Three tiers. Item numbers are deliberately out of order in the input, so
 * only an evaluation in ascending number gives the matrix below.
 */
export function renderVpcFirewallState(): Record<string, any> {
  return {
    schemaVersion: 1,
    router: { id: 'r-fw-VM', kind: 'vpc' },
    public: { interface: IF.vrPublic, mode: 'slaac', expectedPrefix: '2001:db8:100::/64' },
    // No `ra`: the default 200-600 s interval, so an RA that answers rdisc6 within a second is the answer to its RS.
    guestNetworks: [
      { id: 'tier-web', interface: IF.vrTier1, prefix: TIER1, aclId: 'acl-web' },
      { id: 'tier-app', interface: IF.vrTier2, prefix: TIER2, aclId: 'acl-app' },
      { id: 'tier-db', interface: OPTIONAL_IF.vrTier3, prefix: TIER3, aclId: 'acl-db' },
    ],
    aclLists: [
      {
        id: 'acl-web',
        defaultEgress: 'allow',
        items: [
          { number: 30, action: 'allow', direction: 'ingress', protocol: 'tcp', ports: { start: 80, end: 80 } },
          { number: 40, action: 'allow', direction: 'ingress', protocol: 'icmpv6', icmp: { type: 128 } },
          { number: 10, action: 'deny', direction: 'ingress', protocol: 'tcp', ports: { start: 80, end: 80 }, cidrs: [INTERNET_48] },
          { number: 20, action: 'allow', direction: 'ingress', protocol: 'tcp', ports: { start: 22, end: 22 }, cidrs: [INTERNET_48] },
          { number: 5, action: 'deny', direction: 'egress', protocol: 'udp', ports: { start: 123, end: 123 } },
        ],
      },
      {
        id: 'acl-app',
        defaultEgress: 'deny',
        items: [
          { number: 50, action: 'allow', direction: 'egress', protocol: 'icmpv6', icmp: { type: 128 } },
          { number: 10, action: 'allow', direction: 'ingress', protocol: 'tcp', ports: { start: 8080, end: 8090 }, cidrs: [TIER1] },
          { number: 20, action: 'allow', direction: 'ingress', protocol: 'icmpv6', icmp: { type: 128 }, cidrs: ['2001:db8:200::/48'] },
          { number: 30, action: 'allow', direction: 'egress', protocol: 'tcp', ports: { start: 5432, end: 5432 }, cidrs: [TIER3] },
          { number: 40, action: 'allow', direction: 'egress', protocol: 'udp', ports: { start: 53, end: 53 } },
        ],
      },
      {
        id: 'acl-db',
        defaultEgress: 'deny',
        items: [
          { number: 30, action: 'allow', direction: 'ingress', protocol: 'icmpv6', icmp: { type: 128 } },
          { number: 10, action: 'allow', direction: 'ingress', protocol: 'tcp', ports: { start: 5432, end: 5432 }, cidrs: [TIER2, INTERNET_48] },
          { number: 20, action: 'deny', direction: 'ingress', protocol: 'all', cidrs: [TIER1] },
          { number: 40, action: 'allow', direction: 'ingress', protocol: 'udp', ports: { start: 53, end: 53 }, cidrs: [TIER2, INTERNET_48] },
        ],
      },
    ],
  };
}

/** Echo request type 128 is what "ping" means in every row. */
export const VPC_MATRIX: readonly FlowCase[] = [
  // Upstream and internet → tiers: ingress lists, default deny.
  { from: 'upstream', to: 'web', protocol: 'tcp', port: 80, expected: 'pass', why: 'acl-web item 30 allows tcp/80 from anywhere' },
  { from: 'internet', to: 'web', protocol: 'tcp', port: 80, expected: 'deny', why: 'acl-web item 10 (deny tcp/80 from the internet /48) comes before item 30: first match wins' },
  { from: 'internet', to: 'web', protocol: 'tcp', port: 22, expected: 'pass', why: 'acl-web item 20 allows tcp/22 from the internet /48' },
  { from: 'upstream', to: 'web', protocol: 'tcp', port: 22, expected: 'deny', why: 'acl-web item 20 is restricted to the internet /48; ingress default deny' },
  { from: 'upstream', to: 'web', protocol: 'tcp', port: 9999, expected: 'deny', why: 'no acl-web item; ingress default deny' },
  { from: 'upstream', to: 'web', protocol: 'udp', port: 53, expected: 'deny', why: 'no acl-web udp ingress item; ingress default deny' },
  { from: 'upstream', to: 'web', protocol: 'icmpv6', expected: 'pass', why: 'acl-web item 40 allows echo request from anywhere' },
  { from: 'internet', to: 'web', protocol: 'icmpv6', expected: 'pass', why: 'acl-web item 40 allows echo request from anywhere' },
  { from: 'upstream', to: 'app', protocol: 'tcp', port: 8080, expected: 'deny', why: 'acl-app item 10 allows tcp/8080-8090 only from tier-web' },
  { from: 'upstream', to: 'app', protocol: 'icmpv6', expected: 'deny', why: 'acl-app item 20 allows echo only from 2001:db8:200::/48' },
  { from: 'internet', to: 'db', protocol: 'tcp', port: 5432, expected: 'pass', why: 'acl-db item 10 allows tcp/5432 from its second CIDR, the internet /48' },
  { from: 'upstream', to: 'db', protocol: 'tcp', port: 5432, expected: 'deny', why: 'acl-db item 10 names tier-app and the internet /48 only; ingress default deny' },
  { from: 'upstream', to: 'db', protocol: 'icmpv6', expected: 'pass', why: 'acl-db item 30 allows echo from anywhere but tier-web' },
  { from: 'internet', to: 'db', protocol: 'udp', port: 53, expected: 'pass', why: 'acl-db item 40 allows udp/53 from the internet /48' },
  { from: 'upstream', to: 'db', protocol: 'udp', port: 53, expected: 'deny', why: 'acl-db item 40 names tier-app and the internet /48 only; ingress default deny' },
  // Tiers → upstream and internet: egress lists.
  { from: 'web', to: 'upstream', protocol: 'tcp', port: 80, expected: 'pass', why: 'acl-web default egress allow' },
  { from: 'web', to: 'upstream', protocol: 'udp', port: 53, expected: 'pass', why: 'acl-web default egress allow' },
  { from: 'web', to: 'upstream', protocol: 'udp', port: 123, expected: 'deny', why: 'acl-web egress item 5 denies udp/123' },
  { from: 'web', to: 'internet', protocol: 'icmpv6', expected: 'pass', why: 'acl-web default egress allow; the reply is established' },
  { from: 'app', to: 'upstream', protocol: 'tcp', port: 80, expected: 'deny', why: 'acl-app default egress deny' },
  { from: 'app', to: 'upstream', protocol: 'udp', port: 53, expected: 'pass', why: 'acl-app egress item 40 allows udp/53' },
  { from: 'app', to: 'internet', protocol: 'udp', port: 123, expected: 'deny', why: 'acl-app default egress deny' },
  { from: 'app', to: 'internet', protocol: 'icmpv6', expected: 'pass', why: 'acl-app egress item 50 allows echo request' },
  { from: 'db', to: 'upstream', protocol: 'tcp', port: 80, expected: 'deny', why: 'acl-db has no egress item; default egress deny' },
  { from: 'db', to: 'internet', protocol: 'icmpv6', expected: 'deny', why: 'acl-db default egress deny' },
  // Tier → tier: the source's egress list AND the destination's ingress list.
  { from: 'web', to: 'app', protocol: 'tcp', port: 8080, expected: 'pass', why: 'acl-web egress default allow AND acl-app item 10 allows tcp/8080-8090 from tier-web' },
  { from: 'web', to: 'app', protocol: 'tcp', port: 8090, expected: 'pass', why: 'acl-app item 10: the end of the port range is inclusive' },
  { from: 'web', to: 'app', protocol: 'tcp', port: 8091, expected: 'deny', why: 'acl-app item 10 ends at 8090; ingress default deny' },
  { from: 'web', to: 'app', protocol: 'tcp', port: 9999, expected: 'deny', why: 'acl-web egress allows, but acl-app has no such ingress item (default deny)' },
  { from: 'web', to: 'app', protocol: 'udp', port: 53, expected: 'deny', why: 'acl-web egress allows, but acl-app has no udp ingress item (default deny)' },
  { from: 'web', to: 'app', protocol: 'icmpv6', expected: 'pass', why: 'acl-web egress allows AND acl-app item 20 allows echo from the /48' },
  { from: 'app', to: 'web', protocol: 'tcp', port: 80, expected: 'deny', why: 'acl-web item 30 would allow, but acl-app default egress denies tcp/80' },
  { from: 'app', to: 'web', protocol: 'icmpv6', expected: 'pass', why: 'acl-app egress item 50 AND acl-web item 40 allow echo' },
  { from: 'app', to: 'db', protocol: 'tcp', port: 5432, expected: 'pass', why: 'acl-app egress item 30 AND acl-db item 10 allow tcp/5432' },
  { from: 'app', to: 'db', protocol: 'udp', port: 53, expected: 'pass', why: 'acl-app egress item 40 AND acl-db item 40 allow udp/53' },
  { from: 'web', to: 'db', protocol: 'udp', port: 53, expected: 'deny', why: 'acl-db item 20 (deny all from tier-web) comes before item 40 (allow udp/53)' },
  { from: 'app', to: 'db', protocol: 'icmpv6', expected: 'pass', why: 'acl-app egress item 50 AND acl-db item 30 allow echo' },
  { from: 'web', to: 'db', protocol: 'tcp', port: 5432, expected: 'deny', why: 'acl-web egress allows, but acl-db item 10 names tier-app and the internet /48 only, and item 20 denies tier-web' },
  { from: 'web', to: 'db', protocol: 'icmpv6', expected: 'deny', why: 'acl-db item 20 (deny all from tier-web) comes before item 30 (allow echo)' },
  { from: 'db', to: 'app', protocol: 'tcp', port: 8080, expected: 'deny', why: 'acl-db default egress deny, and acl-app item 10 admits only tier-web' },
  { from: 'db', to: 'web', protocol: 'tcp', port: 80, expected: 'deny', why: 'acl-web item 30 would allow, but acl-db default egress denies' },
  // Tier → the VR's control network: not upstream, so no rule lets it through.
  { from: 'web', to: 'mgmt', protocol: 'tcp', port: 9999, expected: 'deny', why: 'acl-web egress allows, but forward sends guest traffic only to the public interface (policy drop)' },
];
