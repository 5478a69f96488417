import type { AgentConfig } from '../schema/agent-config.js';
import { readDaemonPid } from '../host/daemon-pid.js';
import { ExecError, type Host } from '../host/host.js';
import { fileLayoutOf } from '../model/file-layout.js';
import { ROUTE_PROTOCOL } from '../model/ownership.js';
import type { Step, StepKind } from '../plan/steps.js';
import type { ApplyContext, Executor } from './context.js';
import { pairExecutors } from './pair-executors.js';

const RADVD_START_TIMEOUT_MS = 5000;
const FRR_START_TIMEOUT_MS = 10_000;
// bgpd ends its sessions with a Cease and zebra its RAs with lifetime 0 within milliseconds; more is a hung daemon.
const FRR_STOP_TIMEOUT_MS = 3000;
// FRR's daemons drop privileges to this user (FRR's build-time default), so their run directory must be the user's.
const FRR_USER = 'frr';
const SOLICIT_DEADLINE_MS = 4000;
// ospf6d's aggregation timer is 5 s (its minimum on 8.4), with room for a loaded machine.
const LINGER_TIMEOUT_MS = 10_000;

/**
 * One `ip -6 -batch -` for every route of a step: one process, not one per
 * route, so a thousand routes cost one spawn. `replace` swaps a route in
 * place (RTM_NEWROUTE with NLM_F_REPLACE), so a moved prefix is never without
 * one; the batch stops at the first failure and exits non-zero. It runs in a
 * spare ip, spawned while the agent was idle: a move is then not a fork away
 * from its route (SystemHost.exec says why a spare, used once, and not the
 * resident ip).
 */
async function runRouteBatch(verb: 'replace' | 'del', routes: Extract<Step, { kind: 'replaceRoutedRoutes' }>['routes'], { host, config }: ApplyContext): Promise<void> {
  const lines = routes.map((route) => `route ${verb} ${route.destination} via ${route.gateway} dev ${route.interface}${verb === 'replace' && route.isOnLink ? ' onlink' : ''} proto ${ROUTE_PROTOCOL}\n`);
  await host.exec([config.commands.ip, '-6', '-batch', '-'], { input: lines.join(''), spare: true });
}

const executors: { [K in StepKind]: Executor<K> } = {
  async checkRadvdConfig(step, { host, config }) {
    const candidate = fileLayoutOf(config).radvdCheck;
    await host.writeFileAtomic(candidate, step.content);
    try {
      await host.exec([config.commands.radvd, '-c', '-C', candidate, '-m', 'stderr']);
    } finally {
      await host.removeFile(candidate);
    }
  },
  loadRuleset: (step, context) => loadNftDocument(step.document, context),
  updateRuleset: (step, context) => loadNftDocument(step.document, context),
  async loadRulesetStaged(step, { host, config }) {
    // While nft loads one stage, the next is serialised and written (the agent is idle then): two files take turns.
    const paths = fileLayoutOf(config).rulesetStages;
    const write = (index: number) => {
      const written = host.writeFileAtomic(paths[index % 2]!, `${JSON.stringify(step.documents[index])}\n`, 0o600);
      // Handled now, awaited later: a failed write must not be an unhandled rejection while nft runs.
      written.catch(() => undefined);
      return written;
    };
    let next: Promise<void> | null = step.documents.length > 0 ? write(0) : null;
    try {
      for (let index = 0; index < step.documents.length; index++) {
        await next;
        const loading = host.exec([config.commands.nft, '-j', '-f', paths[index % 2]!]);
        next = index + 1 < step.documents.length ? write(index + 1) : null;
        await loading;
      }
    } finally {
      await next?.catch(() => undefined);
      await Promise.all(paths.map((path) => host.removeFile(path)));
    }
  },
  async setSysctl(step, { host }) {
    await host.writeSysctl(step.key, step.value);
  },
  async setLinkUp(step, { host, config }) {
    await host.exec([config.commands.ip, 'link', 'set', 'dev', step.interface, 'up']);
  },
  async solicitRouters(step, { host, config }) {
    const argv = [config.commands.rdisc6, '-1', '-q', '-r', '2', '-w', '700', step.interface];
    const deadline = Date.now() + SOLICIT_DEADLINE_MS;
    for (;;) {
      try {
        await host.exec(argv, { timeoutMs: 5000 });
        return;
      } catch (error) {
        // An RS needs a source: until the link-local address has passed DAD
        // (RFC 4862 §5.4), sending fails with EADDRNOTAVAIL.
        const isTentative = error instanceof ExecError && /Cannot assign requested address/.test(error.stderr);
        if (isTentative && Date.now() < deadline) {
          await new Promise((resolve) => setTimeout(resolve, 250));
          continue;
        }
        const reason = error instanceof ExecError ? error.message : String(error);
        return `no router answered a solicitation on ${step.interface} (${reason}); the next periodic RA will do, ignoring`;
      }
    }
  },
  async addAddress(step, { host, config }) {
    await host.exec([config.commands.ip, '-6', 'addr', 'replace', `${step.address}/${step.prefixLength}`, 'dev', step.interface]);
  },
  async removeAddress(step, { host, config }) {
    await host.exec([config.commands.ip, '-6', 'addr', 'del', `${step.address}/${step.prefixLength}`, 'dev', step.interface]);
  },
  async replaceDefaultRoute(step, { host, config }) {
    const { ip } = config.commands;
    await host.exec([ip, '-6', 'route', 'replace', 'default', 'via', step.gateway, 'dev', step.interface, 'proto', ROUTE_PROTOCOL]);
  },
  replaceRoutedRoutes: (step, context) => runRouteBatch('replace', step.routes, context),
  removeRoutedRoutes: (step, context) => runRouteBatch('del', step.routes, context),
  async removeDefaultRoute(step, { host, config }) {
    const { ip } = config.commands;
    await host.exec([ip, '-6', 'route', 'del', 'default', 'via', step.gateway, 'dev', step.interface, 'proto', step.protocol]);
  },
  async writeInterfacesFile(step, { host, config }) {
    await host.writeFileAtomic(config.paths.interfacesFile, step.content);
  },
  async writeRadvdConfig(step, { host, config }) {
    await host.writeFileAtomic(config.paths.radvdConfig, step.content);
  },
  async removeRadvdConfig(_step, { host, config }) {
    await host.removeFile(config.paths.radvdConfig);
  },
  async startRadvd(_step, context) {
    const { host, config } = context;
    await host.removeFile(config.paths.radvdPidFile);
    await host.exec([config.commands.radvd, '-C', config.paths.radvdConfig, '-p', config.paths.radvdPidFile, '-m', 'syslog']);
    // radvd forks and writes its pid file after the parent has exited.
    const deadline = Date.now() + RADVD_START_TIMEOUT_MS;
    while ((await readDaemonPid(host, config.paths.radvdPidFile, 'radvd', config.paths.radvdConfig)) === null) {
      if (Date.now() > deadline) throw new Error(`radvd wrote no pid file ${config.paths.radvdPidFile} within ${RADVD_START_TIMEOUT_MS} ms`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  },
  async reloadRadvd(step, { host }) {
    if (!host.signal(step.pid, 'SIGHUP')) throw new Error(`radvd pid ${step.pid} is gone`);
  },
  async stopRadvd(step, { host }) {
    // SIGTERM makes radvd send router lifetime 0; SIGKILL ends it (and its privsep child) without a word.
    host.signal(step.pid, step.isSilent ? 'SIGKILL' : 'SIGTERM');
  },
  async checkFrrConfig(step, { host, config }) {
    // `zebra -C` exits 0 on a bad config; `vtysh -C` does not. vtysh wants a vtysh.conf in its config dir.
    const { checkDir, checkConfig: candidate } = fileLayoutOf(config).frr;
    await host.writeFileAtomic(`${checkDir}/vtysh.conf`, '');
    await host.writeFileAtomic(candidate, step.content);
    try {
      await host.exec([config.commands.vtysh, '--config_dir', checkDir, '-C', '-f', candidate]);
    } finally {
      await host.removeFile(candidate);
    }
  },
  async writeFrrConfig(step, { host, config }) {
    await makeFrrRunDir(host, config);
    await host.writeFileAtomic(fileLayoutOf(config).frr.config, step.content);
  },
  async removeFrrConfig(_step, { host, config }) {
    await host.removeFile(fileLayoutOf(config).frr.config);
  },
  async startFrrDaemon({ daemon }, { host, config }) {
    const paths = fileLayoutOf(config).frr;
    const pidFile = paths.pidFiles[daemon];
    await makeFrrRunDir(host, config);
    // FRR locks its pid files, so a stale one never blocks a start; removing it lets the wait below see the new one.
    await host.removeFile(pidFile);
    // No -d: the daemon runs in place, so its PID is known at once. -P 0: no TCP vty, only the socket.
    // An empty config: the next pass brings it to frr.conf by commands (docs/research/bgp.md).
    const argv = [config.commands[daemon], '-f', '/dev/null', '-P', '0', '--vty_socket', paths.dir, '-z', paths.zserv, '-i', pidFile, '--log', 'syslog', '--log-level', 'informational'];
    if (daemon === 'bfdd') argv.push('--bfdctl', paths.bfdControl);
    const pid = await host.spawnDaemon(argv);
    const deadline = Date.now() + FRR_START_TIMEOUT_MS;
    for (;;) {
      if ((await host.readCommandLine(pid)) === null) throw new Error(`${daemon} (pid ${pid}) exited at start; see its log in the journal`);
      if ((await readDaemonPid(host, pidFile, daemon, pidFile)) === pid) {
        const isAnswering = await host.exec([config.commands.vtysh, '--vty_socket', paths.dir, '-d', daemon, '-c', 'show version'], { timeoutMs: 5000 }).then(() => true, () => false);
        if (isAnswering) return;
      }
      if (Date.now() > deadline) throw new Error(`${daemon} (pid ${pid}) did not answer on ${paths.dir} within ${FRR_START_TIMEOUT_MS} ms`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  },
  async configureZebra(step, context) {
    const { host, config } = context;
    const { frrCommands: path, frr } = fileLayoutOf(config);
    await host.writeFileAtomic(path, step.commands, 0o600);
    // One vtysh: it goes on past a failing line and exits non-zero; the next pass compares again.
    await host.exec([config.commands.vtysh, '--vty_socket', frr.dir, '-f', path]);
    // zebra sends no RA when its config changes. A solicitation from the VR itself makes it answer
    // at once, by multicast, so every guest hears it, instead of up to ra-interval later
    // (docs/field-notes.md#frr).
    const notes = await Promise.all(step.interfaces.map((ifname) => promptRa(ifname, context)));
    return notes.filter((note) => note !== null).join('; ') || undefined;
  },
  async configureRouting(step, { host, config }) {
    const { frrCommands: path, frr } = fileLayoutOf(config);
    await host.writeFileAtomic(path, step.commands, 0o600);
    await host.exec([config.commands.vtysh, '--vty_socket', frr.dir, '-f', path]);
    // A route refresh (RFC 2918) applies a new import policy without a reset; `clear` is no config command, so not in the file.
    const refreshes = step.refreshPeers.flatMap((peer) => ['-c', `clear bgp ipv6 unicast ${peer} soft in`]);
    const clears = [...refreshes, ...step.clears.flatMap((command) => ['-c', command])];
    if (clears.length > 0) await host.exec([config.commands.vtysh, '--vty_socket', frr.dir, ...clears]);
    // ospf6d drops a removed summary-address at its aggregation timer: the next pass must not see it still there.
    const deadline = Date.now() + LINGER_TIMEOUT_MS;
    for (const daemon of new Set(step.lingering.map((l) => l.daemon))) {
      const lines = step.lingering.filter((l) => l.daemon === daemon).map((l) => l.line);
      for (;;) {
        const { stdout } = await host.exec([config.commands.vtysh, '--vty_socket', frr.dir, '-c', `show running-config ${daemon}`], { timeoutMs: 5000 });
        const printed = new Set(stdout.split('\n').map((line) => line.trim()));
        if (!lines.some((line) => printed.has(line))) break;
        if (Date.now() > deadline) return `${daemon} still holds ${lines.join(', ')} after ${LINGER_TIMEOUT_MS} ms; the next pass looks again, ignoring`;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
  },
  async stopFrrDaemon(step, { host }) {
    // zebra's SIGTERM sends router lifetime 0 too; SIGKILL, when radvd takes over, says nothing.
    host.signal(step.pid, step.isSilent ? 'SIGKILL' : 'SIGTERM');
    // Done when the process is: an exiting daemon's PID outlives its vty socket, and a reading in
    // between would find a daemon that cannot answer.
    if (await waitForExit(host, step.pid, FRR_STOP_TIMEOUT_MS)) return;
    host.signal(step.pid, 'SIGKILL');
    if (!(await waitForExit(host, step.pid, FRR_STOP_TIMEOUT_MS))) throw new Error(`${step.daemon} (pid ${step.pid}) did not exit, even after SIGKILL`);
    return `${step.daemon} (pid ${step.pid}) ignored SIGTERM for ${FRR_STOP_TIMEOUT_MS} ms and was killed`;
  },
  ...pairExecutors,
};

/** Whether `pid` is gone (a zombie counts as gone) within `timeoutMs`. */
async function waitForExit(host: Host, pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while ((await host.readCommandLine(pid)) !== null) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return true;
}

async function makeFrrRunDir(host: Host, config: AgentConfig): Promise<void> {
  // As FRR's tmpfiles.d makes /run/frr; a directory zebra cannot write makes it exit at start.
  await host.exec(['install', '-d', '-o', FRR_USER, '-g', FRR_USER, '-m', '0755', fileLayoutOf(config).frr.dir]);
}

async function promptRa(ifname: string, { host, config }: ApplyContext): Promise<string | null> {
  try {
    await host.exec([config.commands.rdisc6, '-1', '-q', '-r', '1', '-w', '500', ifname], { timeoutMs: 3000 });
    return null;
  } catch (error) {
    const reason = error instanceof ExecError ? error.message : String(error);
    return `no RA answered the VR's own solicitation on ${ifname} (${reason}); zebra's next periodic RA carries the change, ignoring`;
  }
}

/** Loads a libnftables JSON document: one transaction, all or nothing. */
async function loadNftDocument(document: string, { host, config }: ApplyContext): Promise<void> {
  // `nft -j -f -` cannot read a socketpair stdin, and argv hits E2BIG: a file it is.
  const path = fileLayoutOf(config).rulesetDocument;
  await host.writeFileAtomic(path, document, 0o600);
  await host.exec([config.commands.nft, '-j', '-f', path]);
}

/** Runs one step. */
export function applyStep(step: Step, context: ApplyContext): Promise<string | void> {
  const executor = executors[step.kind] as Executor<typeof step.kind>;
  return executor(step as never, context);
}
