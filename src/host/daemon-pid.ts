import type { Host } from './host.js';

/**
 * A daemon's PID from its pid file, when that process is the program named
 * and was started with `marker` among its arguments (the config or pid file
 * only the agent gives it); else null. A stale pid file, or a PID the
 * kernel has given to another program since, counts as no daemon.
 */
export async function readDaemonPid(host: Host, pidFile: string, program: string, marker: string): Promise<number | null> {
  const text = await host.readFile(pidFile);
  const pid = Number.parseInt(text?.trim() ?? '', 10);
  if (!Number.isInteger(pid) || pid <= 1) return null;
  const argv = await host.readCommandLine(pid);
  const isOurs = argv !== null && argv.some((arg) => arg.endsWith(program)) && argv.includes(marker);
  return isOurs ? pid : null;
}
