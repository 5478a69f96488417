import { gatewayOf, type DesiredState } from '../schema/desired-state.js';
import { formatPrefix, parseIpv6Prefix, type Ipv6Prefix } from '../schema/ipv6.js';

/**
 * A prefix a guest link no longer has, still advertised there with valid
 * and preferred lifetime 0 until `untilSeconds` (RFC 9096 §3.5): guests stop
 * choosing addresses from it at once (RFC 4862 §5.5.3 e keeps them valid for
 * at most two hours more), and the VR keeps its gateway address in it so the
 * guests' remaining flows still route.
 */
export interface DeprecatedPrefix {
  readonly interface: string;
  readonly prefix: string;
  readonly gateway: string;
  /** Seconds since the epoch. */
  readonly untilSeconds: number;
}

const key = (ifname: string, prefix: string) => `${ifname} ${prefix}`;

/**
 * The deprecations after moving from `previous` to `next`: every (interface,
 * prefix) that `previous` advertised and `next` does not starts a window of
 * `windowSeconds`; earlier ones run on until they expire; a prefix that comes
 * back is advertised normally again. Pure: the caller passes the time.
 */
export function deriveDeprecatedPrefixes(
  previous: DesiredState | null,
  next: DesiredState,
  existing: readonly DeprecatedPrefix[],
  nowSeconds: number,
  windowSeconds: number,
): DeprecatedPrefix[] {
  const advertised = new Set(next.guestNetworks.map((n) => key(n.interface, formatPrefix(n.prefix))));
  const kept = existing.filter((d) => d.untilSeconds > nowSeconds && !advertised.has(key(d.interface, d.prefix)));
  const known = new Set(kept.map((d) => key(d.interface, d.prefix)));
  const started = (previous?.guestNetworks ?? [])
    .filter((n) => !advertised.has(key(n.interface, formatPrefix(n.prefix))) && !known.has(key(n.interface, formatPrefix(n.prefix))))
    .map((n) => ({ interface: n.interface, prefix: formatPrefix(n.prefix), gateway: gatewayOf(n), untilSeconds: nowSeconds + windowSeconds }));
  return [...kept, ...started];
}

/** The deprecations that apply to a state now: unexpired, and not advertised by the state itself. */
export function selectActiveDeprecations(state: DesiredState, all: readonly DeprecatedPrefix[], nowSeconds: number): DeprecatedPrefix[] {
  const advertised = new Set(state.guestNetworks.map((n) => key(n.interface, formatPrefix(n.prefix))));
  return all.filter((d) => d.untilSeconds > nowSeconds && !advertised.has(key(d.interface, d.prefix)));
}

/** The deprecated prefixes on one interface, parsed. */
export function deprecatedPrefixesOn(ifname: string, deprecated: readonly DeprecatedPrefix[]): Ipv6Prefix[] {
  return deprecated.filter((d) => d.interface === ifname).map((d) => parseIpv6Prefix(d.prefix));
}
