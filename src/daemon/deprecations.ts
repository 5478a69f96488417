import type { Host } from '../host/host.js';
import { deriveDeprecatedPrefixes, selectActiveDeprecations, type DeprecatedPrefix } from '../render/deprecated-prefixes.js';
import type { DesiredState } from '../schema/desired-state.js';

const FILE = 'deprecated-prefixes.json';

/**
 * The prefixes guest links have lost and still advertise with lifetimes 0,
 * kept in the state directory so that neither an agent restart nor a reboot
 * cuts a deprecation window short (RFC 9096 §3.5).
 */
export class DeprecationLedger {
  private entries: DeprecatedPrefix[] = [];

  constructor(
    private readonly host: Host,
    private readonly stateDir: string,
    private readonly windowSeconds: number,
    private readonly nowSeconds: () => number = () => Math.floor(Date.now() / 1000),
  ) {}

  /** Loads the persisted entries; an unreadable file counts as none. */
  async load(): Promise<void> {
    const text = await this.host.readFile(`${this.stateDir}/${FILE}`);
    try {
      const value: unknown = JSON.parse(text ?? '[]');
      this.entries = Array.isArray(value) ? value.filter(isDeprecatedPrefix) : [];
    } catch {
      this.entries = [];
    }
  }

  /** Starts windows for what `next` drops from `previous`, and persists them before the state is accepted. */
  async advance(previous: DesiredState | null, next: DesiredState): Promise<void> {
    const entries = deriveDeprecatedPrefixes(previous, next, this.entries, this.nowSeconds(), this.windowSeconds);
    if (JSON.stringify(entries) === JSON.stringify(this.entries)) return;
    await this.host.writeFileAtomic(`${this.stateDir}/${FILE}`, `${JSON.stringify(entries, null, 2)}\n`, 0o600);
    this.entries = entries;
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

function isDeprecatedPrefix(value: unknown): value is DeprecatedPrefix {
  const v = value as Partial<DeprecatedPrefix> | null;
  return typeof v?.interface === 'string' && typeof v.prefix === 'string' && typeof v.gateway === 'string' && typeof v.untilSeconds === 'number';
}
