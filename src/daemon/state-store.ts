import type { Host } from '../host/host.js';

/** The last desired state the agent accepted, exactly as the server sent it. */
export interface AcceptedState {
  readonly generation: number;
  readonly spec: unknown;
}

const FILE = 'desired.json';

/**
 * Persists the last accepted desired state, atomically, so that a restarted
 * agent re-applies it before the management server answers. The raw spec is
 * kept, not the parsed one, so a newer agent re-validates it on start.
 */
export class StateStore {
  constructor(
    private readonly host: Host,
    private readonly stateDir: string,
  ) {}

  /** The persisted state, or null when there is none or it is unreadable. */
  async read(): Promise<AcceptedState | null> {
    const text = await this.host.readFile(`${this.stateDir}/${FILE}`);
    if (text === null) return null;
    try {
      const value = JSON.parse(text) as { generation?: unknown; spec?: unknown };
      if (typeof value.generation !== 'number' || !Number.isSafeInteger(value.generation)) return null;
      return { generation: value.generation, spec: value.spec };
    } catch {
      return null;
    }
  }

  /** Replaces the persisted state; the old one stays intact if this fails. */
  async write(state: AcceptedState): Promise<void> {
    await this.host.writeFileAtomic(`${this.stateDir}/${FILE}`, `${JSON.stringify(state)}\n`, 0o600);
  }
}
