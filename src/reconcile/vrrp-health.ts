import type { Host } from '../host/host.js';
import type { Ledger } from '../plan/ledger.js';
import type { RenderedHost } from '../render/host-facts.js';
import type { Room } from './room.js';

/** What the health file holds: keepalived takes anything but "0" as a fault (vrrp_track_file, weight 0). */
const HEALTHY = '0\n';
const FAILING = '1\n';

/**
 * The agent's health as keepalived reads it from its track file: healthy
 * after a reconcile that converged, failing after one that did not. A
 * primary whose agent cannot apply the desired state thus gives up the
 * role (FAULT), and the peer, whose agent can, takes it. Before the first
 * reconcile has converged the file says failing, so a VR just started is
 * not elected before its host is as rendered.
 */
export class VrrpHealth implements Room {
  private written: string | null = null;

  constructor(
    private readonly host: Host,
    private readonly path: string,
  ) {}

  ledger(): Partial<Ledger> {
    return {};
  }

  async beforeApply(rendered: RenderedHost): Promise<void> {
    // keepalived, started by these steps, must find the file.
    if (rendered.keepalived !== null && this.written === null) await this.write((await this.host.readFile(this.path)) ?? FAILING);
  }

  async afterReconcile(rendered: RenderedHost, isConverged: boolean): Promise<void> {
    if (rendered.keepalived === null) return;
    await this.write(isConverged ? HEALTHY : FAILING);
  }

  private async write(content: string): Promise<void> {
    if (content === this.written) return;
    await this.host.writeFileAtomic(this.path, content, 0o644);
    this.written = content;
  }
}
