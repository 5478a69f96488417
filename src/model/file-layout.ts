import type { AgentConfig } from '../schema/agent-config.js';
import { FRR_DAEMONS, type FrrDaemon } from './frr-config.js';

/**
 * Every file the agent writes, by its role, from the configured directories:
 * the one place the executors, the readers and the start-up sweep learn them.
 */
export interface FileLayout {
  /** State directory (survives a reboot): the last accepted desired state. */
  readonly desiredState: string;
  /** State directory: the addresses the agent added and has not removed, its sweep list. */
  readonly ownedAddresses: string;
  /** State directory: the prefixes still advertised with lifetimes 0 (RFC 9096). */
  readonly deprecatedPrefixes: string;
  /** Runtime directory (cleared by a reboot, with the table): what the agent last loaded into its table. */
  readonly rulesetMemory: string;
  /** The nft document of a one-transaction load. */
  readonly rulesetDocument: string;
  /** The two files a staged load writes its documents to, in turn. */
  readonly rulesetStages: readonly [string, string];
  /** radvd.conf's candidate while `radvd -c` checks it. */
  readonly radvdCheck: string;
  /** vtysh's commands for the running FRR daemons. */
  readonly frrCommands: string;
  /** The FRR daemons' files under FRR's run directory, and the directory `vtysh -C` checks a candidate in. */
  readonly frr: {
    readonly dir: string;
    readonly config: string;
    readonly pidFiles: Readonly<Record<FrrDaemon, string>>;
    readonly zserv: string;
    /** bfdd's control socket (`--bfdctl`), in the run directory rather than FRR's global one. */
    readonly bfdControl: string;
    readonly checkDir: string;
    readonly checkConfig: string;
  };
  readonly keepalived: KeepalivedFiles;
}

/** The files of a pair's daemons, keepalived and conntrackd, all in the runtime directory: the pair's roles start afresh after a reboot. */
export interface KeepalivedFiles {
  readonly config: string;
  /** keepalived.conf's candidate while `keepalived -t` checks it. */
  readonly check: string;
  /** The parent's pid file, and its VRRP child's. */
  readonly pidFile: string;
  readonly vrrpPidFile: string;
  /** What the agent tells keepalived of its health: "0" healthy, anything else puts the pair's instances in FAULT. */
  readonly health: string;
  /** Rewritten every second by a live agent whose loop runs; keepalived faults a pair's instances when it grows old (docs/redundancy.md). */
  readonly heartbeat: string;
  /** The FIFO keepalived writes each VRRP transition to. */
  readonly notifyFifo: string;
  /** conntrackd's config, the pid file the agent writes for it, its lock file and control socket (each unique per instance). */
  readonly conntrackdConfig: string;
  readonly conntrackdPidFile: string;
  readonly conntrackdLock: string;
  readonly conntrackdSocket: string;
}

/** keepalived's files under a runtime directory. */
export function keepalivedFilesOf(runtimeDir: string): KeepalivedFiles {
  return {
    config: `${runtimeDir}/keepalived.conf`,
    check: `${runtimeDir}/keepalived.conf.check`,
    pidFile: `${runtimeDir}/keepalived.pid`,
    vrrpPidFile: `${runtimeDir}/keepalived-vrrp.pid`,
    health: `${runtimeDir}/vrrp-health`,
    heartbeat: `${runtimeDir}/agent-heartbeat`,
    notifyFifo: `${runtimeDir}/vrrp-notify.fifo`,
    conntrackdConfig: `${runtimeDir}/conntrackd.conf`,
    conntrackdPidFile: `${runtimeDir}/conntrackd.pid`,
    conntrackdLock: `${runtimeDir}/conntrackd.lock`,
    conntrackdSocket: `${runtimeDir}/conntrackd.ctl`,
  };
}

/** The agent's files under `config.paths`. */
export function fileLayoutOf(config: AgentConfig): FileLayout {
  const { stateDir, runtimeDir, frrRunDir } = config.paths;
  const checkDir = `${runtimeDir}/frr-check`;
  return {
    desiredState: `${stateDir}/desired.json`,
    ownedAddresses: `${stateDir}/owned-addresses.json`,
    deprecatedPrefixes: `${stateDir}/deprecated-prefixes.json`,
    rulesetMemory: `${runtimeDir}/ruleset-memory.json`,
    rulesetDocument: `${runtimeDir}/ruleset.json`,
    rulesetStages: [`${runtimeDir}/ruleset-stage0.json`, `${runtimeDir}/ruleset-stage1.json`],
    radvdCheck: `${runtimeDir}/radvd.conf.check`,
    frrCommands: `${runtimeDir}/frr-commands.conf`,
    frr: {
      dir: frrRunDir,
      config: `${frrRunDir}/frr.conf`,
      pidFiles: Object.fromEntries(FRR_DAEMONS.map((daemon) => [daemon, `${frrRunDir}/${daemon}.pid`])) as Record<FrrDaemon, string>,
      zserv: `${frrRunDir}/zserv.api`,
      bfdControl: `${frrRunDir}/bfdd.sock`,
      checkDir,
      checkConfig: `${checkDir}/frr.conf`,
    },
    keepalived: keepalivedFilesOf(runtimeDir),
  };
}
