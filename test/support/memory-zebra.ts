/**
 * A model of FRR 8.4's zebra for the in-memory host: the router-advertisement
 * settings of each interface, changed by the `ipv6 nd` commands of a config
 * file or of `vtysh -f`, and printed back as `show running-config` prints
 * them. It has its own grammar and its own idea of which command replaces
 * which, measured on zebra 8.4.4, on purpose: it shares no code with the
 * agent's planner or parser, so a bug there shows here as a host that ends up
 * wrong. It models only what the agent and its tests type; the lab tests
 * prove the real zebra.
 */

/** One interface's RA settings, in zebra's units; null means the setting is not configured. */
export interface ZebraInterface {
  /** `no ipv6 nd suppress-ra`; zebra does not advertise by default. */
  isAdvertising: boolean;
  /** MaxRtrAdvInterval; zebra's default is 600 s. */
  intervalMs: number;
  /** The router lifetime; unset, zebra advertises 3 × the interval. */
  routerLifetimeSeconds: number | null;
  mtu: number | null;
  /** Prefix → its valid and preferred lifetimes. */
  prefixes: Map<string, { valid: number; preferred: number }>;
  /** Server → its lifetime, null when the command gave none. */
  rdnss: Map<string, number | null>;
  /** Domain (without a trailing dot) → its lifetime, null when the command gave none. */
  dnssl: Map<string, number | null>;
  /** managed-config-flag, other-config-flag. */
  flags: Set<string>;
}

/** A command zebra refused, with the exit code vtysh reports for it. */
export class ZebraCommandError extends Error {
  constructor(
    readonly line: string,
    readonly exitCode: number,
    reason: string,
  ) {
    super(`${reason}: ${line.trim()}`);
    this.name = 'ZebraCommandError';
  }
}

const DEFAULT_INTERVAL_MS = 600_000;
// FRR's prefix lifetimes when a command gives none: 30 days and 7 days.
const DEFAULT_PREFIX = { valid: 2_592_000, preferred: 604_800 };
const INFINITE = 0xffffffff;
// vtysh's exit codes: CMD_ERR_NO_MATCH, CMD_ERR_INCOMPLETE, CMD_WARNING_CONFIG_FAILED.
const UNKNOWN = 2;
const INCOMPLETE = 4;
const REFUSED = 13;
// Lines outside an interface that a config file holds and this model leaves alone.
const GLOBAL_LINE = /^(frr (version|defaults) .+|log .+|(no )?(ip|ipv6) forwarding|hostname \S+|service .+)$/;

type Setter = (settings: ZebraInterface, isNo: boolean, args: string[], line: string) => void;

/** A zebra's RA settings. */
export class MemoryZebra {
  readonly interfaces = new Map<string, ZebraInterface>();
  /** Whether next-hop tracking may resolve through the default route (`ipv6 nht resolve-via-default`; off by default). */
  resolvesViaDefault = false;

  /**
   * Runs a command file as `vtysh -f` (or zebra reading its config at
   * start) does: line by line, going on past a line it refuses. Returns the
   * refusals, first first; an empty list means every line took.
   */
  runCommands(text: string): ZebraCommandError[] {
    return this.interpret(text, true);
  }

  /** What `vtysh -C -f` finds wrong in a file: its grammar only; zebra's own checks need a running zebra. */
  static checkCommands(text: string): ZebraCommandError[] {
    return new MemoryZebra().interpret(text, false);
  }

  /** An interface's RA lines as `show running-config` prints them: vtysh sorts them, zebra leaves defaults out. */
  printInterface(ifname: string): string[] {
    const s = this.interfaces.get(ifname);
    if (s === undefined) return [];
    const lines: string[] = [];
    const lifetime = (value: number | null) => (value === null ? '' : ` ${value === INFINITE ? 'infinite' : value}`);
    if (s.isAdvertising) lines.push('no ipv6 nd suppress-ra');
    if (s.intervalMs % 1000 !== 0) lines.push(`ipv6 nd ra-interval msec ${s.intervalMs}`);
    else if (s.intervalMs !== DEFAULT_INTERVAL_MS) lines.push(`ipv6 nd ra-interval ${s.intervalMs / 1000}`);
    if (s.routerLifetimeSeconds !== null) lines.push(`ipv6 nd ra-lifetime ${s.routerLifetimeSeconds}`);
    if (s.mtu !== null) lines.push(`ipv6 nd mtu ${s.mtu}`);
    for (const [prefix, { valid, preferred }] of s.prefixes) {
      const isDefault = valid === DEFAULT_PREFIX.valid && preferred === DEFAULT_PREFIX.preferred;
      lines.push(`ipv6 nd prefix ${prefix}${isDefault ? '' : `${lifetime(valid)}${lifetime(preferred)}`}`);
    }
    for (const [server, seconds] of s.rdnss) lines.push(`ipv6 nd rdnss ${server}${lifetime(seconds)}`);
    for (const [domain, seconds] of s.dnssl) lines.push(`ipv6 nd dnssl ${domain}${lifetime(seconds)}`);
    for (const flag of s.flags) lines.push(`ipv6 nd ${flag}`);
    return lines.sort();
  }

  /** The whole of `show running-config`, as vtysh prints it; interfaces with nothing configured are left out. */
  printRunningConfig(): string {
    const blocks = [...this.interfaces.keys()]
      .sort()
      .map((ifname) => [ifname, this.printInterface(ifname)] as const)
      .filter(([, lines]) => lines.length > 0)
      .flatMap(([ifname, lines]) => [`interface ${ifname}`, ...lines.map((line) => ` ${line}`), 'exit', '!']);
    const head = ['Building configuration...', '', 'Current configuration:', '!', 'frr version 8.4.4', 'frr defaults traditional', 'hostname vr', ...(this.resolvesViaDefault ? ['ipv6 nht resolve-via-default'] : []), '!'];
    return [...head, ...blocks, 'end', ''].join('\n');
  }

  private interpret(text: string, isApplied: boolean): ZebraCommandError[] {
    const errors: ZebraCommandError[] = [];
    let current: ZebraInterface | null = null;
    for (const line of text.split('\n')) {
      const command = line.trim();
      if (command === '' || command.startsWith('!')) continue;
      const header = /^interface (\S+)$/.exec(command);
      try {
        if (header) current = this.interfaceOf(header[1]!);
        else if (command === 'exit' || command === 'end') current = null;
        else if (current === null && GLOBAL_LINE.test(command)) continue;
        else if (current === null && /^(no )?ipv6 nht resolve-via-default$/.test(command)) this.resolvesViaDefault = isApplied ? !command.startsWith('no ') : this.resolvesViaDefault;
        else if (current === null) throw noMatch(line, command);
        else this.runNd(isApplied ? current : emptyInterface(), command, line);
      } catch (error) {
        if (!(error instanceof ZebraCommandError)) throw error;
        // A check has no zebra to ask: it sees only the grammar.
        if (isApplied || error.exitCode !== REFUSED) errors.push(error);
      }
    }
    return errors;
  }

  private interfaceOf(ifname: string): ZebraInterface {
    let settings = this.interfaces.get(ifname);
    if (settings === undefined) {
      settings = emptyInterface();
      this.interfaces.set(ifname, settings);
    }
    return settings;
  }

  private runNd(settings: ZebraInterface, command: string, line: string): void {
    const match = /^(no )?ipv6 nd (\S+)(.*)$/.exec(command);
    const setter = match ? SETTERS[match[2]!] : undefined;
    if (!match || setter === undefined) throw noMatch(line, command);
    setter(settings, match[1] !== undefined, match[3]!.split(' ').filter((word) => word !== ''), line);
  }
}

function emptyInterface(): ZebraInterface {
  return { isAdvertising: false, intervalMs: DEFAULT_INTERVAL_MS, routerLifetimeSeconds: null, mtu: null, prefixes: new Map(), rdnss: new Map(), dnssl: new Map(), flags: new Set() };
}

/** What vtysh says of a line its grammar does not take: a missing word is incomplete, a wrong one no match. */
function noMatch(line: string, word: string | undefined): ZebraCommandError {
  return word === undefined ? new ZebraCommandError(line, INCOMPLETE, '% Command incomplete') : new ZebraCommandError(line, UNKNOWN, '% Unknown command');
}

/** A whole number within bounds, as zebra's grammar takes it: one out of range is no match. */
function integer(word: string | undefined, min: number, max: number, line: string): number {
  const value = /^\d+$/.test(word ?? '') ? Number(word) : NaN;
  if (!(value >= min && value <= max)) throw noMatch(line, word);
  return value;
}

function lifetimeOf(word: string, line: string): number {
  return word === 'infinite' ? INFINITE : integer(word, 0, INFINITE, line);
}

/** Words after the ones a command needs: at most `max`. */
function expectAtMost(args: string[], max: number, line: string): void {
  if (args.length > max) throw noMatch(line, args[max]);
}

// One entry per `ipv6 nd` keyword, each with zebra 8.4's own rule for what the command
// replaces. Every "no" form takes (and ignores) the arguments of its positive form.
const SETTERS: Record<string, Setter> = {
  'suppress-ra': (s, isNo, args, line) => {
    expectAtMost(args, 0, line);
    s.isAdvertising = isNo;
  },
  'ra-interval': (s, isNo, args, line) => {
    const isMsec = args[0] === 'msec';
    const values = isMsec ? args.slice(1) : args;
    expectAtMost(values, 1, line);
    if (isNo) return void (s.intervalMs = DEFAULT_INTERVAL_MS);
    const intervalMs = isMsec ? integer(values[0], 70, 1_800_000, line) : integer(values[0], 1, 1800, line) * 1000;
    // RFC 4861 §6.2.1: AdvDefaultLifetime is 0 or at least MaxRtrAdvInterval; zebra checks a configured one, 0 included.
    if (s.routerLifetimeSeconds !== null && intervalMs > s.routerLifetimeSeconds * 1000) {
      throw new ZebraCommandError(line, REFUSED, 'This ra-interval would conflict with configured ra-lifetime!');
    }
    s.intervalMs = intervalMs;
  },
  'ra-lifetime': (s, isNo, args, line) => {
    expectAtMost(args, 1, line);
    if (isNo) return void (s.routerLifetimeSeconds = null);
    const seconds = integer(args[0], 0, 9000, line);
    if (seconds !== 0 && seconds * 1000 < s.intervalMs) throw new ZebraCommandError(line, REFUSED, 'This ra-lifetime would conflict with configured ra-interval');
    s.routerLifetimeSeconds = seconds;
  },
  mtu: (s, isNo, args, line) => {
    expectAtMost(args, 1, line);
    s.mtu = isNo ? null : integer(args[0], 1, 65535, line);
  },
  prefix: (s, isNo, args, line) => {
    const [prefix, valid, preferred] = args;
    if (prefix === undefined || !/^[0-9a-f:]+\/\d+$/.test(prefix)) throw noMatch(line, prefix);
    // The two lifetimes come together or not at all.
    if (valid !== undefined && preferred === undefined) throw noMatch(line, preferred);
    expectAtMost(args, 3, line);
    const lifetimes = valid === undefined ? DEFAULT_PREFIX : { valid: lifetimeOf(valid, line), preferred: lifetimeOf(preferred!, line) };
    if (isNo) s.prefixes.delete(prefix);
    else s.prefixes.set(prefix, lifetimes);
  },
  rdnss: (s, isNo, args, line) => setOption(s.rdnss, isNo, args, line, (server) => /^[0-9a-f:]+$/.test(server)),
  dnssl: (s, isNo, args, line) => setOption(s.dnssl, isNo, [(args[0] ?? '').replace(/\.$/, ''), ...args.slice(1)], line, (domain) => /^[A-Za-z0-9.-]+$/.test(domain)),
  'managed-config-flag': (s, isNo, args, line) => setFlag(s, 'managed-config-flag', isNo, args, line),
  'other-config-flag': (s, isNo, args, line) => setFlag(s, 'other-config-flag', isNo, args, line),
};

/** RDNSS and DNSSL: one entry per server or domain, a new lifetime replacing the old; "no" removes the entry. */
function setOption(options: Map<string, number | null>, isNo: boolean, args: string[], line: string, isValid: (key: string) => boolean): void {
  const [key, seconds] = args;
  if (key === undefined || key === '' || !isValid(key)) throw noMatch(line, key || undefined);
  expectAtMost(args, 2, line);
  const lifetime = seconds === undefined ? null : lifetimeOf(seconds, line);
  if (isNo) options.delete(key);
  else options.set(key, lifetime);
}

function setFlag(s: ZebraInterface, flag: string, isNo: boolean, args: string[], line: string): void {
  expectAtMost(args, 0, line);
  if (isNo) s.flags.delete(flag);
  else s.flags.add(flag);
}
