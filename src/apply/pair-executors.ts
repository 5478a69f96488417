import { readDaemonPid } from '../host/daemon-pid.js';
import { ExecError, type Host } from '../host/host.js';
import { fileLayoutOf } from '../model/file-layout.js';
import type { Step } from '../plan/steps.js';
import type { Executor } from './context.js';

type PairKind =
  | 'checkKeepalivedConfig'
  | 'writeKeepalivedConfig'
  | 'removeKeepalivedConfig'
  | 'startKeepalived'
  | 'reloadKeepalived'
  | 'stopKeepalived'
  | 'removeVirtualMac'
  | 'writeConntrackdConfig'
  | 'removeConntrackdConfig'
  | 'startConntrackd'
  | 'stopConntrackd';

const START_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 5000;

/**
 * The executors of a pair's daemons' steps, keepalived's and conntrackd's. keepalived runs as `-n` (no fork),
 * VRRP only (`-P`), so the agent knows the parent's PID at once and the
 * VRRP child's from its pid file.
 */
export const pairExecutors: { [K in PairKind]: Executor<K> } = {
  async checkKeepalivedConfig(step, { host, config }) {
    const { check } = fileLayoutOf(config).keepalived;
    await host.writeFileAtomic(check, step.content, 0o600);
    try {
      // Exit 0 when the config is good; 5 on an unknown keyword, a bad VRID or a missing interface.
      await host.exec([config.commands.keepalived, '-t', '-f', check]);
    } finally {
      await host.removeFile(check);
    }
  },
  async writeKeepalivedConfig(step, { host, config }) {
    await host.writeFileAtomic(fileLayoutOf(config).keepalived.config, step.content, 0o600);
  },
  async removeKeepalivedConfig(_step, { host, config }) {
    await host.removeFile(fileLayoutOf(config).keepalived.config);
  },
  async startKeepalived(_step, { host, config }) {
    const files = fileLayoutOf(config).keepalived;
    // keepalived refuses to start while a pid file names a live PID, and a zombie is one to it
    // (docs/field-notes.md#keepalived): the planner started this only once the old PIDs were gone.
    await Promise.all([host.removeFile(files.pidFile), host.removeFile(files.vrrpPidFile)]);
    await makeFifo(host, files.notifyFifo);
    const argv = [config.commands.keepalived, '-n', '-P', '-D', '-f', files.config, '-p', files.pidFile, '-r', files.vrrpPidFile];
    const pid = await host.spawnDaemon(argv);
    const deadline = Date.now() + START_TIMEOUT_MS;
    while ((await readDaemonPid(host, files.vrrpPidFile, 'keepalived', files.config)) === null) {
      if ((await host.readCommandLine(pid)) === null) throw new Error(`keepalived (pid ${pid}) exited at start; see its log in the journal`);
      if (Date.now() > deadline) throw new Error(`keepalived (pid ${pid}) started no VRRP process within ${START_TIMEOUT_MS} ms`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  },
  async reloadKeepalived(step, { host }) {
    if (!host.signal(step.pid, 'SIGHUP')) throw new Error(`keepalived pid ${step.pid} is gone`);
  },
  async stopKeepalived(step, { host }) {
    // SIGTERM: keepalived removes its addresses and sends priority 0, so the peer takes over at once
    // (RFC 5798 §6.4.3). An orphaned VRRP child has no parent to do that in order: it is killed.
    await stopAndWait(host, 'keepalived', step.pid, step.isOrphan ? 'SIGKILL' : 'SIGTERM');
  },
  async removeVirtualMac(step, { host, config }) {
    await host.exec([config.commands.ip, 'link', 'del', 'dev', step.interface]);
  },
  async writeConntrackdConfig(step, { host, config }) {
    await host.writeFileAtomic(fileLayoutOf(config).keepalived.conntrackdConfig, step.content, 0o600);
  },
  async removeConntrackdConfig(_step, { host, config }) {
    await host.removeFile(fileLayoutOf(config).keepalived.conntrackdConfig);
  },
  async startConntrackd(_step, { host, config }) {
    const files = fileLayoutOf(config).keepalived;
    // conntrackd refuses to start beside a lock file, which a killed one leaves: none runs now (the planner saw no PID).
    await host.removeFile(files.conntrackdLock);
    // In the foreground, so the PID is known; conntrackd writes no pid file, the agent does.
    const pid = await host.spawnDaemon([config.commands.conntrackd, '-C', files.conntrackdConfig]);
    await host.writeFileAtomic(files.conntrackdPidFile, `${pid}\n`);
    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      if ((await host.readCommandLine(pid)) === null) throw new Error(`conntrackd (pid ${pid}) exited at start; see its log in the journal`);
      const isAnswering = await host.exec([config.commands.conntrackd, '-C', files.conntrackdConfig, '-s'], { timeoutMs: 2000 }).then(() => true, () => false);
      if (isAnswering) return;
      if (Date.now() > deadline) throw new Error(`conntrackd (pid ${pid}) did not answer on ${files.conntrackdSocket} within ${START_TIMEOUT_MS} ms`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  },
  async stopConntrackd(step, { host }) {
    await stopAndWait(host, 'conntrackd', step.pid, 'SIGTERM');
  },
};

/** Signals a daemon and waits until it is gone: a new one must not start beside it (docs/field-notes.md#keepalived). */
async function stopAndWait(host: Host, name: string, pid: number, signal: 'SIGTERM' | 'SIGKILL'): Promise<void> {
  host.signal(pid, signal);
  const deadline = Date.now() + STOP_TIMEOUT_MS;
  while ((await host.readCommandLine(pid)) !== null) {
    if (Date.now() > deadline) {
      host.signal(pid, 'SIGKILL');
      throw new Error(`${name} pid ${pid} outlived ${STOP_TIMEOUT_MS} ms after ${signal}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function makeFifo(host: Host, path: string): Promise<void> {
  // The agent's own FIFO: keepalived unlinks one it made itself when it exits, and the agent's reader would lose it.
  try {
    await host.exec(['mkfifo', '-m', '0600', path]);
  } catch (error) {
    if (!(error instanceof ExecError && /File exists/.test(error.stderr))) throw error;
  }
}
