import type { FlowCase } from './flow-matrix.js';
import { IF, PUBLIC_PREFIX, TIER1 } from './topology.js';

/**
 * The isolated-network firewall lab's data: one network whose egress rules
 * are flipped by the offering's default egress policy (CloudStack: under
 * default allow they deny, under default deny they allow), and the matrices
 * for both policies. Endpoints: guest (g1), upstream (2001:db8:100::1) and
 * internet (2001:db8:ffff::1).
 */

const INTERNET_48 = '2001:db8:ffff::/48';

/** The isolated network's state; only `defaultEgress` differs between the two pushes. */
export function renderIsolatedFirewallState(defaultEgress: 'allow' | 'deny'): Record<string, any> {
  return {
    schemaVersion: 1,
    router: { id: 'r-iso-VM', kind: 'isolated' },
    public: { interface: IF.vrPublic, mode: 'slaac', expectedPrefix: PUBLIC_PREFIX },
    guestNetworks: [
      {
        id: 'net-iso',
        interface: IF.vrTier1,
        prefix: TIER1,
        firewall: {
          defaultEgress,
          ingress: [
            { id: 'fw-http', protocol: 'tcp', ports: { start: 80, end: 80 } },
            { id: 'fw-ssh', protocol: 'tcp', ports: { start: 22, end: 22 }, cidrs: [INTERNET_48] },
            { id: 'fw-dns', protocol: 'udp', ports: { start: 53, end: 53 } },
            { id: 'fw-ping', protocol: 'icmpv6', icmp: { type: 128, code: 0 }, cidrs: [PUBLIC_PREFIX] },
          ],
          egress: [
            { id: 'eg-ntp', protocol: 'udp', ports: { start: 123, end: 123 } },
            { id: 'eg-smtp', protocol: 'tcp', ports: { start: 25, end: 25 } },
            { id: 'eg-ping', protocol: 'icmpv6', icmp: { type: 128 }, cidrs: [INTERNET_48] },
          ],
        },
      },
    ],
  };
}

/** Ingress does not depend on the default egress policy: these rows hold under both. */
const INGRESS_ROWS: readonly FlowCase[] = [
  { from: 'upstream', to: 'guest', protocol: 'tcp', port: 80, expected: 'pass', why: 'ingress rule fw-http allows tcp/80 from anywhere' },
  { from: 'internet', to: 'guest', protocol: 'tcp', port: 80, expected: 'pass', why: 'ingress rule fw-http allows tcp/80 from anywhere' },
  { from: 'internet', to: 'guest', protocol: 'tcp', port: 22, expected: 'pass', why: 'ingress rule fw-ssh allows tcp/22 from the internet /48' },
  { from: 'upstream', to: 'guest', protocol: 'tcp', port: 22, expected: 'deny', why: 'fw-ssh is restricted to the internet /48; ingress default deny' },
  { from: 'upstream', to: 'guest', protocol: 'tcp', port: 9999, expected: 'deny', why: 'no ingress rule; ingress default deny' },
  { from: 'upstream', to: 'guest', protocol: 'udp', port: 53, expected: 'pass', why: 'ingress rule fw-dns allows udp/53 from anywhere' },
  { from: 'upstream', to: 'guest', protocol: 'udp', port: 9999, expected: 'deny', why: 'no ingress rule for udp/9999; ingress default deny' },
  { from: 'upstream', to: 'guest', protocol: 'icmpv6', expected: 'pass', why: 'ingress rule fw-ping allows echo (code 0) from the public /64' },
  { from: 'internet', to: 'guest', protocol: 'icmpv6', expected: 'deny', why: 'fw-ping is restricted to the public /64; ingress default deny' },
];

/** defaultEgress 'allow': every egress rule is a deny. */
export const ISOLATED_ALLOW_MATRIX: readonly FlowCase[] = [
  ...INGRESS_ROWS,
  { from: 'guest', to: 'upstream', protocol: 'tcp', port: 80, expected: 'pass', why: 'default egress allow' },
  { from: 'guest', to: 'upstream', protocol: 'tcp', port: 9999, expected: 'pass', why: 'default egress allow' },
  { from: 'guest', to: 'upstream', protocol: 'udp', port: 53, expected: 'pass', why: 'default egress allow' },
  { from: 'guest', to: 'upstream', protocol: 'udp', port: 123, expected: 'deny', why: 'egress rule eg-ntp denies udp/123 under default allow' },
  { from: 'guest', to: 'internet', protocol: 'tcp', port: 25, expected: 'deny', why: 'egress rule eg-smtp denies tcp/25 under default allow' },
  { from: 'guest', to: 'upstream', protocol: 'icmpv6', expected: 'pass', why: 'eg-ping names only the internet /48; default egress allow' },
  { from: 'guest', to: 'internet', protocol: 'icmpv6', expected: 'deny', why: 'egress rule eg-ping denies echo to the internet /48 under default allow' },
];

/** defaultEgress 'deny': every egress rule is an allow. */
export const ISOLATED_DENY_MATRIX: readonly FlowCase[] = [
  ...INGRESS_ROWS,
  { from: 'guest', to: 'upstream', protocol: 'tcp', port: 80, expected: 'deny', why: 'default egress deny' },
  { from: 'guest', to: 'upstream', protocol: 'tcp', port: 9999, expected: 'deny', why: 'default egress deny' },
  { from: 'guest', to: 'upstream', protocol: 'udp', port: 53, expected: 'deny', why: 'default egress deny' },
  { from: 'guest', to: 'upstream', protocol: 'udp', port: 123, expected: 'pass', why: 'egress rule eg-ntp allows udp/123 under default deny' },
  { from: 'guest', to: 'internet', protocol: 'tcp', port: 25, expected: 'pass', why: 'egress rule eg-smtp allows tcp/25 under default deny' },
  { from: 'guest', to: 'upstream', protocol: 'icmpv6', expected: 'deny', why: 'eg-ping names only the internet /48; default egress deny' },
  { from: 'guest', to: 'internet', protocol: 'icmpv6', expected: 'pass', why: 'egress rule eg-ping allows echo to the internet /48 under default deny' },
];
