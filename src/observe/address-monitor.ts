import type { Host, WatchedCommand } from '../host/host.js';

/** The arguments of the agent's address monitor, after the `ip` command. */
export const MONITOR_ARGS: readonly string[] = ['-o', 'monitor', 'address', 'link'];

// An `ip monitor` that exits is started again this much later.
const RESTART_DELAY_MS = 1000;

/** One line of `ip -o monitor address link`, as much as the agent acts on. */
export interface MonitorEvent {
  readonly kind: 'address' | 'link';
  readonly interface: string | null;
  readonly isDeleted: boolean;
}

/**
 * Parses a line of `ip -o monitor address link` (iproute2 6.1 ignores -j
 * there). Address lines read "3: eth1    inet6 2001:db8::1/64 scope global ...",
 * link lines "3: eth1: <BROADCAST,...>"; removals start with "Deleted".
 */
export function parseMonitorLine(line: string): MonitorEvent | null {
  const isDeleted = line.startsWith('Deleted ');
  const body = (isDeleted ? line.slice('Deleted '.length) : line).trim();
  const match = /^\d+:\s+([^\s:@]+)(@[^\s:]+)?(:?)\s+(\S+)/.exec(body);
  if (match === null) return null;
  const [, ifname, , colon, next] = match;
  if (next === 'inet' || next === 'inet6') return { kind: 'address', interface: ifname ?? null, isDeleted };
  if (colon === ':') return { kind: 'link', interface: ifname ?? null, isDeleted };
  return null;
}

/**
 * Watches address and link events through `ip -o monitor` on the host. The
 * kernel reports a SLAAC address again with every RA that refreshes its
 * lifetimes (docs/field-notes.md#iproute2), so consumers must treat events as
 * hints to re-read, never as facts.
 */
export class AddressMonitor {
  private watched: WatchedCommand | null = null;
  private restartTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly host: Host,
    private readonly ipCommand: string,
    private readonly onEvent: (event: MonitorEvent) => void,
    private readonly onExit: (code: number | null) => void,
  ) {}

  /** Starts the monitor; it restarts itself a second after an unexpected exit. */
  start(): void {
    this.watched = this.host.watch(
      [this.ipCommand, ...MONITOR_ARGS],
      (line) => {
        const event = parseMonitorLine(line);
        if (event) this.onEvent(event);
      },
      (code) => {
        this.watched = null;
        this.onExit(code);
        this.restartTimer = setTimeout(() => this.start(), RESTART_DELAY_MS);
      },
    );
  }

  /** Stops the monitor and its restarts. */
  stop(): void {
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = null;
    this.watched?.stop();
    this.watched = null;
  }
}
