import type { Logger } from 'pino';
import type { Host } from '../host/host.js';
import type { Ledger } from '../plan/ledger.js';
import type { OwnedAddress, RenderedHost } from '../render/host-facts.js';
import { OwnedAddressesFile, parseStateFile } from '../schema/state-files.js';
import type { Room } from './room.js';

/**
 * The addresses the agent has added and not yet removed: the sweep list that
 * lets a later agent remove what this one put on the host. It is written
 * before any address is added, so a crash in between leaves nothing unknown.
 */
export class OwnedAddresses implements Room {
  private owned: readonly OwnedAddress[] = [];
  private saveWarning: string | null = null;

  constructor(
    private readonly host: Host,
    private readonly path: string,
    private readonly log: Logger,
  ) {}

  async load(): Promise<void> {
    this.owned = parseStateFile(await this.host.readFile(this.path), OwnedAddressesFile) ?? [];
  }

  ledger(): Partial<Ledger> {
    return { ownedAddresses: this.owned };
  }

  // Before any step adds an address, the list holds it; what is no longer wanted stays until removed.
  async beforeApply(rendered: RenderedHost): Promise<void> {
    await this.remember([...this.owned, ...rendered.addresses]);
  }

  async afterConverged(rendered: RenderedHost): Promise<void> {
    await this.remember(rendered.addresses);
  }

  async warnings(): Promise<readonly string[]> {
    return this.saveWarning === null ? [] : [this.saveWarning];
  }

  private async remember(addresses: readonly OwnedAddress[]): Promise<void> {
    const unique = dedupeAddresses(addresses);
    const text = `${JSON.stringify(unique, null, 2)}\n`;
    if (text === `${JSON.stringify(this.owned, null, 2)}\n` && this.saveWarning === null) return;
    try {
      await this.host.writeFileAtomic(this.path, text, 0o600);
      this.saveWarning = null;
    } catch (error) {
      // A full or read-only state directory must not stop the reconcile: the host matters more than
      // the sweep list, which this agent still holds in memory. A restarted agent may miss these addresses.
      this.saveWarning = `cannot save the addresses the agent owns (${(error as Error).message}); a restarted agent would not sweep them`;
      this.log.warn({ err: error }, 'cannot save the owned-address list, going on');
    }
    this.owned = unique;
  }
}

function dedupeAddresses(addresses: readonly OwnedAddress[]): OwnedAddress[] {
  const byKey = new Map(addresses.map((a) => [`${a.interface} ${a.address}/${a.prefixLength}`, a]));
  return [...byKey.values()].map(({ interface: ifname, address, prefixLength }) => ({ interface: ifname, address, prefixLength }));
}
