import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { isPidAlive, runCommand, waitFor, WaitAbortedError, type ExecOptions, type ExecResult } from '../lab/netns.js';

/**
 * A Debian root filesystem booted with systemd as PID 1, by the recipe that
 * works on these machines (docs/field-notes.md#containers):
 * `systemd-nspawn -D ROOT -b --register=no --keep-unit --private-network`.
 * Commands run inside through `nsenter -t <leader> -a`. It is stopped by PID
 * only: SIGTERM to systemd-nspawn (a clean poweroff of the container), then
 * SIGKILL to nspawn and the leader, which takes the whole PID namespace along.
 */
export class Container {
  private constructor(
    private readonly nspawn: ChildProcess,
    /** systemd-nspawn's PID. */
    readonly nspawnPid: number,
    /** The container's PID 1 (systemd), as the host sees it. */
    readonly leaderPid: number,
    readonly logPath: string,
  ) {}

  /** Boots `root` and waits until systemd inside reports running (or degraded). */
  static async boot(root: string, options: { machine: string; logPath: string; bindReadOnly: readonly string[] }): Promise<Container> {
    const logFd = openSync(options.logPath, 'a');
    const argv = ['-D', root, '-b', '--register=no', '--keep-unit', '--private-network', `--machine=${options.machine}`];
    for (const bind of options.bindReadOnly) argv.push(`--bind-ro=${bind}`);
    const nspawn = spawn('systemd-nspawn', argv, { stdio: ['ignore', logFd, logFd] });
    closeSync(logFd);
    const nspawnPid = nspawn.pid ?? -1;
    liveContainers.add(nspawnPid);
    installExitHook();
    const exited = () => nspawn.exitCode !== null || nspawn.signalCode !== null;
    const leaderPid = await waitFor(
      async () => {
        if (exited()) throw new WaitAbortedError(`systemd-nspawn exited; see ${options.logPath}`);
        const children = readFileSync(`/proc/${nspawnPid}/task/${nspawnPid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
        return children[0];
      },
      { timeoutMs: 10_000, what: 'the container init to start' },
    );
    liveLeaders.set(nspawnPid, leaderPid);
    const container = new Container(nspawn, nspawnPid, leaderPid, options.logPath);
    try {
      await waitFor(
        async (note) => {
          if (exited()) throw new WaitAbortedError(`systemd-nspawn exited; see ${options.logPath}`);
          const result = await container.exec(['systemctl', 'is-system-running'], { allowFailure: true });
          const state = result.stdout.trim();
          note(state || `exit ${result.exitCode}: ${result.stderr.trim()}`);
          return state === 'running' || state === 'degraded';
        },
        { timeoutMs: 120_000, what: 'systemd in the container to finish booting', intervalMs: 200 },
      );
    } catch (error) {
      // The caller never gets the container, so it could not stop it: stop it here, by PID.
      await container.stop().catch(() => undefined);
      throw error;
    }
    return container;
  }

  /** Runs argv inside every namespace of the container, with a clean environment (not this process's). */
  exec(argv: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
    const env = ['env', '-i', 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'LANG=C.UTF-8'];
    return runCommand(['nsenter', '-t', String(this.leaderPid), '-a', ...env, ...argv], { timeoutMs: 30_000, ...options });
  }

  /** Runs argv inside and returns its trimmed stdout (throws on failure). */
  async read(argv: readonly string[], options: ExecOptions = {}): Promise<string> {
    return (await this.exec(argv, options)).stdout.trim();
  }

  /** Reads unit properties through `systemctl show`. */
  async unitProperties(unit: string, names: readonly string[]): Promise<Record<string, string>> {
    const text = await this.read(['systemctl', 'show', unit, ...names.map((n) => `--property=${n}`)]);
    return Object.fromEntries(text.split('\n').map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]));
  }

  /** Powers the container off; SIGKILL after `graceMs`. Resolves once systemd-nspawn has exited. */
  async stop(graceMs = 15_000): Promise<void> {
    const hasExited = () => this.nspawn.exitCode !== null || this.nspawn.signalCode !== null;
    const exitedWithin = (ms: number) =>
      Promise.race([new Promise<boolean>((resolve) => this.nspawn.once('exit', () => resolve(true))), new Promise<boolean>((resolve) => setTimeout(resolve, ms, false).unref())]);
    if (!hasExited()) {
      signal(this.nspawnPid, 'SIGTERM');
      if (!hasExited() && !(await exitedWithin(graceMs))) {
        signal(this.nspawnPid, 'SIGKILL');
        signal(this.leaderPid, 'SIGKILL');
        await exitedWithin(5000);
      }
    }
    // PID 1 of a PID namespace takes every process in it along when it dies.
    await waitFor(async () => !isPidAlive(this.leaderPid), { timeoutMs: 5000, what: `container leader ${this.leaderPid} to exit` });
    liveContainers.delete(this.nspawnPid);
    liveLeaders.delete(this.nspawnPid);
  }
}

const liveContainers = new Set<number>();
const liveLeaders = new Map<number, number>();
let isHookInstalled = false;

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // already gone
  }
}

// 'exit' hooks must be synchronous: the last resort is SIGKILL by PID.
function installExitHook(): void {
  if (isHookInstalled) return;
  isHookInstalled = true;
  process.on('exit', () => {
    for (const pid of liveContainers) {
      signal(pid, 'SIGKILL');
      const leader = liveLeaders.get(pid);
      if (leader !== undefined) signal(leader, 'SIGKILL');
    }
  });
}
