import type { DesiredState, GuestNetwork } from '../schema/desired-state.js';
import type { AclList } from '../schema/firewall.js';
import type { Ipv6Prefix } from '../schema/ipv6.js';
import { renderConntrackRules, renderForwardIcmpRules, renderInputBaselineRules, renderLoopbackRule } from './ruleset-baseline.js';
import {
  ACCEPT,
  COUNTED_DROP,
  renderAddressMatch,
  renderJump,
  renderMetaMatch,
  renderPayloadMatch,
  renderValueOrSet,
  type NftRule,
} from './ruleset-expr.js';
import type { DeprecatedPrefix } from '../model/deprecated-prefix.js';
import { digestText } from '../model/digest.js';
import { RULESET_TABLE, usageCounterName } from '../model/ownership.js';
import { renderRoutingPeerRules } from './ruleset-routing.js';
import { renderLinkMatch, renderRedundancyRules, type LinkMatch } from './ruleset-redundancy.js';
import { egressChainName, ingressChainName, renderAclPolicy, renderIsolatedPolicy } from './ruleset-policy.js';

export type {
  NftCounter,
  NftExpr,
  NftLeft,
  NftMatch,
  NftPayloadField,
  NftPrefix,
  NftRange,
  NftRight,
  NftRule,
  NftSet,
  NftSetElement,
  NftVerdict,
} from './ruleset-expr.js';
export { egressRuleAction, egressChainName, ingressChainName, type RuleAction } from './ruleset-policy.js';

/**
 * The IPv6 firewall of the VR, rendered from the desired state: a pure data
 * model (renderRuleset) and the libnftables JSON document that loads it
 * (ruleset-document.ts). Same input, byte-identical output.
 */

/** What makes a chain a base chain: where it hooks in and what it does with packets no rule decides. */
export interface NftBaseChain {
  readonly type: 'filter';
  readonly hook: 'input' | 'forward';
  readonly prio: number;
  readonly policy: 'accept' | 'drop';
}

/** A chain of our table: a base chain when `base` is set, else a jump target. */
export interface NftChain {
  readonly name: string;
  readonly base?: NftBaseChain;
  readonly rules: readonly NftRule[];
}

/** The whole content of our table, in load order. */
export interface NftRuleset {
  readonly chains: readonly NftChain[];
  /** Named counters, one per network and direction, for usage reports. */
  readonly counters: readonly string[];
}

/**
 * Renders the firewall: the input and forward base chains, then an egress and
 * an ingress chain per guest network. Networks are taken in interface-name
 * order, so the management server's ordering of the list changes nothing.
 */
export function renderRuleset(state: DesiredState, deprecated: readonly DeprecatedPrefix[] = []): NftRuleset {
  const networks = networksInOrder(state, deprecated);
  const key = baseChainsKey(state, deprecated);
  const ruleset: NftRuleset = {
    counters: networks.flatMap((network) => [usageCounterName(network.interface, 'egress'), usageCounterName(network.interface, 'ingress')]),
    chains: [
      ...(baseChains.get(key) ?? baseChains.set(key, renderBaseChains(state, deprecated))),
      ...networks.flatMap((network) => renderNetworkChains(state, network)),
    ],
  };
  isolatedChains.age();
  baseChains.age();
  return ruleset;
}

/**
 * The guest networks in interface-name order, each with the prefixes being
 * deprecated on its link among its routed ones: a guest keeps a deprecated
 * address valid for up to two hours, and its flows from it are not spoofed.
 */
function networksInOrder(state: DesiredState, deprecated: readonly DeprecatedPrefix[]): GuestNetwork[] {
  return [...state.guestNetworks]
    .sort((a, b) => compareText(a.interface, b.interface))
    .map((network) => {
      const extra = deprecated.filter((d) => d.interface === network.interface).map((d) => ({ prefix: d.prefix, nextHop: null, description: null }));
      return extra.length === 0 ? network : { ...network, routedPrefixes: [...network.routedPrefixes, ...extra] };
    });
}

/** The input and forward base chains, rendered afresh (renderRuleset keeps them by baseChainsKey). */
export function renderBaseChains(state: DesiredState, deprecated: readonly DeprecatedPrefix[] = []): NftChain[] {
  const networks = networksInOrder(state, deprecated);
  const links = renderLinkMatch(state);
  return [
    {
      name: 'input',
      base: { type: 'filter', hook: 'input', prio: 0, policy: 'drop' },
      rules: [
        ...renderInputRules(state.public.interface, networks, links, state.sharedNetworks.map((network) => network.interface)),
        ...renderRoutingPeerRules(state.routing, state.public.interface, state.sharedNetworks),
        ...renderRedundancyRules(state, links),
      ],
    },
    {
      name: 'forward',
      base: { type: 'filter', hook: 'forward', prio: 0, policy: 'drop' },
      rules: renderForwardRules(state.public.interface, networks, links, state.sharedNetworks.map((network) => network.interface)),
    },
  ];
}

/**
 * Everything of a state the base chains may read, as text: the state without
 * its ACL lists (which only the networks' own chains read) and with each
 * routed prefix as its prefix alone, the shared networks without theirs
 * (the base chains read only their links), and the deprecated prefixes. A
 * routed prefix's next hop is a route, not a rule, so a push that moves prefixes
 * among instances renders the very base chains of the push before, whose
 * digests are kept with them: with a thousand routed prefixes in the
 * anti-spoofing sets, rendering and digesting the forward chain is most of
 * a render (bench/README.md).
 */
function baseChainsKey(state: DesiredState, deprecated: readonly DeprecatedPrefix[]): string {
  const guestNetworks = state.guestNetworks.map((network) => ({ ...network, routedPrefixes: network.routedPrefixes.map((routed) => routed.prefix) }));
  const sharedNetworks = state.sharedNetworks.map((network) => ({ ...network, routedPrefixes: [] }));
  return JSON.stringify([{ ...state, aclLists: [], guestNetworks, sharedNetworks }, deprecated]);
}

/**
 * The input chain: the fixed baseline, then the VR's own services, on the
 * guest interfaces that enable them and nowhere else. Anything not accepted
 * by then, the public side's new connections included, meets the drop policy.
 */
function renderInputRules(publicInterface: string, networks: readonly GuestNetwork[], links: LinkMatch, sharedInterfaces: readonly string[]): NftRule[] {
  return [
    renderLoopbackRule(),
    // The VR answers what it accepts, so a forged source would make it reflect
    // replies at the victim (BCP 38; docs/firewall.md, Input). ND and
    // MLD come from link-local sources, DAD probes from :: (RFC 4862 §5.4.2).
    ...renderAntiSpoofingRules([...links(publicInterface), ...sharedInterfaces], networks, links, LINK_SOURCES),
    ...renderInputBaselineRules(),
    ...networks.flatMap((network) => renderServiceRules(network, links)),
  ];
}

const LINK_SOURCES = [
  { address: 'fe80::', length: 10 },
  { address: '::', length: 128 },
] as const;

/** `iifname "<if>" <tcp|udp> dport <ports> accept`, one rule per protocol. */
function renderServiceRules(network: GuestNetwork, links: LinkMatch): NftRule[] {
  return (['tcp', 'udp'] as const).flatMap((protocol) => {
    const ports = [...new Set(network.vrServices.filter((s) => s.protocol === protocol).map((s) => s.port))].sort((a, b) => a - b);
    if (ports.length === 0) return [];
    const expr = [renderMetaMatch('iifname', renderValueOrSet(links(network.interface))), renderPayloadMatch({ protocol, field: 'dport' }, renderValueOrSet(ports)), ACCEPT];
    return [{ expr, comment: `vr services ${network.id}` }];
  });
}

/**
 * The forward chain. Anti-spoofing comes first, before conntrack and the
 * ICMPv6 baseline (BCP 38; docs/firewall.md, Forward): conntrack ignores the
 * interface, so a forged source would otherwise pass as `related` in an
 * ICMPv6 error or as `established` by hitting another network's flow, and
 * RFC 4890 §4.3 errors are otherwise accepted from anyone. Then the
 * per-network checks: a packet from a guest passes its network's egress chain,
 * a packet to a guest its ingress chain (so tier-to-tier traffic in a VPC
 * passes both), and what a guest may send goes upstream. The rest meets the
 * drop policy.
 */
function renderForwardRules(publicInterface: string, networks: readonly GuestNetwork[], links: LinkMatch, sharedInterfaces: readonly string[]): NftRule[] {
  return [
    ...networks.flatMap((network) => renderUsageRules(network, links)),
    ...renderAntiSpoofingRules([...links(publicInterface), ...sharedInterfaces], networks, links),
    ...renderConntrackRules(),
    ...renderForwardIcmpRules(),
    ...renderDispatchRule('iifname', networks, links, egressChainName),
    ...renderDispatchRule('oifname', networks, links, ingressChainName),
    ...renderUpstreamRules(publicInterface, networks, links, sharedInterfaces),
  ];
}

/**
 * BCP 38 (RFC 2827, RFC 3704 §2.1, ingress filtering): a guest may send only
 * from its own prefix, and nothing from upstream (the public link, and the
 * shared links, whose routers may send to the guests too) may claim a
 * guest's source.
 * No link-local or unspecified source needs an exception: a router never
 * forwards those (RFC 4291 §2.5.6, §2.5.2), and the kernel does not. `iifname` matches by name, so the
 * rule loads before the interface exists.
 */
function renderAntiSpoofingRules(
  upstreamInterfaces: readonly string[],
  networks: readonly GuestNetwork[],
  links: LinkMatch,
  linkSources: readonly Ipv6Prefix[] = [],
): NftRule[] {
  const fromGuests = networks.map((network) => ({
    expr: [
      renderMetaMatch('iifname', renderValueOrSet(links(network.interface))),
      ...renderAddressMatch('saddr', [...sourcesOf(network), ...linkSources], '!='),
      ...COUNTED_DROP,
    ],
    comment: `anti-spoofing network ${network.id}`,
  }));
  if (networks.length === 0) return fromGuests;
  const fromUpstream = {
    expr: [
      renderMetaMatch('iifname', renderValueOrSet(upstreamInterfaces)),
      ...renderAddressMatch('saddr', networks.flatMap(sourcesOf)),
      ...COUNTED_DROP,
    ],
    comment: 'anti-spoofing upstream',
  };
  return [...fromGuests, fromUpstream];
}

/** The sources a network's guests may use: its /64, and the prefixes routed to its instances. */
function sourcesOf(network: GuestNetwork): Ipv6Prefix[] {
  return [network.prefix, ...network.routedPrefixes.map((routed) => routed.prefix)];
}

/**
 * Usage accounting comes first, so it counts every forwarded byte of the
 * network, established flows and dropped packets included. A rule with no
 * verdict lets the packet go on.
 */
function renderUsageRules(network: GuestNetwork, links: LinkMatch): NftRule[] {
  return (['iifname', 'oifname'] as const).map((key) => ({
    expr: [renderMetaMatch(key, renderValueOrSet(links(network.interface))), { counter: usageCounterName(network.interface, key === 'iifname' ? 'egress' : 'ingress') }],
    comment: `usage ${network.id}`,
  }));
}

/**
 * `<iifname|oifname> vmap { "<if>" : jump <chain>, ... }`: one lookup sends a
 * packet to its network's chain, where one rule per network would be tried
 * in turn (up to 98 rules per packet with 50 tiers). A packet of no guest
 * network matches no element and goes on.
 */
function renderDispatchRule(key: 'iifname' | 'oifname', networks: readonly GuestNetwork[], links: LinkMatch, chainOf: (ifname: string) => string): NftRule[] {
  if (networks.length === 0) return [];
  const data = networks.flatMap((network) => links(network.interface).map((name) => [name, renderJump(chainOf(network.interface))] as const));
  return [{ expr: [{ vmap: { key: { meta: { key } }, data: { set: data } } }], comment: `${key === 'iifname' ? 'egress' : 'ingress'} by network` }];
}

/**
 * Traffic from a guest that came back from its egress chain goes upstream.
 * Only from guest interfaces: a packet from any other interface (the VR's
 * control NIC, say) has passed no egress check.
 */
function renderUpstreamRules(publicInterface: string, networks: readonly GuestNetwork[], links: LinkMatch, sharedInterfaces: readonly string[]): NftRule[] {
  if (networks.length === 0) return [];
  const guests = renderValueOrSet(networks.flatMap((network) => links(network.interface)));
  // A shared network's routed prefixes are routed via its instances (their routes are what bgpd's import check
  // needs): a guest's packet to one leaves by that link, under the same egress check as one that goes upstream.
  const upstream = renderValueOrSet([...links(publicInterface), ...sharedInterfaces]);
  return [{ expr: [renderMetaMatch('iifname', guests), renderMetaMatch('oifname', upstream), ACCEPT], comment: 'upstream' }];
}

/** The egress and ingress chains of one network, from its firewall or its tier's ACL list. */
function renderNetworkChains(state: DesiredState, network: GuestNetwork): NftChain[] {
  // A push repeats the whole state; most networks' policies are as before.
  if (state.router.kind === 'isolated') {
    const key = JSON.stringify([network.interface, network.firewall ?? null]);
    return isolatedChains.get(key) ?? isolatedChains.set(key, renderPolicyChains('isolated', network, null));
  }
  const list = state.aclLists.find((l) => l.id === network.aclId);
  if (list === undefined) return renderPolicyChains('vpc', network, null);
  // A list a push repeats is the very object of the push before (desired-state-parser.ts), so its
  // chains are kept with the object, and go with it: identity is the key (DesiredState's rule).
  let byInterface = tierChains.get(list);
  if (byInterface === undefined || byInterface.size >= MAX_TIERS_PER_LIST) tierChains.set(list, (byInterface = new Map()));
  const known = byInterface.get(network.interface);
  if (known !== undefined) return known;
  const chains = renderPolicyChains('vpc', network, list);
  byInterface.set(network.interface, chains);
  return chains;
}

function renderPolicyChains(kind: DesiredState['router']['kind'], network: GuestNetwork, list: AclList | null): NftChain[] {
  const policy = kind === 'vpc' ? renderAclPolicy(list ?? undefined) : renderIsolatedPolicy(network);
  return [
    { name: egressChainName(network.interface), rules: policy.egress },
    { name: ingressChainName(network.interface), rules: policy.ingress },
  ];
}

/**
 * A memo of what the last two renders used: rendering is pure, so a cached
 * value is as good as a fresh one, and what neither render used (a firewall
 * of an earlier push) is forgotten.
 */
class RecentMemo<V> {
  private current = new Map<string, V>();
  private previous = new Map<string, V>();
  get(key: string): V | undefined {
    const value = this.current.get(key) ?? this.previous.get(key);
    if (value !== undefined) this.current.set(key, value);
    return value;
  }
  set(key: string, value: V): V {
    this.current.set(key, value);
    return value;
  }
  /** Ends a render. */
  age(): void {
    this.previous = this.current;
    this.current = new Map();
  }
}

/** The base chains, by baseChainsKey: the state and the deprecated prefixes are new objects on every push. */
const baseChains = new RecentMemo<NftChain[]>();
/** Isolated networks' chains, by interface and firewall: their firewalls are new objects on every push. */
const isolatedChains = new RecentMemo<NftChain[]>();
/** VPC tiers' chains, by list object, then interface. */
const tierChains = new WeakMap<AclList, Map<string, NftChain[]>>();
/** One state has at most 256 networks: more interfaces for one list are of earlier states. */
const MAX_TIERS_PER_LIST = 256;
const chainDigests = new WeakMap<NftChain, string>();

/** A digest of a chain's rendered content: equal digests, equal chains. Memoised per chain object. */
export function renderChainFingerprint(chain: NftChain): string {
  const known = chainDigests.get(chain);
  if (known !== undefined) return known;
  const digest = digestText(JSON.stringify(chain));
  chainDigests.set(chain, digest);
  return digest;
}

// Plain code-unit order: localeCompare would depend on the host's locale.
function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
