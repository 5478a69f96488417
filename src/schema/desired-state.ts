import { z } from 'zod';
import { AclList, IsolatedFirewall } from './firewall.js';
import { DomainName, Identifier, InterfaceName, Ipv6Address, Ipv6Cidr, Ipv6InterfaceAddress, Ipv6Prefix64, Port, wholeNumber } from './fields.js';
import { refineRedundancy, Redundancy } from './redundancy.js';
import { refineRouting, Routing } from './routing.js';
import { refineRoutedPrefixes, RoutedPrefix } from './routed-prefixes.js';
import { refineSharedNetworks, SHARED_NETWORKS_MAX, SharedNetwork } from './shared-networks.js';
import { formatPrefix, hostAddress, isInPrefix, isLinkLocal, isOverlapping, parseIpv6Prefix, type Ipv6Prefix } from './ipv6.js';
import type { DeepReadonly } from './validation.js';
import {
  defaultLifetime,
  defaultMinInterval,
  DNS_OPTIONS_BUDGET,
  DNS_SERVERS_MAX,
  dnsOptionsBytes,
  INFINITE_LIFETIME,
  MAX_INTERVAL,
  MAX_INTERVAL_MESSAGE,
  MIN_INTERVAL,
  ROUTER_LIFETIME_MAX,
  ROUTER_LIFETIME_MESSAGE,
  SEARCH_DOMAINS_MAX,
} from './ra-bounds.js';

/**
 * The desired state: everything the management server wants this VR's IPv6
 * to be. It is the whole truth on every push, never a delta. Versions 1 and
 * 2 differ in the form of guestNetworks[].routedPrefixes
 * (routed-prefixes.ts), and only 2 takes sharedNetworks
 * (shared-networks.ts); both parse to the one DesiredState.
 */

/** The schema versions the agent takes. */
export const SCHEMA_VERSIONS = [1, 2] as const;

// RFC 8781 §4: the prefix lengths a PREF64 option can carry.
const PREF64_LENGTHS = [32, 40, 48, 56, 64, 96];

/** A route information option (RFC 4191): a more specific route the guests may take via the VR. */
export const RaRoute = z.strictObject({
  prefix: Ipv6Cidr,
  preference: z.enum(['low', 'medium', 'high']).default('medium'),
  lifetimeSeconds: wholeNumber(INFINITE_LIFETIME).optional().meta({ description: 'default 3 × maxIntervalSeconds; 4294967295 is infinity' }),
});

const dnsLifetime = (option: string) =>
  wholeNumber(INFINITE_LIFETIME)
    .optional()
    .meta({ description: `${option} lifetime: 0, or from maxIntervalSeconds up; 4294967295 is infinity; default 3 × maxIntervalSeconds` });

const RaSettingsInput = z.strictObject({
  dnsServers: z.array(Ipv6Address).max(DNS_SERVERS_MAX).default([]).meta({ description: 'RDNSS (RFC 8106)' }),
  searchDomains: z.array(DomainName).max(SEARCH_DOMAINS_MAX).default([]).meta({ description: 'DNSSL (RFC 8106)' }),
  mtu: z.number().int().min(1280).max(65535).optional().meta({ description: 'MTU option; absent sends none' }),
  minIntervalSeconds: z
    .number()
    .int()
    .min(MIN_INTERVAL.min)
    .max(MIN_INTERVAL.max)
    .optional()
    .meta({ description: 'at most 0.75 × maxIntervalSeconds; default a third of it (0.75 × below 9 s), at least 3' }),
  maxIntervalSeconds: z.number().int().min(MAX_INTERVAL.min).max(MAX_INTERVAL.max, { message: MAX_INTERVAL_MESSAGE }).default(600),
  routerLifetimeSeconds: wholeNumber(ROUTER_LIFETIME_MAX, ROUTER_LIFETIME_MESSAGE)
    .optional()
    .meta({ description: '0, or between maxIntervalSeconds and 9000; default 3 × maxIntervalSeconds' }),
  validLifetimeSeconds: wholeNumber(INFINITE_LIFETIME).default(86400),
  preferredLifetimeSeconds: wholeNumber(INFINITE_LIFETIME)
    .default(9720)
    .meta({ description: 'default is ND_PREFERRED_LIMIT of RFC 9096 §3.3' }),
  rdnssLifetimeSeconds: dnsLifetime('RDNSS'),
  dnsslLifetimeSeconds: dnsLifetime('DNSSL'),
  dnsLifetimeSeconds: wholeNumber(INFINITE_LIFETIME)
    .optional()
    .meta({ description: 'superseded by rdnssLifetimeSeconds and dnsslLifetimeSeconds: sets both, and is refused with either', deprecated: true }),
  routes: z.array(RaRoute).max(16).default([]).meta({ description: 'route information options (RFC 4191); radvd only' }),
  pref64: Ipv6Cidr.optional().meta({ description: 'NAT64 prefix for IPv6-only networks (RFC 8781); needs a backend that sends PREF64' }),
});
type RaSettingsInput = z.output<typeof RaSettingsInput>;

/**
 * Router advertisement settings of one guest network (RFC 4861 §6.2.1,
 * RFC 8106), with every default filled in: the output has no optional
 * timing or lifetime, and no dnsLifetimeSeconds (it became the two it sets).
 */
export const RaSettings = RaSettingsInput.superRefine(refineRaSettings).transform(({ dnsLifetimeSeconds, ...ra }) => {
  const lifetime = defaultLifetime(ra.maxIntervalSeconds);
  return {
    ...ra,
    minIntervalSeconds: ra.minIntervalSeconds ?? defaultMinInterval(ra.maxIntervalSeconds),
    routerLifetimeSeconds: ra.routerLifetimeSeconds ?? lifetime,
    rdnssLifetimeSeconds: ra.rdnssLifetimeSeconds ?? dnsLifetimeSeconds ?? lifetime,
    dnsslLifetimeSeconds: ra.dnsslLifetimeSeconds ?? dnsLifetimeSeconds ?? lifetime,
  };
});
export type RaSettings = DeepReadonly<z.output<typeof RaSettings>>;

function refineRaSettings(ra: RaSettingsInput, ctx: z.RefinementCtx): void {
  const issue = (key: keyof RaSettingsInput, message: string) => ctx.addIssue({ code: 'custom', path: [key], message });
  const max = ra.maxIntervalSeconds;
  // radvd accepts Min > 0.75 × Max, then silently never advertises
  // (docs/field-notes.md#radvd; RFC 4861 §6.2.1).
  if (ra.minIntervalSeconds !== undefined && ra.minIntervalSeconds > 0.75 * max) {
    issue('minIntervalSeconds', `must not exceed 0.75 × maxIntervalSeconds (${0.75 * max})`);
  }
  if (ra.routerLifetimeSeconds !== undefined && ra.routerLifetimeSeconds !== 0 && ra.routerLifetimeSeconds < max) {
    issue('routerLifetimeSeconds', `must be 0 or at least maxIntervalSeconds (${max}) (RFC 4861 §6.2.1)`);
  }
  if (ra.preferredLifetimeSeconds > ra.validLifetimeSeconds) issue('preferredLifetimeSeconds', 'must not exceed validLifetimeSeconds');
  if (ra.pref64 !== undefined && !PREF64_LENGTHS.includes(ra.pref64.length)) {
    issue('pref64', `must be a /${PREF64_LENGTHS.join(', /')} (RFC 8781 §4)`);
  }
  for (const key of ['rdnssLifetimeSeconds', 'dnsslLifetimeSeconds', 'dnsLifetimeSeconds'] as const) {
    const lifetime = ra[key];
    // RFC 8106 §5.1 sets no floor, but a lifetime shorter than the interval lapses between two
    // unsolicited RAs; radvd 2.19 logs an error for one and sends maxIntervalSeconds instead for DNSSL.
    if (lifetime !== undefined && lifetime !== 0 && lifetime < max) {
      issue(key, `must be 0 or at least maxIntervalSeconds (${max}): a shorter lifetime lapses between RAs`);
    }
  }
  if (ra.dnsLifetimeSeconds !== undefined && (ra.rdnssLifetimeSeconds !== undefined || ra.dnsslLifetimeSeconds !== undefined)) {
    issue('dnsLifetimeSeconds', 'is superseded by rdnssLifetimeSeconds and dnsslLifetimeSeconds: give those two, without dnsLifetimeSeconds');
  }
  const bytes = dnsOptionsBytes(ra.dnsServers, ra.searchDomains);
  if (bytes > DNS_OPTIONS_BUDGET) {
    issue(
      'searchDomains',
      `with dnsServers, takes ${bytes} bytes of RDNSS and DNSSL options, more than the ${DNS_OPTIONS_BUDGET} that fit one RA on a 1280-byte link (RFC 6980 §5): zebra would leave options out, radvd would fragment them`,
    );
  }
}

/** The public (upstream-facing) interface and how it gets its address. */
export const PublicInterface = z
  .strictObject({
    interface: InterfaceName,
    mode: z.enum(['slaac', 'static']).default('slaac').meta({ description: 'slaac learns the address from upstream RAs' }),
    expectedPrefix: Ipv6Prefix64.optional().meta({ description: 'the public /64; lets the agent check the EUI-64' }),
    address: Ipv6InterfaceAddress.optional().meta({ description: 'static mode: the VR address/64' }),
    gateway: Ipv6Address.optional().meta({ description: 'static mode: the upstream router' }),
  })
  .superRefine((pub, ctx) => {
    if (pub.mode === 'slaac') {
      for (const key of ['address', 'gateway'] as const) {
        if (pub[key] !== undefined) ctx.addIssue({ code: 'custom', path: [key], message: 'applies only to mode "static"' });
      }
      return;
    }
    if (pub.address === undefined) ctx.addIssue({ code: 'custom', path: ['address'], message: 'is required in mode "static"' });
    if (pub.gateway === undefined) ctx.addIssue({ code: 'custom', path: ['gateway'], message: 'is required in mode "static"' });
    if (pub.address === undefined || pub.gateway === undefined) return;
    if (pub.address.length !== 64) ctx.addIssue({ code: 'custom', path: ['address'], message: 'must be a /64 address' });
    const onLink = parseIpv6Prefix(`${pub.address.address}/${pub.address.length}`);
    if (!isLinkLocal(pub.gateway) && !isInPrefix(pub.gateway, onLink)) {
      ctx.addIssue({ code: 'custom', path: ['gateway'], message: `must be link-local or inside ${formatPrefix(onLink)}` });
    }
    if (pub.expectedPrefix !== undefined && !isInPrefix(pub.address.address, pub.expectedPrefix)) {
      ctx.addIssue({ code: 'custom', path: ['address'], message: `must be inside expectedPrefix ${formatPrefix(pub.expectedPrefix)}` });
    }
  });
export type PublicInterface = DeepReadonly<z.output<typeof PublicInterface>>;

/** A service of the VR itself that the guests of a network may reach, e.g. DNS on udp and tcp 53. */
export const VrService = z.strictObject({ protocol: z.enum(['tcp', 'udp']), port: Port });

/**
 * A guest network (isolated) or tier (VPC): one /64 on one interface, with
 * `routedPrefix` for each entry of routedPrefixes (as `aclList` below).
 */
function guestNetworkSchema<Entry extends z.ZodType<RoutedPrefix, unknown>>(routedPrefix: Entry) {
  return z.strictObject({
    id: Identifier,
    interface: InterfaceName,
    prefix: Ipv6Prefix64,
    gateway: Ipv6Address.optional().meta({ description: 'the VR address in the prefix; default <prefix>::1' }),
    ra: RaSettings.prefault({}),
    firewall: IsolatedFirewall.optional().meta({ description: 'isolated networks only' }),
    aclId: Identifier.optional().meta({ description: 'VPC tiers only: the id of an entry of aclLists' }),
    vrServices: z
      .array(VrService)
      .max(64)
      .default([])
      .meta({ description: "the VR's own services the guests may reach on this interface; none by default" }),
    routedPrefixes: z
      .array(routedPrefix)
      .max(1024)
      .default([])
      .meta({
        description:
          'schemaVersion 2: prefixes routed to instances of this network, {prefix, nextHop, description?}; schemaVersion 1: plain CIDRs, valid sources from it, not routed',
      }),
  });
}
/** A guest network as the desired state takes it. */
export const GuestNetwork = guestNetworkSchema(RoutedPrefix);
export type GuestNetwork = DeepReadonly<z.output<typeof GuestNetwork>>;

/**
 * The desired state with `parts.aclList` for each entry of aclLists and
 * `parts.routedPrefix` for each entry of a guest network's routedPrefixes:
 * AclList and RoutedPrefix themselves, or (desired-state-parser.ts)
 * stand-ins that return what those have already accepted, so both schemas
 * accept and refuse exactly the same input. A shared network's routed
 * prefixes (at most 16 × 1024) are validated whole on every push.
 */
export function desiredStateSchema(parts: { readonly aclList: z.ZodType<AclList>; readonly routedPrefix: z.ZodType<RoutedPrefix, unknown> }) {
  return z
    .strictObject({
      schemaVersion: z.literal(SCHEMA_VERSIONS),
      router: z.strictObject({ id: Identifier, kind: z.enum(['isolated', 'vpc']) }),
      public: PublicInterface,
      guestNetworks: z.array(guestNetworkSchema(parts.routedPrefix)).max(256).default([]),
      sharedNetworks: z
        .array(SharedNetwork)
        .max(SHARED_NETWORKS_MAX)
        .default([])
        .meta({ description: 'schemaVersion 2, routing bgp: links where the upstream is the gateway; the VR announces their routed prefixes with the instance as next hop (docs/routing.md)' }),
      aclLists: z.array(parts.aclList).max(256).default([]),
      raBackend: z.enum(['radvd', 'frr']).default('radvd'),
      routing: Routing.prefault({}),
      redundancy: Redundancy.optional().meta({ description: 'a redundant pair: VRRPv3 elects the primary, which alone holds the gateways and sends RAs (docs/redundancy.md)' }),
    })
    .superRefine(refineDesiredState);
}

/** The whole desired state, version 1 or 2, with the checks that span fields. */
export const DesiredState = desiredStateSchema({ aclList: AclList, routedPrefix: RoutedPrefix });

/**
 * A validated desired state. The rule every cache of the agent rests on: a
 * DesiredState and each of its parts are never mutated once parsed, and
 * neither are the raw JSON values a frame parser shares between frames
 * (transport/repeating-json.ts). A new state is a new object. The types say
 * so (readonly throughout, DeepReadonly); nothing freezes them at runtime,
 * which for a 10,000-item state would cost about as much as parsing a push.
 * So caches key on identity or on JSON text and share what they return:
 * one AclList object for every push that repeats a list's text and one
 * RoutedPrefix object for every entry text it repeats
 * (desired-state-parser.ts), one Ipv6Prefix object per CIDR text (ipv6.ts),
 * a network's chains by its list or firewall, the base chains by the text
 * of what they read, and a digest by chain (render/ruleset.ts), one
 * rendering per state object (reconcile/).
 */
export type DesiredState = DeepReadonly<z.output<typeof DesiredState>>;

interface DesiredStateShape {
  readonly schemaVersion: 1 | 2;
  readonly router: { readonly kind: 'isolated' | 'vpc' };
  readonly public: PublicInterface;
  readonly guestNetworks: readonly GuestNetwork[];
  readonly sharedNetworks: readonly SharedNetwork[];
  readonly aclLists: readonly AclList[];
  readonly raBackend: 'radvd' | 'frr';
  readonly routing: Routing;
  readonly redundancy?: Redundancy | undefined;
}

function refineDesiredState(state: DesiredStateShape, ctx: z.RefinementCtx): void {
  const issue = (path: (string | number)[], message: string) => ctx.addIssue({ code: 'custom', path, message });
  firstDuplicates(state.guestNetworks.map((n) => n.id), (i, j) => issue(['guestNetworks', i, 'id'], `duplicates guestNetworks[${j}].id`));
  firstDuplicates(state.aclLists.map((l) => l.id), (i, j) => issue(['aclLists', i, 'id'], `duplicates aclLists[${j}].id`));
  firstDuplicates(state.guestNetworks.map((n) => n.interface), (i, j) =>
    issue(['guestNetworks', i, 'interface'], `duplicates guestNetworks[${j}].interface`),
  );
  const publicPrefix = state.public.expectedPrefix ?? staticPrefix(state.public);
  const aclIds = new Set(state.aclLists.map((list) => list.id));
  state.guestNetworks.forEach((network, i) => {
    const at = (...rest: (string | number)[]) => ['guestNetworks', i, ...rest];
    if (network.interface === state.public.interface) issue(at('interface'), 'is the public interface');
    state.guestNetworks.slice(0, i).forEach((other, j) => {
      if (isOverlapping(network.prefix, other.prefix)) issue(at('prefix'), `overlaps guestNetworks[${j}].prefix`);
    });
    if (publicPrefix && isOverlapping(network.prefix, publicPrefix)) issue(at('prefix'), 'overlaps the public prefix');
    if (network.gateway !== undefined) {
      if (!isInPrefix(network.gateway, network.prefix)) issue(at('gateway'), `must be inside ${formatPrefix(network.prefix)}`);
      else if (network.gateway === network.prefix.address) {
        issue(at('gateway'), 'is the Subnet-Router anycast address (RFC 4291 §2.6.1)');
      }
    }
    if (state.raBackend === 'frr' && network.ra.routes.length > 0) {
      // FRR 8.4 has no command for them: refused rather than silently left out.
      issue(at('ra', 'routes'), 'route information options (RFC 4191) need raBackend radvd: FRR cannot send them');
    }
    if (state.router.kind === 'isolated' && network.aclId !== undefined) issue(at('aclId'), 'applies only to VPC tiers');
    if (state.router.kind === 'vpc') {
      if (network.firewall !== undefined) issue(at('firewall'), 'applies only to isolated networks; VPC tiers use aclId');
      if (network.aclId === undefined) issue(at('aclId'), 'is required for a VPC tier');
      else if (!aclIds.has(network.aclId)) issue(at('aclId'), `names no entry of aclLists`);
    }
  });
  if (state.router.kind === 'isolated' && state.aclLists.length > 0) issue(['aclLists'], 'applies only to a VPC');
  refineRoutedPrefixes(state, publicPrefix, issue);
  refineSharedNetworks(state, publicPrefix, issue);
  refineRouting(state, publicPrefix, issue);
  refineRedundancy(state, publicPrefix, issue);
}

function staticPrefix(pub: PublicInterface): Ipv6Prefix | undefined {
  return pub.address ? parseIpv6Prefix(`${pub.address.address}/64`) : undefined;
}

function firstDuplicates(values: string[], report: (index: number, firstIndex: number) => void): void {
  const first = new Map<string, number>();
  values.forEach((value, index) => {
    const earlier = first.get(value);
    if (earlier === undefined) first.set(value, index);
    else report(index, earlier);
  });
}

/** The gateway address of a guest network: its own, or <prefix>::1. */
export function gatewayOf(network: GuestNetwork): string {
  return network.gateway ?? hostAddress(network.prefix, 1);
}
