import {
  ACCEPT,
  COUNTED_DROP,
  renderAddressMatch,
  renderCtStateMatch,
  renderIcmpCodeMatch,
  renderIcmpTypeMatch,
  renderMetaMatch,
  renderPayloadMatch,
  type NftRule,
} from './ruleset-expr.js';

/**
 * The fixed part of the firewall, which user rules never override: connection
 * tracking and the ICMPv6 baseline of RFC 4890: §4.3 for traffic through the
 * VR, §4.4 for traffic to it (docs/firewall.md walks through both chains).
 * ICMPv6 type numbers are from the IANA registry that RFC 4890 §3 cites.
 */

const LINK_LOCAL_PREFIX = { address: 'fe80::', length: 10 } as const;

/**
 * `ct state established,related accept; ct state invalid counter drop`.
 * First, so that an ICMPv6 error about a live flow passes as related and an
 * unsolicited one about no flow meets the rest of the policy.
 */
export function renderConntrackRules(): NftRule[] {
  return [renderEstablishedRule(), renderInvalidRule()];
}

function renderEstablishedRule(): NftRule {
  return { expr: [renderCtStateMatch(['established', 'related']), ACCEPT] };
}

function renderInvalidRule(): NftRule {
  return { expr: [renderCtStateMatch(['invalid']), ...COUNTED_DROP], comment: 'ct invalid' };
}

/**
 * §4.4.1: inverse ND 141/142, SEND 148/149, multicast router discovery
 * 151-153 must reach the router. Conntrack cannot track these: measured on
 * kernel 6.18, it marks 141, 142, 148, 149 and 153 `invalid` (and 151, 152
 * untracked), so this accept must come before `ct state invalid drop`.
 */
function renderUntrackableIcmpRule(): NftRule {
  return { expr: [...renderIcmpTypeMatch([141, 142, 148, 149, 151, 152, 153]), ACCEPT], comment: 'rfc4890 4.4.1: ind, send, mrd' };
}

/**
 * §4.4.4: a router ignores redirects (RFC 4861 §8.1), so they are dropped
 * explicitly. Conntrack marks them invalid too; placed before that rule, the
 * drop counts them under their own name, so a guest sending them shows up.
 */
function renderRedirectDropRule(): NftRule {
  return { expr: [...renderIcmpTypeMatch([137]), ...COUNTED_DROP], comment: 'rfc4890 4.4.4: redirect' };
}

/**
 * The rest of the ICMPv6 to the router itself, RFC 4890 §4.4, after the
 * conntrack rules. Errors about no known flow are `invalid` and already
 * dropped, as the ICMPv6 policy intends. What is not accepted here falls to
 * the drop policy: 138 renumbering, 139/140 node information, 144-147
 * mobility, experimental, extension and unallocated types.
 */
export function renderInputIcmpRules(): NftRule[] {
  return [
    // §4.4.1: RS, RA, NS, NA. RFC 4861 §6.1/§7.1 make a receiver discard ND
    // with a hop limit below 255, proof that it was not forwarded from off-link.
    {
      expr: [...renderIcmpTypeMatch([133, 134, 135, 136]), renderPayloadMatch({ protocol: 'ip6', field: 'hoplimit' }, 255), ACCEPT],
      comment: 'rfc4890 4.4.1: nd with hop limit 255',
    },
    // §4.4.1: MLD query, report, done, v2 report; MLD is sent from link-local
    // addresses (RFC 2710 §3, RFC 3810 §5), anything else is forged.
    {
      expr: [...renderAddressMatch('saddr', [LINK_LOCAL_PREFIX]), ...renderIcmpTypeMatch([130, 131, 132, 143]), ACCEPT],
      comment: 'rfc4890 4.4.1: mld from link-local',
    },
    ...renderInputIcmpErrorRules(),
    // §4.4.1: echo request and reply, for reachability of the router.
    { expr: [...renderIcmpTypeMatch([128, 129]), ACCEPT], comment: 'rfc4890 4.4.1: echo' },
  ];
}

/** The error messages §4.4.1 (must accept) and §4.4.2 (normally accept) name for the router itself. */
function renderInputIcmpErrorRules(): NftRule[] {
  return [
    // Destination unreachable (all codes) and packet too big: PMTU discovery
    // (RFC 8201) breaks without 2.
    { expr: [...renderIcmpTypeMatch([1, 2]), ACCEPT], comment: 'rfc4890 4.4.1: unreachable, too big' },
    // Time exceeded: code 0 must pass (§4.4.1), code 1, reassembly, normally passes (§4.4.2).
    { expr: [...renderIcmpTypeMatch([3]), renderIcmpCodeMatch([0, 1]), ACCEPT], comment: 'rfc4890 4.4.1: time exceeded' },
    // Parameter problem: codes 1, 2 must pass (§4.4.1), code 0 normally passes (§4.4.2).
    {
      expr: [...renderIcmpTypeMatch([4]), renderIcmpCodeMatch([0, 1, 2]), ACCEPT],
      comment: 'rfc4890 4.4.1: parameter problem',
    },
  ];
}

/**
 * ICMPv6 through the router, RFC 4890 §4.3: errors pass, and every type but
 * echo request is dropped here. Echo request (128) is left to the per-network
 * policy, so that allowing "icmpv6 type 128" in an ingress rule is what lets
 * the world ping a guest (§4.3.1 lets the operator filter it); replies to a
 * guest's own pings pass as established.
 */
export function renderForwardIcmpRules(): NftRule[] {
  return [
    // §4.3.1: destination unreachable, packet too big, time exceeded and
    // parameter problem must not be dropped; all their codes pass (§4.3.2).
    // Errors about a live flow have passed as related already and errors
    // about none were dropped as invalid; this keeps §4.3.1 true for packets
    // conntrack does not see (untracked), and keeps the drop below off them.
    { expr: [...renderIcmpTypeMatch([1, 2, 3, 4]), ACCEPT], comment: 'rfc4890 4.3.1: errors' },
    // §4.3.3: link-local ND/MLD/SEND/MRD types are never forwarded. §4.3.2
    // passes mobility 144-147 only where Mobile IPv6 is offered (it is not).
    // §4.3.4/§4.3.5: unallocated, experimental and extension types, router
    // renumbering 138 and node information 139/140 are dropped. An echo reply
    // (129) that is not established answers no ping of ours.
    { expr: [...renderIcmpTypeMatch([128], '!='), ...COUNTED_DROP], comment: 'rfc4890 4.3: icmpv6 other than echo request' },
  ];
}

/**
 * `iif lo accept`, the first rule of the input chain. `iif` (index) rather
 * than `iifname` is fine for lo, which exists in every namespace before any
 * rule is loaded.
 */
export function renderLoopbackRule(): NftRule {
  return { expr: [renderMetaMatch('iif', 'lo'), ACCEPT] };
}

/**
 * The input chain after loopback and anti-spoofing: established, the ICMPv6
 * types conntrack calls invalid (accepted or dropped by name), invalid, then
 * the rest of the §4.4 baseline.
 */
export function renderInputBaselineRules(): NftRule[] {
  return [
    renderEstablishedRule(),
    renderUntrackableIcmpRule(),
    renderRedirectDropRule(),
    renderInvalidRule(),
    ...renderInputIcmpRules(),
  ];
}
