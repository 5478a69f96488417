import type { AgentConfig } from '../schema/agent-config.js';
import { readDaemonPid } from '../host/daemon-pid.js';
import { ExecError, type Host } from '../host/host.js';
import { fileLayoutOf } from '../model/file-layout.js';
import { FRR_DAEMONS, type FrrDaemon } from '../model/frr-config.js';
import type { ObservedDaemon, ObservedHost, ObservedNetwork, ObservedRoute, ObservedRuleset } from '../model/observed.js';
import { RULESET_TABLE } from '../model/ownership.js';
import { parseAddresses, parseIpBatch, parseLinkIndexes, parseLinks, parseNeighbours, parsePrefixRoutes, parseRoutes } from './ip-json.js';
import { parseRulesetListing } from './ruleset-listing.js';
import { parseFrrRunningConfig, parseRoutingRunning } from './frr-running.js';

/**
 * Reads links, IPv6 addresses, routes and neighbours with one `ip -6 -j
 * -batch -` that stays running between reads (Host.ask): a spawn blocks the
 * agent's event loop (Node forks the whole process) for longer than the read
 * itself takes (bench/README.md). The batch's `-6` leaves `link show` as it is and equals
 * `ip -6 addr show`, `ip -6 route show …` and `ip -6 neigh show` for the others.
 *
 * The routes via a next hop come from `prefixRoutes` when it remembers
 * them: a thousand routed prefixes are a dump of 140 KB of JSON, the largest
 * part of an observation. Otherwise they are dumped, and the reader hears
 * what the kernel said.
 *
 * A resident ip remembers interface names by index and goes on printing a
 * renamed link's old name in routes. `link show` names come fresh from the
 * kernel each time, so when one names a known index differently, the read is
 * asked again of a new ip.
 */
export async function readNetwork(host: Host, config: AgentConfig, prefixRoutes?: PrefixRouteReader): Promise<ObservedNetwork> {
  const argv = [config.commands.ip, ...IP_BATCH_ARGS];
  const read = async (commands: readonly string[], fresh = false) => parseIpBatch((await host.ask(argv, commands, { fresh })).join('\n'), commands.length);
  // The memory is asked beside the rest; only a dump waits for its answer, so the answer comes from before the dump.
  const [remembered, first] = await Promise.all([prefixRoutes?.remembered() ?? null, read(IP_BATCH_COMMANDS)]);
  let results = first;
  let names = parseLinkIndexes(results[0]);
  const known = linkNamesSeen.get(host);
  if (known !== undefined && isAnyRenamed(known, names)) {
    results = await read(IP_BATCH_COMMANDS, true);
    names = parseLinkIndexes(results[0]);
  }
  linkNamesSeen.set(host, names);
  // After the rename's check, so a dump comes from an ip that names the links as they are.
  const dump = remembered === null ? (await read(['route show']))[0] : null;
  const [links, addresses, routes, neighbours] = results;
  const network = {
    links: parseLinks(links),
    addresses: parseAddresses(addresses),
    routes: parseRoutes(routes),
    prefixRoutes: remembered ?? parsePrefixRoutes(dump),
    neighbours: parseNeighbours(neighbours),
  };
  if (remembered === null) await prefixRoutes?.dumped(network.prefixRoutes);
  return network;
}

/**
 * A memory of the kernel's routes via a next hop (ObservedNetwork's
 * `prefixRoutes`) that may stand in for dumping them.
 */
export interface PrefixRouteReader {
  /** The routes as the kernel holds them now, or null when only a dump, asked after this answer, can tell. */
  remembered(): Promise<readonly ObservedRoute[] | null>;
  /** What a dump asked for by a null `remembered` found. */
  dumped(routes: readonly ObservedRoute[]): Promise<void>;
}

const IP_BATCH_ARGS = ['-6', '-j', '-batch', '-'];
// Without `route show`, asked apart when the routes are dumped.
const IP_BATCH_COMMANDS = ['link show', 'addr show', 'route show default', 'neigh show'];
/** Per host, the names by interface index that its resident ip has printed. */
const linkNamesSeen = new WeakMap<Host, ReadonlyMap<number, string>>();

function isAnyRenamed(before: ReadonlyMap<number, string>, now: ReadonlyMap<number, string>): boolean {
  return [...now].some(([index, name]) => before.has(index) && before.get(index) !== name);
}

/** Reads the agent's table; null when the table does not exist. */
export async function readRuleset(host: Host, config: AgentConfig): Promise<ObservedRuleset | null> {
  try {
    const { stdout } = await host.exec([config.commands.nft, 'list', 'table', RULESET_TABLE.family, RULESET_TABLE.name]);
    return parseRulesetListing(stdout);
  } catch (error) {
    // nft exits 1 with "No such file or directory" for a missing table.
    if (error instanceof ExecError && error.exitCode === 1 && /No such file or directory/.test(error.stderr)) return null;
    throw error;
  }
}

/** Some chains of the agent's table, each listed alone; a chain that is not there is left out. */
export async function readRulesetChains(host: Host, config: AgentConfig, names: readonly string[]): Promise<Pick<ObservedRuleset, 'chains'>> {
  const chains = new Map<string, string>();
  for (const name of names) {
    try {
      const { stdout } = await host.exec([config.commands.nft, 'list', 'chain', RULESET_TABLE.family, RULESET_TABLE.name, name]);
      const digest = parseRulesetListing(stdout).chains.get(name);
      if (digest !== undefined) chains.set(name, digest);
    } catch (error) {
      if (error instanceof ExecError && error.exitCode === 1 && /No such file or directory/.test(error.stderr)) continue;
      throw error;
    }
  }
  return { chains };
}

/** The PID of the radvd the agent runs, or null when none runs. */
export function readRadvdPid(host: Host, config: AgentConfig): Promise<number | null> {
  return readDaemonPid(host, config.paths.radvdPidFile, 'radvd', config.paths.radvdConfig);
}

/**
 * The PID of an FRR daemon the agent runs, or null when none runs. Its pid
 * file is the agent's own mark: every daemon starts from an empty config.
 */
export function readFrrDaemonPid(host: Host, config: AgentConfig, daemon: FrrDaemon): Promise<number | null> {
  const pidFile = fileLayoutOf(config).frr.pidFiles[daemon];
  return readDaemonPid(host, pidFile, daemon, pidFile);
}

/**
 * Each running FRR daemon's own running config, by one vtysh (one spawn,
 * not three): the combined view would show a prefix-list that only zebra
 * still holds as if bgpd had it.
 */
async function readFrrRunning(host: Host, config: AgentConfig, daemons: readonly FrrDaemon[]): Promise<Map<FrrDaemon, string>> {
  const argv = [config.commands.vtysh, '--vty_socket', fileLayoutOf(config).frr.dir, ...daemons.flatMap((d) => ['-c', `show running-config ${d}`])];
  const { stdout } = await host.exec(argv, { timeoutMs: 5000 });
  // Each answer starts with "Building configuration...".
  const answers = stdout.split(/^Building configuration\.\.\.$/m).slice(1);
  if (answers.length !== daemons.length) throw new Error(`vtysh gave ${answers.length} running configs for ${daemons.length} daemons`);
  return new Map(daemons.map((daemon, i) => [daemon, answers[i]!]));
}

async function readFrr(host: Host, config: AgentConfig): Promise<ObservedHost['frr']> {
  const readPids = async () => {
    const found = await Promise.all(FRR_DAEMONS.map((d) => readFrrDaemonPid(host, config, d)));
    return Object.fromEntries(FRR_DAEMONS.map((daemon, i) => [daemon, found[i]!])) as Record<FrrDaemon, number | null>;
  };
  const readTexts = (pids: Record<FrrDaemon, number | null>) => {
    const running = FRR_DAEMONS.filter((daemon) => pids[daemon] !== null);
    return running.length === 0 ? Promise.resolve(new Map<FrrDaemon, string>()) : readFrrRunning(host, config, running);
  };
  const [file, first] = await Promise.all([host.readFile(fileLayoutOf(config).frr.config), readPids()]);
  let pids = first;
  let texts: Map<FrrDaemon, string>;
  try {
    texts = await readTexts(pids);
  } catch (error) {
    // A daemon that died between its pid file and vtysh fails the whole reading: read again without it.
    pids = await readPids();
    if (FRR_DAEMONS.every((daemon) => pids[daemon] === first[daemon])) throw error;
    texts = await readTexts(pids);
  }
  // Every daemon but zebra is a routing daemon; zebra's few routing lines are read apart.
  const routingTexts = FRR_DAEMONS.filter((daemon) => daemon !== 'zebra' && texts.has(daemon)).map((daemon) => texts.get(daemon)!);
  return {
    config: file,
    pids,
    running: texts.has('zebra') ? parseFrrRunningConfig(texts.get('zebra')!) : null,
    routing: routingTexts.length > 0 ? parseRoutingRunning(routingTexts, texts.get('zebra')) : null,
  };
}

/**
 * Readers with a memory that stand in for the plain reads: the agent's table
 * from a watch that may answer without listing it, the routes via a next hop
 * from one that may answer without dumping them.
 */
export interface ObservedReaders {
  readonly ruleset?: () => Promise<ObservedRuleset | null>;
  readonly prefixRoutes?: PrefixRouteReader;
}

/**
 * Observes everything planSteps compares: the `sysctlKeys` the rendering
 * names, and the rest of the host; a part with a reader in `readers` comes
 * from that reader instead.
 */
export async function readObservedHost(
  host: Host,
  config: AgentConfig,
  sysctlKeys: readonly string[],
  readers: ObservedReaders = {},
): Promise<ObservedHost> {
  // The questions to the resident readers first: the file reads run while they are answered.
  const [{ links, addresses, routes, prefixRoutes, neighbours }, ruleset, sysctls, interfacesFile, radvd, frr, keepalived, conntrackd] = await Promise.all([
    readNetwork(host, config, readers.prefixRoutes),
    readers.ruleset?.() ?? readRuleset(host, config),
    host.readSysctls(sysctlKeys),
    host.readFile(config.paths.interfacesFile),
    readRadvd(host, config),
    readFrr(host, config),
    readKeepalived(host, config),
    readConntrackd(host, config),
  ]);
  return { sysctls, links, addresses, routes, prefixRoutes, neighbours, interfacesFile, ruleset, radvd, frr, keepalived, conntrackd };
}

async function readRadvd(host: Host, config: AgentConfig): Promise<ObservedDaemon> {
  const [file, pid] = await Promise.all([host.readFile(config.paths.radvdConfig), readRadvdPid(host, config)]);
  return { config: file, pid };
}

/**
 * keepalived.conf and the PIDs of the keepalived the agent runs: a process
 * counts only when it is keepalived run with the agent's config.
 */
async function readKeepalived(host: Host, config: AgentConfig): Promise<ObservedHost['keepalived']> {
  const files = fileLayoutOf(config).keepalived;
  const [file, pid, vrrpPid] = await Promise.all([
    host.readFile(files.config),
    readDaemonPid(host, files.pidFile, 'keepalived', files.config),
    readDaemonPid(host, files.vrrpPidFile, 'keepalived', files.config),
  ]);
  return { config: file, pid, vrrpPid };
}

/** conntrackd.conf and the PID of the conntrackd the agent runs with it. */
async function readConntrackd(host: Host, config: AgentConfig): Promise<ObservedDaemon> {
  const files = fileLayoutOf(config).keepalived;
  const [file, pid] = await Promise.all([host.readFile(files.conntrackdConfig), readDaemonPid(host, files.conntrackdPidFile, 'conntrackd', files.conntrackdConfig)]);
  return { config: file, pid };
}
