import { ExecError, type ExecOptions, type ExecResult, type Host } from '../../src/host/host.js';
import { MemoryZebra, type ZebraCommandError } from './memory-zebra.js';

/** A link of the fake machine. */
export interface MemoryLink {
  isUp: boolean;
  mac: string;
}

type Json = Record<string, unknown>;

/** The agent's nft table in the model: named counters, and chains with their rules. */
export interface MemoryTable {
  counters: Map<string, { packets: number; bytes: number }>;
  chains: Map<string, { definition: Json; rules: Json[] }>;
}

interface MemoryAddress {
  interface: string;
  address: string;
  prefixLength: number;
}

/**
 * An in-memory machine that understands exactly the commands the agent
 * runs (ip, nft, radvd, zebra and vtysh, rdisc6), for fast unit tests of the
 * reconcile loop. It is a model, not a proof: the lab tests prove the real
 * kernel and daemons. It imports nothing of the agent but the seam it
 * implements: what it prints in a tool's format it prints from its own
 * state, and what it is told (nft documents, zebra commands) it reads with
 * its own small interpreters, so a bug in the agent's planners or parsers
 * cannot hide in it.
 */
export class MemoryHost implements Host {
  readonly files = new Map<string, string>();
  readonly sysctls = new Map<string, string>();
  readonly links = new Map<string, MemoryLink>();
  addresses: MemoryAddress[] = [];
  routes: { gateway: string; interface: string; protocol: string }[] = [];
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
  /** How many times the addresses were read: one per observation of the host. */
  observations = 0;
  readonly processes = new Map<number, { argv: string[]; hangups: number }>();
  /** The RA settings of the zebra last started; what `vtysh` talks to while it runs. */
  zebra = new MemoryZebra();
  /** Every mutating command, for tests that count writes. */
  readonly writes: string[] = [];
  /** Runs right after each nft load commits: lets a test commit something of its own in between. */
  afterLoad: (() => void) | null = null;
  /** Runs right before nft lists the agent's table: lets a test commit something between a generation read and a listing. */
  beforeList: (() => void) | null = null;
  /** Runs right after each read of the addresses: lets a test change the host while a reconcile observes it. */
  afterObservation: (() => void) | null = null;
  /** Paths whose writes fail as on a full disk; null when none. */
  fullPaths: RegExp | null = null;
  /** Makes the next command whose argv joined by spaces matches fail. */
  failOn: RegExp | null = null;
  private nextPid = 1000;

  constructor(interfaces: readonly string[] = []) {
    this.sysctls.set('net/ipv6/conf/all/forwarding', '0');
    interfaces.forEach((name, index) => this.addLink(name, `52:54:00:00:00:${(index + 1).toString(16).padStart(2, '0')}`));
  }

  /** Adds an interface with the kernel's default sysctls of a new netns. */
  addLink(name: string, mac: string): void {
    this.links.set(name, { isUp: true, mac });
    const defaults = { disable_ipv6: '0', accept_ra: '1', autoconf: '1', use_tempaddr: '0', addr_gen_mode: '0', forwarding: '0' };
    for (const [knob, value] of Object.entries(defaults)) this.sysctls.set(`net/ipv6/conf/${name}/${knob}`, value);
  }

  async exec(argv: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
    const line = argv.join(' ');
    if (this.failOn?.test(line)) {
      this.failOn = null;
      throw new ExecError(argv, 1, 'injected failure');
    }
    const out = (stdout = '') => ({ stdout, stderr: '', exitCode: 0 });
    const [command, ...args] = argv;
    if (command === 'ip') return out(this.runIp(args, options.input ?? ''));
    if (command === 'nft') return out(this.runNft(argv));
    if (command === 'radvd') return out(this.runRadvd(argv));
    if (command === 'rdisc6') return out();
    if (command === 'install') return out();
    if (command === 'vtysh') return out(this.runVtysh(argv));
    if (command?.endsWith('vr6-nft-genid')) return out(`${this.generation}\n`);
    throw new ExecError(argv, 127, `${command}: not found`);
  }

  /** A resident command answers as its one-shot run does: one line per request. */
  async ask(argv: readonly string[], requests: readonly string[]): Promise<string[]> {
    const isGenid = argv[0]?.endsWith('vr6-nft-genid') === true;
    const input = requests.map((request) => `${request}\n`).join('');
    const lines = (await this.exec(argv, { input })).stdout.split('\n').slice(0, -1);
    return isGenid ? requests.map(() => lines[0]!) : lines;
  }

  async readFile(path: string): Promise<string | null> {
    return this.files.get(path) ?? null;
  }

  async writeFileAtomic(path: string, content: string): Promise<void> {
    if (this.fullPaths?.test(path)) throw new Error(`ENOSPC: no space left on device, open '${path}'`);
    this.writes.push(`write ${path}`);
    this.files.set(path, content);
  }

  async removeFile(path: string): Promise<void> {
    if (this.files.delete(path)) this.writes.push(`remove ${path}`);
  }

  async readSysctl(key: string): Promise<string | null> {
    return this.sysctls.get(key) ?? null;
  }

  async readSysctls(keys: readonly string[]): Promise<Map<string, string | null>> {
    return new Map(keys.map((key) => [key, this.sysctls.get(key) ?? null]));
  }

  async writeSysctl(key: string, value: string): Promise<void> {
    if (!this.sysctls.has(key)) throw new Error(`ENOENT: /proc/sys/${key}`);
    this.writes.push(`sysctl ${key}=${value}`);
    this.sysctls.set(key, value);
  }

  signal(pid: number, signal: NodeJS.Signals): boolean {
    const process = this.processes.get(pid);
    if (process === undefined) return false;
    if (signal === 'SIGHUP') process.hangups++;
    else this.processes.delete(pid);
    this.writes.push(`kill -${signal} ${pid}`);
    return true;
  }

  async spawnDaemon(argv: readonly string[]): Promise<number> {
    const at = (flag: string) => argv[argv.indexOf(flag) + 1] ?? '';
    if (!argv[0]?.endsWith('zebra')) throw new ExecError(argv, null, `${argv[0]}: not found`);
    const config = this.files.get(at('-f'));
    if (config === undefined) throw new ExecError(argv, null, `cannot open ${at('-f')}`);
    const pid = this.nextPid++;
    this.processes.set(pid, { argv: [...argv], hangups: 0 });
    this.files.set(at('-i'), `${pid}\n`);
    // zebra reads its config as commands, and starts even when some of them fail.
    this.zebra = new MemoryZebra();
    this.zebra.runCommands(config);
    this.writes.push(`start zebra ${pid}`);
    return pid;
  }

  async readCommandLine(pid: number): Promise<string[] | null> {
    return this.processes.get(pid)?.argv ?? null;
  }

  /** The PIDs of running zebra processes. */
  zebraPids(): number[] {
    return [...this.processes.entries()].filter(([, p]) => p.argv[0]?.endsWith('zebra')).map(([pid]) => pid);
  }

  /** The PIDs of running radvd processes. */
  radvdPids(): number[] {
    return [...this.processes.entries()].filter(([, p]) => p.argv[0] === 'radvd').map(([pid]) => pid);
  }

  private runIp(args: string[], input: string): string {
    const line = args.join(' ');
    if (line === '-6 -j -batch -') {
      return input.split('\n').filter((command) => command !== '').map((command) => `${this.listIp(command)}\n`).join('');
    }
    this.writes.push(`ip ${line}`);
    const link = /^link set dev (\S+) up$/.exec(line);
    if (link) return this.mutateLink(link[1]!);
    const addr = /^-6 addr (replace|del) ([^/]+)\/(\d+) dev (\S+)$/.exec(line);
    if (addr) return this.mutateAddress(addr[1]!, { address: addr[2]!, prefixLength: Number(addr[3]), interface: addr[4]! });
    const route = /^-6 route (replace|del) default via (\S+) dev (\S+) proto (\d+)$/.exec(line);
    if (route) {
      this.routes = this.routes.filter((r) => r.interface !== route[3]);
      if (route[1] === 'replace') this.routes.push({ gateway: route[2]!, interface: route[3]!, protocol: route[4]! });
      return '';
    }
    throw new ExecError(['ip', ...args], 255, 'MemoryHost: unsupported ip command');
  }

  // What `ip -6 -j <command>` prints: one line of JSON.
  private listIp(command: string): string {
    if (command === 'addr show') {
      this.observations++;
      const listed = JSON.stringify(this.listAddresses());
      this.afterObservation?.();
      return listed;
    }
    if (command === 'link show') {
      return JSON.stringify([...this.links].map(([ifname, l]) => ({ ifname, flags: l.isUp ? ['UP'] : [], address: l.mac })));
    }
    if (command === 'route show default') {
      return JSON.stringify(this.routes.map((r) => ({ dst: 'default', gateway: r.gateway, dev: r.interface, protocol: r.protocol })));
    }
    throw new ExecError(['ip', '-6', '-j', command], 255, 'MemoryHost: unsupported ip batch command');
  }

  private listAddresses() {
    return [...this.links.keys()].map((ifname) => ({
      ifname,
      addr_info: this.addresses
        .filter((a) => a.interface === ifname)
        .map((a) => ({ family: 'inet6', local: a.address, prefixlen: a.prefixLength, scope: 'global', valid_life_time: 4294967295 })),
    }));
  }

  private mutateLink(name: string): string {
    const link = this.links.get(name);
    if (!link) throw new ExecError(['ip', 'link'], 1, `Cannot find device "${name}"`);
    link.isUp = true;
    return '';
  }

  private mutateAddress(verb: string, address: MemoryAddress): string {
    if (!this.links.has(address.interface)) throw new ExecError(['ip', 'addr'], 1, `Cannot find device "${address.interface}"`);
    const same = (a: MemoryAddress) => a.interface === address.interface && a.address === address.address;
    if (verb === 'del' && !this.addresses.some(same)) throw new ExecError(['ip', 'addr'], 2, 'Cannot assign requested address');
    this.addresses = this.addresses.filter((a) => !same(a));
    if (verb === 'replace') this.addresses.push(address);
    return '';
  }

  /** Applies a libnftables JSON document to the table, all or nothing, as nft does. */
  loadDocument(document: { nftables: readonly Json[] }): this {
    let table = this.table && { counters: new Map(this.table.counters), chains: new Map([...this.table.chains].map(([k, c]) => [k, { ...c, rules: [...c.rules] }])) };
    for (const command of document.nftables) {
      const [verb, body] = Object.entries(command)[0] ?? [];
      const [kind, object] = Object.entries((body ?? {}) as Json)[0] ?? [];
      const o = (object ?? {}) as Json;
      const name = String(o.name ?? o.chain);
      if (verb === 'metainfo') continue;
      if (kind === 'table') table = verb === 'delete' ? null : (table ?? { counters: new Map(), chains: new Map() });
      else if (table === null) throw new Error(`no table for ${verb} ${kind}`);
      else if (kind === 'counter' && verb === 'add') table.counters.set(name, table.counters.get(name) ?? { packets: 0, bytes: 0 });
      else if (kind === 'counter' && verb === 'delete' && table.counters.delete(name)) continue;
      else if (kind === 'chain' && verb === 'add') table.chains.set(name, table.chains.get(name) ?? { definition: o, rules: [] });
      else if (kind === 'chain' && verb === 'flush' && table.chains.has(name)) table.chains.get(name)!.rules = [];
      else if (kind === 'chain' && verb === 'delete' && table.chains.delete(name)) continue;
      else if (kind === 'rule' && verb === 'add' && table.chains.has(name)) table.chains.get(name)!.rules.push(o);
      else throw new Error(`cannot ${verb} ${kind} ${name}`);
    }
    this.table = table;
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
    if (this.table === null) return null;
    const { counters, chains } = this.table;
    return [
      ...[...counters].map(([name, value]) => ({ counter: { family: 'ip6', table: 'vr6_agent', name, ...value } })),
      ...[...chains.values()].map((chain) => ({ chain: chain.definition })),
      ...[...chains.values()].flatMap((chain) => chain.rules.map((rule) => ({ rule }))),
    ];
  }

  /** The table as `nft list table` prints it, close enough for the agent's parser: one line per object. */
  listTableText(): string | null {
    if (this.table === null) return null;
    const lines = ['table ip6 vr6_agent {'];
    for (const [name, value] of this.table.counters) lines.push(`\tcounter ${name} {`, `\t\tpackets ${value.packets} bytes ${value.bytes}`, '\t}');
    for (const [name, chain] of this.table.chains) {
      lines.push(`\tchain ${name} {`, `\t\t${JSON.stringify(chain.definition)}`, ...chain.rules.map((rule) => `\t\t${JSON.stringify(rule)}`), '\t}');
    }
    return `${lines.join('\n')}\n}\n`;
  }

  private runNft(argv: readonly string[]): string {
    const [, json, verb, path] = argv;
    if (json === 'list' && verb === 'table') {
      this.beforeList?.();
      const text = this.listTableText();
      this.listings++;
      if (text === null) throw new ExecError(argv, 1, 'Error: No such file or directory');
      return text;
    }
    if (json === 'list' && verb === 'chain') {
      this.beforeList?.();
      const name = argv[argv.length - 1] ?? '';
      const chain = this.table?.chains.get(name);
      this.chainListings++;
      if (chain === undefined) throw new ExecError(argv, 1, 'Error: No such file or directory');
      const rules = [chain.definition, ...chain.rules].map((rule) => `\t\t${JSON.stringify(rule)}`);
      return ['table ip6 vr6_agent {', `\tchain ${name} {`, ...rules, '\t}', '}', ''].join('\n');
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
    if (argv.includes('-C')) return failOnRefusals(argv, MemoryZebra.checkCommands(file ?? ''));
    if (this.zebraPids().length === 0) throw new ExecError(argv, 1, 'Exiting: failed to connect to any daemons.');
    if (argv.includes('show running-config')) return this.zebra.printRunningConfig();
    this.writes.push('vtysh -f');
    return failOnRefusals(argv, this.zebra.runCommands(file ?? ''));
  }
}

/** vtysh goes on past a refused line, names each, and exits with the last one's code. */
function failOnRefusals(argv: readonly string[], refusals: readonly ZebraCommandError[]): string {
  if (refusals.length === 0) return '';
  throw new ExecError(argv, refusals[refusals.length - 1]!.exitCode, refusals.map((refusal) => refusal.message).join('\n'));
}
