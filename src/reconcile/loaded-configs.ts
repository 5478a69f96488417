import type { Ledger } from '../plan/ledger.js';
import type { Daemon, Step } from '../plan/steps.js';
import type { RenderedHost } from '../render/host-facts.js';
import type { Room } from './room.js';

/**
 * The config each daemon the agent runs was last brought to, as the steps
 * that start, reload, reconfigure and stop them declare (`step.loads`), or as
 * a converged host shows it: a daemon the agent adopted at start runs the
 * rendered config once nothing differs. In memory only: a restarted agent
 * knows none until its first converged pass, and reports a daemon it finds
 * dead before then as a start, not as a repair.
 */
export class LoadedConfigs implements Room {
  private loaded = new Map<Daemon, string>();

  ledger(): Partial<Ledger> {
    return { loaded: this.loaded };
  }

  async afterConverged(rendered: RenderedHost): Promise<void> {
    const loaded = new Map(this.loaded);
    if (rendered.radvdConf !== null) loaded.set('radvd', rendered.radvdConf);
    for (const daemon of rendered.frr?.daemons ?? []) loaded.set(daemon, rendered.frr!.text);
    if (rendered.keepalived !== null) loaded.set('keepalived', rendered.keepalived.text);
    if (rendered.conntrackdConf !== null) loaded.set('conntrackd', rendered.conntrackdConf);
    this.loaded = loaded;
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
