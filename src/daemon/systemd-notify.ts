import type { Host } from '../host/host.js';

/**
 * sd_notify(3) through the `systemd-notify` tool. Run as root, the tool sends
 * with its caller's credentials, so NotifyAccess=main accepts it
 * (docs/field-notes.md#systemd); a native addon would tie the package to one Node
 * ABI. Without NOTIFY_SOCKET (not under systemd) every call does nothing.
 * Calls are sent one at a time, in call order, so READY=1 never overtakes an
 * earlier STATUS= and STOPPING=1 is the last word.
 */
export class SystemdNotifier {
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly host: Host,
    private readonly socket: string | undefined = process.env.NOTIFY_SOCKET,
  ) {}

  /** Whether a service manager listens. */
  get isEnabled(): boolean {
    return this.socket !== undefined && this.socket !== '';
  }

  /** Sends assignments such as READY=1 or STATUS=...; failures are returned, never thrown. */
  notify(assignments: Record<string, string>): Promise<Error | null> {
    if (!this.isEnabled) return Promise.resolve(null);
    const args = Object.entries(assignments).map(([key, value]) => `${key}=${value.replace(/\n/g, ' ')}`);
    const sent = this.queue.then(() => this.send(args));
    this.queue = sent;
    return sent;
  }

  private async send(args: string[]): Promise<Error | null> {
    try {
      // env(1) execs in place, so systemd-notify's parent, the sender it names, stays this process.
      await this.host.exec(['env', `NOTIFY_SOCKET=${this.socket}`, 'systemd-notify', ...args], { timeoutMs: 5000 });
      return null;
    } catch (error) {
      return error as Error;
    }
  }
}

/** The watchdog interval systemd asks for, from WATCHDOG_USEC; null when none. */
export function readWatchdogMs(env: NodeJS.ProcessEnv = process.env): number | null {
  const usec = Number(env.WATCHDOG_USEC);
  if (!Number.isFinite(usec) || usec <= 0) return null;
  const pid = env.WATCHDOG_PID;
  if (pid !== undefined && Number(pid) !== process.pid) return null;
  return usec / 1000;
}

/**
 * Whether the reconcile loop counts as alive: it finished a run within the
 * longer of the watchdog interval and two resync periods (a run is due every
 * resync, so missing two means the loop is stuck, not idle). Both times
 * come from one clock; the daemon passes the monotonic one (performance.now()).
 */
export function isLoopHealthy(nowMs: number, lastLoopAtMs: number, watchdogMs: number, resyncSeconds: number): boolean {
  return nowMs - lastLoopAtMs < Math.max(watchdogMs, resyncSeconds * 2000);
}
