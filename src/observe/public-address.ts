import type { DesiredState } from '../schema/desired-state.js';
import { eui64Address, formatPrefix, isInPrefix, parseIpv6Prefix } from '../schema/ipv6.js';
import type { BgpReport, ObservedMessage, PublicAddressReport, RoutedPrefixReport, UsageReport } from '../schema/protocol.js';
import { describeRoutedPrefixProblems } from './routed-report.js';
import type { ObservedAddress, ObservedLink, ObservedRoute } from '../model/observed.js';
import { usageCounterName } from '../model/ownership.js';

/**
 * Picks the VR's public address from what the kernel reports: a global,
 * stable address on the public interface. Temporary (RFC 8981), tentative,
 * DAD-failed and deprecated addresses never qualify: the upstream's static
 * route must point at an address that stays. `mngtmpaddr` is on every kernel
 * SLAAC address, so `temporary` is the flag that tells (docs/field-notes.md#kernel).
 */
export function selectPublicAddress(
  state: DesiredState,
  addresses: readonly ObservedAddress[],
  link: ObservedLink | undefined,
): PublicAddressReport | null {
  const pub = state.public;
  const expected = pub.expectedPrefix ?? (pub.address ? parseIpv6Prefix(`${pub.address.address}/64`) : undefined);
  const candidates = addresses.filter(
    (a) =>
      a.interface === pub.interface &&
      a.scope === 'global' &&
      !a.isTemporary &&
      !a.isTentative &&
      !a.isDadFailed &&
      !a.isDeprecated &&
      (expected === undefined || isInPrefix(a.address, expected)),
  );
  // SLAAC addresses carry `dynamic`; prefer them in slaac mode, static ones otherwise.
  const wantsDynamic = pub.mode === 'slaac';
  const chosen = candidates.find((a) => a.isDynamic === wantsDynamic) ?? candidates[0];
  if (chosen === undefined) return null;
  return {
    address: chosen.address,
    prefixLength: chosen.prefixLength,
    interface: chosen.interface,
    source: chosen.isDynamic ? 'slaac' : 'static',
    flags: chosen.isDynamic ? ['dynamic'] : [],
    validLifetimeSeconds: chosen.validLifetimeSeconds,
    preferredLifetimeSeconds: chosen.preferredLifetimeSeconds,
    matchesEui64: matchesEui64(chosen, link),
  };
}

function matchesEui64(address: ObservedAddress, link: ObservedLink | undefined): boolean | null {
  if (link?.mac == null || address.prefixLength !== 64) return null;
  const prefix = parseIpv6Prefix(`${address.address}/64`);
  return eui64Address(prefix, link.mac) === address.address;
}

/** The default router the public interface learned (an RA's link-local source) or was given. */
export function selectDefaultRouter(state: DesiredState, routes: readonly ObservedRoute[]): string | null {
  const route = routes.find((r) => r.destination === 'default' && r.interface === state.public.interface && r.gateway !== null);
  return route?.gateway ?? null;
}

/**
 * The observed report: the public address and the static routes the upstream
 * router needs, one per guest prefix via that address (a pair's shared one), `bgp`, the BGP
 * report (bgp-report.ts) or null, and the routed prefixes (routed-report.ts). Lifetimes are left out of the comparison
 * key, since they tick down on every read.
 */
export function renderObservedReport(
  state: DesiredState,
  addresses: readonly ObservedAddress[],
  links: readonly ObservedLink[],
  routes: readonly ObservedRoute[],
  counters: ReadonlyMap<string, { readonly packets: number; readonly bytes: number }> = new Map(),
  bgp: BgpReport | null = null,
  routedPrefixes: readonly RoutedPrefixReport[] = [],
): ObservedMessage {
  const link = links.find((l) => l.name === state.public.interface);
  const publicAddress = selectPublicAddress(state, addresses, link);
  const warnings: string[] = [];
  if (link === undefined) warnings.push(`public interface ${state.public.interface} does not exist`);
  if (publicAddress?.matchesEui64 === false) {
    warnings.push(`public address ${publicAddress.address} is not the EUI-64 of ${state.public.interface}'s MAC`);
  }
  if (bgp?.isBgpdAnswering === false) warnings.push('bgpd is not answering: no BGP session is known');
  warnings.push(...describeRoutedPrefixProblems(routedPrefixes));
  // A pair's upstream routes to the address the two share, whichever is primary (docs/redundancy.md).
  const via = state.redundancy?.publicAddress.address ?? publicAddress?.address;
  const upstreamRoutes = via === undefined ? [] : state.guestNetworks.map((n) => ({ prefix: formatPrefix(n.prefix), via }));
  const usage = state.guestNetworks.flatMap((network) =>
    (['ingress', 'egress'] as const).flatMap((direction): UsageReport[] => {
      const counter = counters.get(usageCounterName(network.interface, direction));
      return counter ? [{ network: network.id, direction, packets: counter.packets, bytes: counter.bytes }] : [];
    }),
  );
  return { type: 'observed', publicAddress, defaultRouter: selectDefaultRouter(state, routes), upstreamRoutes, warnings, usage, bgp, routedPrefixes: [...routedPrefixes] };
}

/**
 * A key that changes only when something the upstream must act on changes:
 * lifetimes tick on every read and usage grows with every packet, so both are
 * left out; usage travels with the reports that go anyway, and at each resync.
 */
export function observedReportKey(report: ObservedMessage): string {
  const { publicAddress, usage: _usage, ...rest } = report;
  const stable = publicAddress && { ...publicAddress, validLifetimeSeconds: null, preferredLifetimeSeconds: null };
  return JSON.stringify({ ...rest, publicAddress: stable });
}
