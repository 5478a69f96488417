import { ExecError, type ExecOptions, type ExecResult, type Host, type WatchedCommand } from '../../src/host/host.js';
import { MemoryKernel } from './memory-kernel.js';
import { applyNftDocument, listNftTable, printNftTable, type Json, type MemoryTable } from './memory-nft.js';
import { MemoryRouting } from './memory-bgpd.js';
import { MemoryOspf6 } from './memory-ospf6d.js';
import { isBgpSessionsQuestion, MemoryBgpSessions } from './memory-bgp-sessions.js';
import { MemoryZebra } from './memory-zebra.js';

export type { MemoryTable } from './memory-nft.js';

const MONITOR_ARGV = 'ip -o monitor address link';

/**
 * An in-memory machine that understands exactly the commands the agent
 * runs (ip, nft, radvd, FRR's zebra, bgpd, bfdd and ospf6d through vtysh,
 * rdisc6), for fast unit tests of the reconcile loop: the kernel of
 * MemoryKernel, and files, processes, the agent's nft table and the FRR
 * daemons' configs. It is a model, not a proof: the lab tests
 * prove the real kernel and daemons. It imports nothing of the agent but the
 * seam it implements: what it prints in a tool's format it prints from its
 * own state, and what it is told (nft documents, FRR commands) it reads
 * with its own small interpreters, so a bug in the agent's planners or
 * parsers cannot hide in it.
 */
export class MemoryHost extends MemoryKernel implements Host {
  readonly files = new Map<string, string>();
  /** Base chains of other tables, as `nft -j list chains` shows them. */
  foreignChains: Json[] = [];
  /** Our nft table; null when absent. */
  table: MemoryTable | null = null;
  /** The nf_tables generation id: bumped by every committed transaction, as the kernel does. */
  generation = 1;
  /** How many times the agent's table was listed: what the generation id is there to save. */
  listings = 0;
  /** How many times one chain of the agent's table was listed alone. */
  chainListings = 0;
  readonly processes = new Map<number, { argv: string[]; hangups: number }>();
  /** The RA settings of the zebra last started; what `vtysh` talks to while it runs. */
  zebra = new MemoryZebra();
  /** The routing config of the bgpd last started (and its bfdd). */
  routing = new MemoryRouting();
  /** The OSPF config of the ospf6d last started. */
  ospf6 = new MemoryOspf6('ospf6d');
  /** zebra's share of OSPF: its install filter and its copy of the policies that filter names. */
  zebraRouting = new MemoryOspf6('zebra');
  /** What bgpd's sessions are doing, for `show bgp neighbors json`: a test's to set. */
  readonly bgpSessions = new MemoryBgpSessions();
  /** Runs right after each nft load commits: lets a test commit something of its own in between. */
  afterLoad: (() => void) | null = null;
  /** Runs right before nft lists the agent's table: lets a test commit something between a generation read and a listing. */
  beforeList: (() => void) | null = null;
  /** Paths whose writes fail as on a full disk; null when none. */
  fullPaths: RegExp | null = null;
  /** Makes the next command whose argv joined by spaces matches fail. */
  failOn: RegExp | null = null;
  /** Makes every command whose argv joined by spaces matches fail, as a tool refuses a bad config each time it is asked. */
  refuseOn: RegExp | null = null;
  private nextPid = 1000;

  async exec(argv: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
    const line = argv.join(' ');
    if (this.failOn?.test(line)) {
      this.failOn = null;
      throw new ExecError(argv, 1, 'injected failure');
    }
    if (this.refuseOn?.test(line)) throw new ExecError(argv, 1, 'injected refusal');
    const out = (stdout = '') => ({ stdout, stderr: '', exitCode: 0 });
    const [command, ...args] = argv;
    if (command === 'ip') return out(this.runIp(args, options.input ?? ''));
    if (command === 'nft') return out(this.runNft(argv));
    if (command === 'radvd') return out(this.runRadvd(argv));
    if (command === 'rdisc6') return out();
    if (command === 'install') return out();
    if (isBgpSessionsQuestion(argv)) return this.bgpSessions.answer(argv, options, this.daemonPids('bgpd').length > 0 ? this.routing.printRunningConfig('bgpd') : null);
    if (command === 'vtysh') return out(this.runVtysh(argv));
    if (command?.endsWith('vr6-nft-genid')) return out(`${this.generation}\n`);
    if (command?.endsWith('vr6-route-genid')) return out(`${this.routeGeneration()}\n`);
    throw new ExecError(argv, 127, `${command}: not found`);
  }

  /** A resident command answers as its one-shot run does: one line per request. */
  async ask(argv: readonly string[], requests: readonly string[]): Promise<string[]> {
    const isGenid = argv[0]?.endsWith('vr6-nft-genid') === true || argv[0]?.endsWith('vr6-route-genid') === true;
    const input = requests.map((request) => `${request}\n`).join('');
    const lines = (await this.exec(argv, { input })).stdout.split('\n').slice(0, -1);
    return isGenid ? requests.map(() => lines[0]!) : lines;
  }

  /**
   * Runs `ip -o monitor address link` as a process of its own, in the
   * agent's cgroup: it prints a line for every address and link change the
   * model makes, and ends on a signal (onExit with null) or on stop().
   */
  watch(argv: readonly string[], onLine: (line: string) => void, onExit: (code: number | null) => void): WatchedCommand {
    if (argv.join(' ') !== MONITOR_ARGV) throw new ExecError(argv, null, 'MemoryHost: unsupported watch');
    const pid = this.nextPid++;
    this.processes.set(pid, { argv: [...argv], hangups: 0 });
    const cgroup = this.files.get('/proc/self/cgroup');
    if (cgroup !== undefined) this.files.set(`/proc/${pid}/cgroup`, cgroup);
    this.monitors.set(pid, { onLine, onExit });
    return {
      stop: () => {
        if (this.monitors.delete(pid)) this.endProcess(pid);
      },
    };
  }

  /** The PIDs of the running address monitors. */
  monitorPids(): number[] {
    return [...this.monitors.keys()];
  }

  async readFile(path: string): Promise<string | null> {
    return this.files.get(path) ?? null;
  }

  /** A directory holds the files below it; /proc also a directory per process. */
  async listDirectory(path: string): Promise<string[]> {
    const prefix = `${path.replace(/\/$/, '')}/`;
    const names = new Set<string>();
    for (const file of this.files.keys()) if (file.startsWith(prefix)) names.add(file.slice(prefix.length).split('/')[0]!);
    if (path === '/proc') for (const pid of this.processes.keys()) names.add(String(pid));
    return [...names];
  }

  async writeFileAtomic(path: string, content: string): Promise<void> {
    if (this.fullPaths?.test(path)) throw new Error(`ENOSPC: no space left on device, open '${path}'`);
    this.writes.push(`write ${path}`);
    this.files.set(path, content);
  }

  async removeFile(path: string): Promise<void> {
    if (this.files.delete(path)) this.writes.push(`remove ${path}`);
  }

  signal(pid: number, signal: NodeJS.Signals): boolean {
    const process = this.processes.get(pid);
    if (process === undefined) return false;
    this.writes.push(`kill -${signal} ${pid}`);
    const monitor = this.monitors.get(pid);
    // radvd and zebra reload on SIGHUP; ip monitor has no handler for it and dies.
    if (signal === 'SIGHUP' && monitor === undefined) process.hangups++;
    else this.endProcess(pid);
    if (monitor !== undefined) {
      this.monitors.delete(pid);
      queueMicrotask(() => monitor.onExit(null));
    }
    return true;
  }

  // A process that ends takes its /proc directory with it.
  private endProcess(pid: number): void {
    this.processes.delete(pid);
    for (const path of this.files.keys()) if (path.startsWith(`/proc/${pid}/`)) this.files.delete(path);
  }

  async spawnDaemon(argv: readonly string[]): Promise<number> {
    const at = (flag: string) => argv[argv.indexOf(flag) + 1] ?? '';
    const daemon = FRR_DAEMONS.find((name) => argv[0]?.endsWith(name));
    if (daemon === undefined) throw new ExecError(argv, null, `${argv[0]}: not found`);
    const config = at('-f') === '/dev/null' ? '' : this.files.get(at('-f'));
    if (config === undefined) throw new ExecError(argv, null, `cannot open ${at('-f')}`);
    const pid = this.nextPid++;
    this.processes.set(pid, { argv: [...argv], hangups: 0 });
    this.files.set(at('-i'), `${pid}\n`);
    // A daemon reads its config as commands, and starts even when some of them fail.
    if (daemon === 'zebra') {
      const [zebraPart, routingPart] = splitByDaemon(config);
      this.zebra = new MemoryZebra();
      this.zebra.runCommands(zebraPart);
      this.zebraRouting = new MemoryOspf6('zebra');
      this.zebraRouting.runCommands(routingPart);
    } else if (daemon === 'ospf6d') {
      this.ospf6 = new MemoryOspf6('ospf6d');
      this.ospf6.runCommands(config);
    } else if (daemon === 'bgpd') {
      this.routing = new MemoryRouting();
      this.routing.runCommands(config);
    }
    this.writes.push(`start ${daemon} ${pid}`);
    return pid;
  }

  async readCommandLine(pid: number): Promise<string[] | null> {
    return this.processes.get(pid)?.argv ?? null;
  }

  /** The PIDs of running zebra processes. */
  zebraPids(): number[] {
    return this.daemonPids('zebra');
  }

  /** The PIDs of running processes of an FRR daemon. */
  daemonPids(daemon: (typeof FRR_DAEMONS)[number]): number[] {
    return [...this.processes.entries()].filter(([, p]) => p.argv[0]?.endsWith(daemon)).map(([pid]) => pid);
  }

  /** The PIDs of running radvd processes. */
  radvdPids(): number[] {
    return [...this.processes.entries()].filter(([, p]) => p.argv[0] === 'radvd').map(([pid]) => pid);
  }

  /** Applies a libnftables JSON document to the table, all or nothing, as nft does. */
  loadDocument(document: { nftables: readonly Json[] }): this {
    this.table = applyNftDocument(this.table, document);
    this.generation++;
    return this;
  }

  /** Someone else's nft transaction on our table: `edit` changes it, and the generation moves. */
  editTable(edit: (table: MemoryTable | null) => MemoryTable | null): void {
    this.table = edit(this.table);
    this.generation++;
  }

  /** The table as `nft -j list table` would list it (without handles), or null. */
  listTable(): Json[] | null {
    return this.table && listNftTable(this.table);
  }

  private runNft(argv: readonly string[]): string {
    const [, json, verb, path] = argv;
    if (json === 'list' && verb === 'table') {
      this.beforeList?.();
      this.listings++;
      if (this.table === null) throw new ExecError(argv, 1, 'Error: No such file or directory');
      return printNftTable(this.table);
    }
    if (json === 'list' && verb === 'chain') {
      this.beforeList?.();
      const name = argv[argv.length - 1] ?? '';
      this.chainListings++;
      if (!this.table?.chains.has(name)) throw new ExecError(argv, 1, 'Error: No such file or directory');
      return printNftTable(this.table, name);
    }
    if (json === '-j' && verb === 'list' && path === 'chains') {
      return JSON.stringify({ nftables: [{ metainfo: {} }, ...this.foreignChains.map((chain) => ({ chain }))] });
    }
    if (json === '-j' && verb === 'list') {
      const listing = this.listTable();
      this.listings++;
      if (listing === null) throw new ExecError(argv, 1, 'Error: No such file or directory');
      return JSON.stringify({ nftables: [{ metainfo: {} }, ...listing] });
    }
    if (json === '-j' && verb === '-f' && path !== undefined) {
      try {
        this.loadDocument(JSON.parse(this.files.get(path) ?? 'null'));
      } catch (error) {
        throw new ExecError(argv, 1, (error as Error).message);
      }
      this.writes.push('nft load');
      this.afterLoad?.();
      return '';
    }
    throw new ExecError(argv, 1, 'MemoryHost: unsupported nft command');
  }

  private runRadvd(argv: readonly string[]): string {
    const config = argv[argv.indexOf('-C') + 1] ?? '';
    const content = this.files.get(config);
    if (content === undefined) throw new ExecError(argv, 1, `cannot open ${config}`);
    if (argv.includes('-c')) return '';
    const pid = this.nextPid++;
    this.processes.set(pid, { argv: [...argv], hangups: 0 });
    this.files.set(argv[argv.indexOf('-p') + 1] ?? '', `${pid}\n`);
    this.writes.push(`start radvd ${pid}`);
    return '';
  }

  private runVtysh(argv: readonly string[]): string {
    const file = this.files.get(argv[argv.indexOf('-f') + 1] ?? '');
    const [zebraPart, routingPart] = splitByDaemon(file ?? '');
    if (argv.includes('-C')) return failOnRefusals(argv, [...MemoryZebra.checkCommands(zebraPart), ...refusedByEvery(routingPart)]);
    if (FRR_DAEMONS.every((daemon) => this.daemonPids(daemon).length === 0)) throw new ExecError(argv, 1, 'Exiting: failed to connect to any daemons.');
    if (argv.some((arg) => arg.startsWith('clear bgp ') || arg.startsWith('clear ipv6 ospf6 '))) return '';
    if (argv.includes('show version')) return 'FRRouting 8.4.4 (memory host).\n';
    const shows = argv.filter((arg) => arg.startsWith('show running-config'));
    if (shows.length > 0) return shows.map((show) => this.printRunning(show.split(' ')[2] ?? 'zebra')).join('');
    this.writes.push('vtysh -f');
    // Each running daemon takes the lines its grammar knows; a line no daemon's grammar knows is refused.
    if (this.daemonPids('bgpd').length > 0) this.routing.runCommands(routingPart);
    if (this.daemonPids('ospf6d').length > 0) this.ospf6.runCommands(routingPart);
    this.zebraRouting.runCommands(routingPart);
    return failOnRefusals(argv, [...this.zebra.runCommands(zebraPart), ...refusedByEvery(routingPart)]);
  }

  private printRunning(daemon: string): string {
    if (daemon === 'zebra') return this.zebra.printRunningConfig().replace(/^end\n$/m, [...this.zebraRouting.printLines(), 'end', ''].join('\n'));
    if (daemon === 'ospf6d' && this.daemonPids(daemon).length > 0) return this.ospf6.printRunningConfig();
    if ((daemon === 'bgpd' || daemon === 'bfdd') && this.daemonPids(daemon).length > 0) return this.routing.printRunningConfig(daemon);
    return EMPTY_RUNNING;
  }
}

const FRR_DAEMONS = ['zebra', 'bgpd', 'bfdd', 'ospf6d'] as const;

/** The lines of a routing part that no routing daemon's grammar takes: what vtysh refuses. */
function refusedByEvery(text: string): { readonly exitCode: number; readonly message: string }[] {
  const ospf6d = new Set(MemoryOspf6.checkCommands('ospf6d', text).map((error) => error.index));
  const zebra = new Set(MemoryOspf6.checkCommands('zebra', text).map((error) => error.index));
  return MemoryRouting.checkCommands(text).filter((error) => ospf6d.has(error.index) && zebra.has(error.index));
}

/**
 * A config file split as vtysh sends it: interface blocks and the global
 * lines to zebra, the rest (BGP, OSPF, policies, BFD) to the routing
 * daemons. An interface's `ipv6 ospf6` lines are ospf6d's: they go with the
 * routing lines, under their interface.
 */
function splitByDaemon(text: string): [string, string] {
  const zebra: string[] = [];
  const routing: string[] = [];
  let inInterface = false;
  for (const line of text.split('\n')) {
    if (line.startsWith('interface ')) inInterface = true;
    const isGlobal = /^(frr (version|defaults) .+|log .+|(no )?(ip|ipv6) forwarding|(no )?ipv6 nht resolve-via-default|hostname \S+|service .+|!.*)$/.test(line);
    const isInterfaceFrame = inInterface && (line.startsWith('interface ') || line === 'exit');
    if (isInterfaceFrame) routing.push(line);
    if (inInterface && /^\s*(no )?ipv6 ospf6 /.test(line)) routing.push(line);
    else if (inInterface || isGlobal) zebra.push(line);
    else routing.push(line);
    if (inInterface && line === 'exit') inInterface = false;
  }
  return [zebra.join('\n'), routing.join('\n')];
}

const EMPTY_RUNNING = 'Building configuration...\n\nCurrent configuration:\n!\nfrr version 8.4.4\nend\n';

/** vtysh goes on past a refused line, names each, and exits with the last one's code. */
function failOnRefusals(argv: readonly string[], refusals: readonly { readonly exitCode: number; readonly message: string }[]): string {
  if (refusals.length === 0) return '';
  throw new ExecError(argv, refusals[refusals.length - 1]!.exitCode, refusals.map((refusal) => refusal.message).join('\n'));
}
