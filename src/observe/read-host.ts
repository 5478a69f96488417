import type { AgentConfig } from '../schema/agent-config.js';
import { ExecError, type Host } from '../host/host.js';
import type { RenderedHost } from '../render/host-facts.js';
import { RULESET_TABLE } from '../render/ruleset.js';
import type { ObservedHost } from '../plan/plan.js';
import { parseAddresses, parseIpBatch, parseLinkIndexes, parseLinks, parseRoutes, type ObservedAddress, type ObservedLink, type ObservedRoute } from './ip-json.js';
import { parseRulesetListing, type ObservedRuleset } from './ruleset-listing.js';
import { parseFrrRunningConfig, type FrrRunningNd } from './frr-running.js';

/** The links, IPv6 addresses and IPv6 default routes, as one `ip` process saw them. */
export interface ObservedNetwork {
  readonly links: readonly ObservedLink[];
  readonly addresses: readonly ObservedAddress[];
  readonly routes: readonly ObservedRoute[];
}

/**
 * Reads links, IPv6 addresses and IPv6 default routes with one `ip -6 -j
 * -batch -` that stays running between reads (Host.ask): a spawn blocks the
 * agent's event loop (Node forks the whole process) for longer than the read
 * itself takes (bench/README.md). The batch's `-6` leaves `link show` as it is and equals
 * `ip -6 addr show` and `ip -6 route show default` for the other two.
 *
 * A resident ip remembers interface names by index and goes on printing a
 * renamed link's old name in routes. `link show` names come fresh from the
 * kernel each time, so when one names a known index differently, the read is
 * asked again of a new ip.
 */
export async function readNetwork(host: Host, config: AgentConfig): Promise<ObservedNetwork> {
  const argv = [config.commands.ip, ...IP_BATCH_ARGS];
  const read = async (fresh: boolean) => parseIpBatch((await host.ask(argv, IP_BATCH_COMMANDS, { fresh })).join('\n'), IP_BATCH_COMMANDS.length);
  let results = await read(false);
  let names = parseLinkIndexes(results[0]);
  const known = linkNamesSeen.get(host);
  if (known !== undefined && isAnyRenamed(known, names)) {
    results = await read(true);
    names = parseLinkIndexes(results[0]);
  }
  linkNamesSeen.set(host, names);
  const [links, addresses, routes] = results;
  return { links: parseLinks(links), addresses: parseAddresses(addresses), routes: parseRoutes(routes) };
}

const IP_BATCH_ARGS = ['-6', '-j', '-batch', '-'];
const IP_BATCH_COMMANDS = ['link show', 'addr show', 'route show default'];
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

/** The PID of the radvd the agent runs, or null when none runs. A stale pid file is ignored. */
export function readRadvdPid(host: Host, config: AgentConfig): Promise<number | null> {
  return readDaemonPid(host, config.paths.radvdPidFile, 'radvd', config.paths.radvdConfig);
}

/** Where zebra keeps its files under the FRR run directory. */
export function frrPaths(config: AgentConfig) {
  const dir = config.paths.frrRunDir;
  return { dir, config: `${dir}/frr.conf`, pidFile: `${dir}/zebra.pid`, zserv: `${dir}/zserv.api`, checkDir: `${config.paths.runtimeDir}/frr-check` };
}

/** The PID of the zebra the agent runs, or null when none runs. */
export function readZebraPid(host: Host, config: AgentConfig): Promise<number | null> {
  const paths = frrPaths(config);
  return readDaemonPid(host, paths.pidFile, 'zebra', paths.config);
}

/** A daemon's PID from its pid file, when that process is the program named and reads our config. */
async function readDaemonPid(host: Host, pidFile: string, program: string, configPath: string): Promise<number | null> {
  const text = await host.readFile(pidFile);
  const pid = Number.parseInt(text?.trim() ?? '', 10);
  if (!Number.isInteger(pid) || pid <= 1) return null;
  const argv = await host.readCommandLine(pid);
  // A recycled PID belongs to another program: only ours, reading our config, counts.
  const isOurs = argv !== null && argv.some((arg) => arg.endsWith(program)) && argv.includes(configPath);
  return isOurs ? pid : null;
}

/** zebra's running RA settings, through its vty socket. */
export async function readZebraRunning(host: Host, config: AgentConfig): Promise<FrrRunningNd> {
  const { stdout } = await host.exec([config.commands.vtysh, '--vty_socket', frrPaths(config).dir, '-c', 'show running-config'], { timeoutMs: 5000 });
  return parseFrrRunningConfig(stdout);
}

async function readFrr(host: Host, config: AgentConfig): Promise<ObservedHost['frr']> {
  const [file, pid] = await Promise.all([host.readFile(frrPaths(config).config), readZebraPid(host, config)]);
  return { config: file, pid, running: pid === null ? null : await readZebraRunning(host, config) };
}

/**
 * Observes everything planSteps compares, for one rendered state. The
 * agent's table comes from `observeRuleset`, which may answer without
 * listing it (see RulesetWatch).
 */
export async function readObservedHost(
  host: Host,
  config: AgentConfig,
  rendered: RenderedHost,
  observeRuleset: () => Promise<ObservedRuleset | null>,
): Promise<ObservedHost> {
  // The questions to the resident readers first: the file reads run while they are answered.
  const [{ links, addresses, routes }, ruleset, sysctls, interfacesFile, radvdConfig, radvdPid, frr] = await Promise.all([
    readNetwork(host, config),
    observeRuleset(),
    host.readSysctls(rendered.sysctls.map(({ key }) => key)),
    host.readFile(config.paths.interfacesFile),
    host.readFile(config.paths.radvdConfig),
    readRadvdPid(host, config),
    readFrr(host, config),
  ]);
  return {
    sysctls,
    links,
    addresses,
    routes,
    interfacesFile,
    ruleset,
    radvd: { config: radvdConfig, pid: radvdPid },
    frr,
  };
}
