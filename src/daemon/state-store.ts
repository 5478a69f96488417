import type { Host } from '../host/host.js';
import { AcceptedStateFile, parseStateFile } from '../schema/state-files.js';

/** The last desired state the agent accepted, exactly as the server sent it. */
export interface AcceptedState {
  readonly generation: number;
  readonly spec: unknown;
}

/**
 * Persists the last accepted desired state, atomically, so that a restarted
 * agent re-applies it before the management server answers. The raw spec is
 * kept, not the parsed one, so a newer agent re-validates it on start.
 */
export class StateStore {
  constructor(
    private readonly host: Host,
    private readonly path: string,
  ) {}

  /** The persisted state, or null when there is none or it is unreadable. */
  async read(): Promise<AcceptedState | null> {
    return parseStateFile(await this.host.readFile(this.path), AcceptedStateFile);
  }

  /** Replaces the persisted state; the old one stays intact if this fails. */
  async write(state: AcceptedState): Promise<void> {
    await this.host.writeFileAtomic(this.path, `${JSON.stringify(state)}\n`, 0o600);
  }
}
