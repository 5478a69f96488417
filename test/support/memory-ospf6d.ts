/**
 * A model of FRR 8.4's ospf6d for the in-memory host, and of zebra's part
 * in OSPF (`ipv6 protocol ospf6 route-map`, its filter of what ospf6d may
 * install, with zebra's own copy of the policies it names). Each holds its
 * lines under their blocks, changed by config commands and printed back as
 * `show running-config ospf6d|zebra` prints them. Its rules are measured on
 * FRR 8.4.4 and written here on their own, sharing no code with the agent's
 * planner or reader:
 * - `ipv6 ospf6 area B` on an interface already in an area is refused
 *   without an error ("already attached", exit 0): the area stays;
 * - hello 10 s and dead 40 s are the defaults and are not printed;
 * - areas are printed as typed.
 * A removed `summary-address` goes at once here; the real ospf6d keeps
 * printing it until its aggregation timer. The lab tests prove the real
 * daemons.
 */

/** A command the daemon's grammar does not take, at its line in the text given. */
export class OspfCommandError extends Error {
  readonly exitCode = 2;
  constructor(readonly line: string, readonly index: number) {
    super(`% Unknown command: ${line.trim()}`);
    this.name = 'OspfCommandError';
  }
}

export type OspfModelDaemon = 'ospf6d' | 'zebra';

interface Entry {
  readonly block: string | null;
  readonly line: string;
}

const PREFIX_LIST = /^ipv6 prefix-list \S+ seq \d+ (permit|deny) \S+$/;
const ROUTE_MAP = /^route-map \S+ (permit|deny) \d+$/;
const MATCH = /^match ipv6 address prefix-list \S+$/;
const DEFAULTS = new Set(['ipv6 ospf6 hello-interval 10', 'ipv6 ospf6 dead-interval 40']);

// What each daemon takes: at the top, and under each kind of block.
const GRAMMAR: Record<OspfModelDaemon, { top: RegExp[]; blocks: RegExp[]; inside: (block: string, line: string) => boolean }> = {
  ospf6d: {
    top: [PREFIX_LIST],
    blocks: [/^router ospf6$/, /^interface \S+$/, ROUTE_MAP],
    inside: (block, line) => {
      if (block === 'router ospf6') return /^(ospf6 router-id \d+\.\d+\.\d+\.\d+|redistribute connected( route-map \S+)?|summary-address \S+)$/.test(line);
      if (block.startsWith('interface ')) return /^ipv6 ospf6 (cost \d+|area \S+|dead-interval \d+|hello-interval \d+)$/.test(line);
      return MATCH.test(line);
    },
  },
  zebra: {
    top: [PREFIX_LIST, /^ipv6 protocol \S+ route-map \S+$/],
    blocks: [ROUTE_MAP],
    inside: (_block, line) => MATCH.test(line),
  },
};

/** What a line sets within its block: a new line replaces the one of the same setting. */
function settingOf(line: string): string {
  const words = line.split(' ');
  if (words[0] === 'ipv6' && (words[1] === 'ospf6' || words[1] === 'protocol')) return words.slice(0, 3).join(' ');
  if (words[0] === 'ipv6' && words[1] === 'prefix-list') return words.slice(0, 5).join(' ');
  if (words[0] === 'ospf6' || words[0] === 'redistribute') return words.slice(0, 2).join(' ');
  if (words[0] === 'match') return words.slice(0, 4).join(' ');
  return line;
}

/** ospf6d's OSPF config, or zebra's share of it. */
export class MemoryOspf6 {
  private entries: Entry[] = [];

  constructor(readonly daemon: OspfModelDaemon) {}

  /** Runs config commands as `vtysh -f` does for this daemon, going on past a line it does not take; returns those lines. */
  runCommands(text: string): OspfCommandError[] {
    return this.interpret(text, true);
  }

  /** The lines of `text` this daemon's grammar does not take. */
  static checkCommands(daemon: OspfModelDaemon, text: string): OspfCommandError[] {
    return new MemoryOspf6(daemon).interpret(text, false);
  }

  /** The daemon's lines as its `show running-config` prints them, without the head and `end`. */
  printLines(): string[] {
    const out: string[] = [];
    const blocks = [...new Set(this.entries.map((e) => e.block))];
    for (const block of blocks) {
      const lines = this.entries.filter((e) => e.block === block).map((e) => e.line);
      if (block === null) out.push(...lines);
      else out.push(block, ...lines.filter((line) => line !== '').map((line) => ` ${line}`), 'exit');
    }
    return out;
  }

  /** The whole of `show running-config ospf6d`. */
  printRunningConfig(): string {
    return [...['Building configuration...', '', 'Current configuration:', '!', 'frr version 8.4.4', 'frr defaults traditional', 'hostname vr'], ...this.printLines(), '!', 'end', ''].join('\n');
  }

  private interpret(text: string, isApplied: boolean): OspfCommandError[] {
    const grammar = GRAMMAR[this.daemon];
    const errors: OspfCommandError[] = [];
    let block: string | null = null;
    text.split('\n').forEach((raw, index) => {
      const command = raw.trim();
      if (command === '' || command.startsWith('!')) return;
      if (command === 'exit') return void (block = null);
      const isNo = command.startsWith('no ');
      const body = isNo ? command.slice(3) : command;
      if (isNo && ROUTE_MAP.test(body) && grammar.blocks.includes(ROUTE_MAP)) {
        if (isApplied) this.entries = this.entries.filter((e) => e.block !== body);
        return;
      }
      // Every block header enters its block, this daemon's or not, so the lines under it are read in their place.
      if (/^(router |interface |route-map |bfd$)/.test(body) && !isNo) {
        block = body;
        if (!grammar.blocks.some((pattern) => pattern.test(body))) errors.push(new OspfCommandError(raw, index));
        else if (isApplied && body.startsWith('route-map ') && !this.entries.some((e) => e.block === body)) this.entries.push({ block: body, line: '' });
        return;
      }
      const isKnown = block === null ? grammar.top.some((pattern) => pattern.test(body)) : grammar.blocks.some((pattern) => pattern.test(block!)) && grammar.inside(block, body);
      if (!isKnown) return void errors.push(new OspfCommandError(raw, index));
      if (isApplied) this.apply(block, body, isNo);
    });
    this.entries = this.entries.filter((e) => e.line !== '' || !this.entries.some((other) => other.block === e.block && other.line !== ''));
    return errors;
  }

  private apply(block: string | null, line: string, isNo: boolean): void {
    const setting = settingOf(line);
    const index = this.entries.findIndex((e) => e.block === block && settingOf(e.line) === setting);
    if (isNo || DEFAULTS.has(line)) {
      if (index >= 0) this.entries.splice(index, 1);
      return;
    }
    // An interface in an area stays there: ospf6d says "already attached" and vtysh exits 0.
    if (setting === 'ipv6 ospf6 area' && index >= 0) return;
    if (index >= 0) this.entries[index] = { block, line };
    else this.entries.push({ block, line });
  }
}
