import type { Ledger } from '../plan/plan.js';
import type { Daemon, Step } from '../plan/steps.js';
import type { Room } from './room.js';

/**
 * The config each daemon the agent runs was last brought to, as the steps
 * that start, reload, reconfigure and stop them declare (`step.loads`). In
 * memory only: a restarted agent knows none, so it reports a dead daemon it
 * restarts as a start, not as a repair.
 */
export class LoadedConfigs implements Room {
  private loaded = new Map<Daemon, string>();

  ledger(): Partial<Ledger> {
    return { loaded: this.loaded };
  }

  async afterStep(step: Step): Promise<void> {
    if (!('loads' in step)) return;
    const { daemon, config } = step.loads;
    const loaded = new Map(this.loaded);
    if (config === null) loaded.delete(daemon);
    else loaded.set(daemon, config);
    this.loaded = loaded;
  }
}
