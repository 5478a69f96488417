import type { Host } from '../host/host.js';

/** The argv tail of the agent's own address monitor (observe/address-monitor.ts). */
const MONITOR_ARGS = ['-o', 'monitor', 'address', 'link'];

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

/** The service's cgroup from /proc/self/cgroup (cgroup v2: "0::/system.slice/x.service"); null when not a systemd service. */
export function parseServiceCgroup(text: string): string | null {
  const line = text.split('\n').find((entry) => entry.startsWith('0::'));
  const path = line?.slice(3).trim();
  return path !== undefined && path.endsWith('.service') ? path : null;
}

/**
 * Ends (SIGTERM, by PID) the address monitors an earlier agent left in this
 * service's cgroup; returns their PIDs. Outside a systemd service it does
 * nothing: another cgroup may hold someone else's `ip monitor`.
 */
export async function sweepLeftoverMonitors(host: Host, selfPid = process.pid): Promise<number[]> {
  const cgroup = parseServiceCgroup((await host.readFile('/proc/self/cgroup')) ?? '');
  if (cgroup === null) return [];
  const procs = (await host.readFile(`/sys/fs/cgroup${cgroup}/cgroup.procs`)) ?? '';
  const pids = procs.split('\n').filter((word) => /^\d+$/.test(word)).map(Number).filter((pid) => pid !== selfPid);
  const swept: number[] = [];
  for (const pid of pids) {
    if (isLeftoverMonitor(await host.readCommandLine(pid)) && host.signal(pid, 'SIGTERM')) swept.push(pid);
  }
  return swept;
}
