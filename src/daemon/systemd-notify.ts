import type { Host } from '../host/host.js';

/**
 * sd_notify(3) through the `systemd-notify` tool. Run as root, the tool sends
 * with its caller's credentials, so NotifyAccess=main accepts it
 * (shared/FIELD-NOTES.md); a native addon would tie the package to one Node
 * ABI. Without NOTIFY_SOCKET (not under systemd) every call does nothing.
 */
export class SystemdNotifier {
  constructor(
    private readonly host: Host,
    private readonly socket: string | undefined = process.env.NOTIFY_SOCKET,
  ) {}

  /** Whether a service manager listens. */
  get isEnabled(): boolean {
    return this.socket !== undefined && this.socket !== '';
  }

  /** Sends assignments such as READY=1 or STATUS=...; failures are returned, never thrown. */
  async notify(assignments: Record<string, string>): Promise<Error | null> {
    if (!this.isEnabled) return null;
    const args = Object.entries(assignments).map(([key, value]) => `${key}=${value.replace(/\n/g, ' ')}`);
    try {
      await this.host.exec(['systemd-notify', ...args], { timeoutMs: 5000 });
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
