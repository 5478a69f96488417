import type { Logger } from 'pino';
import type { Host } from '../host/host.js';
import type { ObservedBgp, ObservedRoute } from '../model/observed.js';
import { renderBgpReport } from '../observe/bgp-report.js';
import { readBgp, selectBgpDefaultRoute } from '../observe/bgp-status.js';
import type { AgentConfig } from '../schema/agent-config.js';
import type { DesiredState } from '../schema/desired-state.js';
import type { BgpReport } from '../schema/protocol.js';

/**
 * How often the agent asks bgpd for its sessions while routing is BGP. No
 * kernel event tells of a BGP state change, so bgpd is asked. 5 s keeps the
 * report within a few seconds of bgpd, which itself notices a dead peer no
 * sooner than BFD (about 1 s) or the hold time (3 s at the least, 90 s by
 * default; RFC 4271 §10), and a management server acts on it in tens of
 * seconds. Each poll is one vtysh: 50-90 ms of its own, 2-3 ms of them
 * blocking the event loop to spawn it (measured by hand with two peers on
 * the 2-core development machine; more for a larger agent, bench/README.md).
 * Shorter would cost more than it tells, bgpd itself being seconds behind
 * a dead peer.
 */
export const BGP_POLL_MS = 5000;

/**
 * A poll that runs while it is on: `poll` every `intervalMs`, one at a time.
 * A poll still running when the next is due makes that one skip, so a slow
 * answer never stacks polls. `poll` must not reject; a rejection is dropped.
 */
export class BgpPoll {
  private timer: NodeJS.Timeout | null = null;
  private isPolling = false;
  private isClosed = false;

  constructor(
    private readonly poll: () => Promise<void>,
    private readonly intervalMs: number = BGP_POLL_MS,
  ) {}

  /** Starts polling when `isOn` and not yet polling, stops when not; idempotent, and nothing once closed. */
  update(isOn: boolean): void {
    if (isOn && this.timer === null && !this.isClosed) {
      this.timer = setInterval(() => void this.tick(), this.intervalMs);
      // The poll alone must never keep the process alive.
      this.timer.unref();
    } else if (!isOn) this.stop();
  }

  /** Stops polling until the next update; a poll in flight finishes. */
  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  /** Stops polling for good: the agent is stopping, and a reconcile still in flight must not start it again. */
  close(): void {
    this.isClosed = true;
    this.stop();
  }

  private async tick(): Promise<void> {
    if (this.isPolling) return;
    this.isPolling = true;
    try {
      await this.poll();
    } catch {
      // The contract says poll does not reject; the loop must outlive one that does.
    } finally {
      this.isPolling = false;
    }
  }
}

/**
 * The agent's view of bgpd's sessions: reads them for each report, and logs
 * when bgpd stops or starts answering (once per change, not once per poll).
 */
export class BgpSessions {
  private isBgpdAnswering = true;

  constructor(
    private readonly host: Host,
    private readonly config: AgentConfig,
    private readonly log: Logger,
  ) {}

  /**
   * The BGP report of `state` (null when its routing is not BGP), given the
   * kernel's default `routes` and the `previous` report. Never rejects: a
   * bgpd that does not answer, or answers what is not its JSON, is reported
   * as not answering.
   */
  async report(state: DesiredState, routes: readonly ObservedRoute[], previous: BgpReport | null): Promise<BgpReport | null> {
    if (state.routing.protocol !== 'bgp') return null;
    let observed: ObservedBgp;
    let cause: unknown;
    try {
      observed = await readBgp(this.host, this.config, routes);
    } catch (error) {
      cause = error;
      observed = { isBgpdAnswering: false, peers: [], defaultRoute: selectBgpDefaultRoute(routes) };
    }
    if (observed.isBgpdAnswering !== this.isBgpdAnswering) {
      if (observed.isBgpdAnswering) this.log.info('bgpd is answering again');
      else this.log.warn({ err: cause }, 'bgpd is not answering');
      this.isBgpdAnswering = observed.isBgpdAnswering;
    }
    return renderBgpReport(state, observed, previous);
  }
}
