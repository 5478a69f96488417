/**
 * A model of FRR 8.4's bgpd and bfdd for the in-memory host: the routing
 * config as lines under their blocks, changed by config commands and printed
 * back as `show running-config bgpd|bfdd` prints it. It has its own grammar
 * of what replaces what, measured on FRR 8.4.4 (a neighbour's setting is
 * replaced per neighbour, a prefix-list entry per name and seq, a route-map
 * entry per name and seq), and shares no code with the agent's planner or
 * reader. It models only the commands the agent sends; the lab tests prove
 * the real daemons.
 */

interface Entry {
  readonly blocks: readonly string[];
  readonly line: string;
}

/** A command bgpd or bfdd refused, with vtysh's exit code for it. */
export class RoutingCommandError extends Error {
  constructor(
    readonly line: string,
    readonly exitCode: number,
    /** The line's place in the text given. */
    readonly index: number,
  ) {
    super(`% Unknown command: ${line.trim()}`);
    this.name = 'RoutingCommandError';
  }
}

const UNKNOWN = 2;
// A block opener at each depth: the words that enter it.
const TOP_BLOCK = /^(router bgp \d+|route-map \S+ (permit|deny) \d+|bfd)$/;
const INNER_BLOCK = /^(address-family ipv6 unicast|address-family ipv4 unicast|profile \S+)$/;
const TOP_LINE = /^(ipv6 prefix-list \S+ seq \d+ (permit|deny) \S+|bgp route-map delay-timer \d+)$/;

/** What a command replaces: entries whose key is the same. */
function keyOf(line: string): string {
  const words = line.split(' ');
  if (words[0] === 'neighbor') {
    const [, peer, what, next] = words;
    if (what === 'timers' && next === 'connect') return `neighbor ${peer} timers connect`;
    if (what === 'bfd' && next === 'profile') return `neighbor ${peer} bfd profile`;
    if (what === 'prefix-list' || what === 'route-map') return `neighbor ${peer} ${what} ${words[words.length - 1]}`;
    if (what === 'ttl-security') return `neighbor ${peer} ttl-security`;
    return `neighbor ${peer} ${what}`;
  }
  if (words[0] === 'ipv6' && words[1] === 'prefix-list') return words.slice(0, 5).join(' ');
  if (words[0] === 'bgp' && words[1] === 'router-id') return 'bgp router-id';
  if (words[0] === 'bgp' && words[1] === 'route-map') return 'bgp route-map delay-timer';
  if (words[0] === 'aggregate-address' || words[0] === 'network') return words.slice(0, 2).join(' ');
  if (words[0] === 'route-map') return `route-map ${words[1]} ${words[3]}`;
  if (words[0] === 'match') return words.slice(0, 4).join(' ');
  if (/^(detect-multiplier|receive-interval|transmit-interval)$/.test(words[0] ?? '')) return words[0]!;
  return line;
}

/** The routing config of a bgpd and a bfdd. */
export class MemoryRouting {
  private entries: Entry[] = [];

  /** Runs config commands as `vtysh -f` does, going on past a refused line; returns the refusals. */
  runCommands(text: string): RoutingCommandError[] {
    return this.interpret(text, true);
  }

  /** What `vtysh -C` finds wrong: the grammar only. */
  static checkCommands(text: string): RoutingCommandError[] {
    return new MemoryRouting().interpret(text, false);
  }

  /** `show running-config bgpd` or `bfdd`: bgpd has the BGP instance, both have the prefix-lists, bfdd the BFD profiles. */
  printRunningConfig(daemon: 'bgpd' | 'bfdd'): string {
    const shown = this.entries.filter(({ blocks, line }) => {
      const head = blocks[0] ?? line;
      if (head.startsWith('ipv6 prefix-list ')) return true;
      return daemon === 'bfdd' ? head === 'bfd' : head !== 'bfd';
    });
    const out: string[] = ['Building configuration...', '', 'Current configuration:', '!', 'frr version 8.4.4', 'frr defaults traditional', 'hostname vr'];
    let open: readonly string[] = [];
    for (const { blocks, line } of shown) {
      let same = 0;
      while (same < open.length && open[same] === blocks[same]) same++;
      for (let depth = open.length - 1; depth >= same; depth--) out.push(`${' '.repeat(depth)}${open[depth]!.startsWith('address-family') ? 'exit-address-family' : 'exit'}`);
      for (let depth = same; depth < blocks.length; depth++) out.push(`${' '.repeat(depth)}${blocks[depth]}`);
      open = blocks;
      out.push(`${' '.repeat(blocks.length)}${line}`);
    }
    for (let depth = open.length - 1; depth >= 0; depth--) out.push(`${' '.repeat(depth)}${open[depth]!.startsWith('address-family') ? 'exit-address-family' : 'exit'}`);
    return `${[...out, '!', 'end'].join('\n')}\n`;
  }

  private interpret(text: string, isApplied: boolean): RoutingCommandError[] {
    const errors: RoutingCommandError[] = [];
    let blocks: string[] = [];
    for (const [index, raw] of text.split('\n').entries()) {
      const command = raw.trim();
      if (command === '' || command.startsWith('!')) continue;
      if (command === 'exit' || command === 'exit-address-family') {
        blocks = blocks.slice(0, -1);
        continue;
      }
      const isNo = command.startsWith('no ');
      const body = isNo ? command.slice(3) : command;
      // A command unknown in a block is tried at the top, as vtysh does.
      if (blocks.length > 0 && (TOP_BLOCK.test(body) || TOP_LINE.test(body))) blocks = [];
      if (TOP_BLOCK.test(body) && blocks.length === 0 && !isNo) {
        if (isApplied) this.open([], body);
        blocks = [body];
        continue;
      }
      if (INNER_BLOCK.test(body) && blocks.length === 1 && !isNo) {
        if (isApplied && body.startsWith('profile ')) this.open(blocks, body);
        blocks = [blocks[0]!, body];
        continue;
      }
      if (!this.isKnown(blocks, body)) {
        errors.push(new RoutingCommandError(raw, UNKNOWN, index));
        continue;
      }
      if (!isApplied) continue;
      // IPv4 unicast by default is on until a `no` line says otherwise, which is the setting bgpd prints.
      if (body === 'bgp default ipv4-unicast') (isNo ? this.set(blocks, command) : this.remove(blocks, 'no bgp default ipv4-unicast'));
      else if (isNo) this.remove(blocks, body);
      else this.set(blocks, body);
    }
    return errors;
  }

  private isKnown(blocks: readonly string[], body: string): boolean {
    const where = blocks.join('/');
    if (where === '') return TOP_LINE.test(body) || TOP_BLOCK.test(body);
    if (where.startsWith('router bgp')) return /^(neighbor \S+( \S+)?|bgp |network |aggregate-address )/.test(body) || INNER_BLOCK.test(body);
    if (where.startsWith('route-map')) return body.startsWith('match ');
    if (where === 'bfd') return INNER_BLOCK.test(body);
    return /^(detect-multiplier|receive-interval|transmit-interval) \d+$/.test(body);
  }

  // A route-map entry or BFD profile exists once entered, and prints as a bare header until something is put in it.
  private open(blocks: readonly string[], header: string): void {
    const isEmpty = !this.entries.some((e) => e.blocks[blocks.length] === header && sameBlocks(e.blocks.slice(0, blocks.length), blocks));
    if (/^(route-map|profile) /.test(header) && isEmpty && !this.has(blocks, header)) this.entries.push({ blocks, line: header });
  }

  private set(blocks: readonly string[], line: string): void {
    const header = blocks[blocks.length - 1];
    if (header !== undefined) this.entries = this.entries.filter((e) => !(e.line === header && sameBlocks(e.blocks, blocks.slice(0, -1))));
    // A peer made while `bgp default ipv4-unicast` holds is activated for IPv4 too.
    if (/^neighbor \S+ remote-as /.test(line) && !this.has([blocks[0]!], 'no bgp default ipv4-unicast') && !this.hasPeer(blocks[0]!, line.split(' ')[1]!)) {
      this.entries.push({ blocks: [blocks[0]!, 'address-family ipv4 unicast'], line: `neighbor ${line.split(' ')[1]} activate` });
    }
    const key = keyOf(line);
    const index = this.entries.findIndex((e) => sameBlocks(e.blocks, blocks) && keyOf(e.line) === key);
    if (index >= 0) this.entries[index] = { blocks, line };
    else this.entries.push({ blocks, line });
  }

  private remove(blocks: readonly string[], line: string): void {
    const peer = /^neighbor (\S+)$/.exec(line)?.[1];
    if (peer !== undefined) {
      this.entries = this.entries.filter((e) => !(e.blocks[0] === blocks[0] && e.line.startsWith(`neighbor ${peer} `)));
      return;
    }
    // `no <block>` takes the block; `no neighbor X bfd` takes its profile too.
    this.entries = this.entries.filter((e) => {
      if (sameBlocks(e.blocks.slice(0, blocks.length + 1), [...blocks, line])) return false;
      if (!sameBlocks(e.blocks, blocks)) return true;
      if (/ bfd$/.test(line) && e.line.startsWith(`${line} profile `)) return false;
      return e.line !== line;
    });
  }

  private has(blocks: readonly string[], line: string): boolean {
    return this.entries.some((e) => sameBlocks(e.blocks, blocks) && e.line === line);
  }

  private hasPeer(router: string, peer: string): boolean {
    return this.entries.some((e) => e.blocks[0] === router && e.line.startsWith(`neighbor ${peer} remote-as `));
  }
}

function sameBlocks(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((word, i) => word === b[i]);
}
