import type { Host } from '../host/host.js';
import { MONITOR_ARGS } from '../observe/address-monitor.js';

/**
 * Whether a process is an address monitor of an earlier agent. The unit runs
 * with KillMode=process so that radvd outlives a restart; a killed agent's
 * `ip monitor` child outlives it too, until its next write hits the closed
 * pipe. Only that argv matches: radvd and anything else are left alone.
 */
export function isLeftoverMonitor(argv: readonly string[] | null): boolean {
  if (argv === null || argv.length !== MONITOR_ARGS.length + 1) return false;
  return /(^|\/)ip$/.test(argv[0] ?? '') && MONITOR_ARGS.every((arg, index) => argv[index + 1] === arg);
}

/**
 * The service's cgroup from /proc/self/cgroup: the unified line
 * ("0::/system.slice/x.service") or, on a legacy hierarchy, systemd's named
 * one; null when this process is not in a systemd service.
 */
export function parseServiceCgroup(text: string): string | null {
  const lines = text.split('\n');
  const line = lines.find((entry) => entry.startsWith('0::')) ?? lines.find((entry) => /^\d+:name=systemd:/.test(entry));
  const path = line?.slice(line.indexOf(':', line.indexOf(':') + 1) + 1).trim();
  return path !== undefined && path.endsWith('.service') ? path : null;
}

// The PIDs in /proc.
async function readProcPids(host: Host): Promise<number[]> {
  return (await host.listDirectory('/proc')).filter((name) => /^\d+$/.test(name)).map(Number);
}

/**
 * Ends (SIGTERM, by PID) the address monitors an earlier agent left in this
 * service's cgroup; returns their PIDs. A process counts as in the cgroup
 * when its /proc/PID/cgroup reads exactly like ours, which holds on unified
 * and hybrid hierarchies alike. Outside a systemd service it does nothing:
 * another cgroup may hold someone else's `ip monitor`.
 */
export async function sweepLeftoverMonitors(host: Host, selfPid = process.pid): Promise<number[]> {
  const own = (await host.readFile('/proc/self/cgroup')) ?? '';
  if (parseServiceCgroup(own) === null) return [];
  const swept: number[] = [];
  for (const pid of await readProcPids(host)) {
    if (pid === selfPid) continue;
    const cgroup = await host.readFile(`/proc/${pid}/cgroup`).catch(() => null);
    if (cgroup !== own) continue;
    if (isLeftoverMonitor(await host.readCommandLine(pid)) && host.signal(pid, 'SIGTERM')) swept.push(pid);
  }
  return swept;
}
