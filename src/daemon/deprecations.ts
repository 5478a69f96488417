import type { Host } from '../host/host.js';
import type { DeprecatedPrefix } from '../model/deprecated-prefix.js';
import { gatewayOf, type DesiredState, type GuestNetwork } from '../schema/desired-state.js';
import { formatPrefix, type Ipv6Prefix } from '../schema/ipv6.js';
import { DeprecatedPrefixesFile, parseStateFile } from '../schema/state-files.js';

/**
 * The RFC 9096 deprecation window: the prefixes guest links have lost and
 * still advertise with lifetimes 0, kept in the state directory so that
 * neither an agent restart nor a reboot cuts a window short (§3.5). The
 * window's rules are the pure functions below; the ledger holds and
 * persists their result.
 */
export class DeprecationLedger {
  private entries: readonly DeprecatedPrefix[] = [];

  constructor(
    private readonly host: Host,
    private readonly path: string,
    private readonly windowSeconds: number,
    private readonly nowSeconds: () => number = () => Math.floor(Date.now() / 1000),
  ) {}

  /** Loads the persisted entries; an unreadable file counts as none, an unreadable entry as absent. */
  async load(): Promise<void> {
    this.entries = parseStateFile(await this.host.readFile(this.path), DeprecatedPrefixesFile) ?? [];
  }

  /**
   * Starts windows for what `next` drops from `previous`: what then applies
   * to `next`, at once, for its reconcile, and the write of the windows,
   * which must succeed before the state is accepted. The ledger holds the
   * new windows once they are written; one advance at a time.
   */
  advance(previous: DesiredState | null, next: DesiredState): { readonly active: DeprecatedPrefix[]; readonly written: Promise<void> } {
    const nowSeconds = this.nowSeconds();
    const entries = deriveDeprecatedPrefixes(previous, next, this.entries, nowSeconds, this.windowSeconds);
    const active = selectActiveDeprecations(next, entries, nowSeconds);
    const text = renderDeprecationsFile(entries);
    if (text === renderDeprecationsFile(this.entries)) return { active, written: Promise.resolve() };
    const written = this.host.writeFileAtomic(this.path, text, 0o600).then(() => {
      this.entries = entries;
    });
    return { active, written };
  }

  /** What applies to `state` now. */
  active(state: DesiredState): DeprecatedPrefix[] {
    return selectActiveDeprecations(state, this.entries, this.nowSeconds());
  }

  /** Milliseconds until the next window ends, or null: when to reconcile again. */
  msUntilNextExpiry(state: DesiredState): number | null {
    const ends = this.active(state).map((d) => d.untilSeconds);
    return ends.length === 0 ? null : Math.max(0, Math.min(...ends) - this.nowSeconds()) * 1000 + 1000;
  }
}

/** The file's text: prefixes in CIDR notation, which DeprecatedPrefixesFile reads back. */
function renderDeprecationsFile(entries: readonly DeprecatedPrefix[]): string {
  return `${JSON.stringify(entries.map((d) => ({ ...d, prefix: formatPrefix(d.prefix) })), null, 2)}\n`;
}

const keyOf = (ifname: string, prefix: Ipv6Prefix) => `${ifname} ${formatPrefix(prefix)}`;
const advertisedBy = (state: DesiredState) => new Set(state.guestNetworks.map((n) => keyOf(n.interface, n.prefix)));

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
  const advertised = advertisedBy(next);
  const kept = existing.filter((d) => d.untilSeconds > nowSeconds && !advertised.has(keyOf(d.interface, d.prefix)));
  const known = new Set(kept.map((d) => keyOf(d.interface, d.prefix)));
  const isDropped = (n: GuestNetwork) => !advertised.has(keyOf(n.interface, n.prefix)) && !known.has(keyOf(n.interface, n.prefix));
  const started = (previous?.guestNetworks ?? [])
    .filter(isDropped)
    .map((n) => ({ interface: n.interface, prefix: n.prefix, gateway: gatewayOf(n), untilSeconds: nowSeconds + windowSeconds }));
  return [...kept, ...started];
}

/** The deprecations that apply to a state now: unexpired, and not advertised by the state itself. */
export function selectActiveDeprecations(state: DesiredState, all: readonly DeprecatedPrefix[], nowSeconds: number): DeprecatedPrefix[] {
  const advertised = advertisedBy(state);
  return all.filter((d) => d.untilSeconds > nowSeconds && !advertised.has(keyOf(d.interface, d.prefix)));
}
