import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

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
 * Watches address and link events through `ip -o monitor`. Every RA
 * re-announces each SLAAC address (docs/field-notes.md#iproute2), so consumers must
 * treat events as hints to re-read, never as facts.
 */
export class AddressMonitor {
  private child: ChildProcess | null = null;
  private isStopped = false;
  private restartTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly ipCommand: string,
    private readonly onEvent: (event: MonitorEvent) => void,
    private readonly onExit: (code: number | null) => void,
  ) {}

  /** Starts the monitor; it restarts itself a second after an unexpected exit. */
  start(): void {
    this.isStopped = false;
    const child = spawn(this.ipCommand, ['-o', 'monitor', 'address', 'link'], { stdio: ['ignore', 'pipe', 'ignore'] });
    this.child = child;
    createInterface({ input: child.stdout }).on('line', (line) => {
      const event = parseMonitorLine(line);
      if (event) this.onEvent(event);
    });
    child.on('error', () => undefined);
    child.on('close', (code) => {
      this.child = null;
      if (this.isStopped) return;
      this.onExit(code);
      this.restartTimer = setTimeout(() => this.start(), 1000);
    });
  }

  /** Stops the monitor and its restarts. */
  stop(): void {
    this.isStopped = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.child?.kill('SIGTERM');
    this.child = null;
  }
}
