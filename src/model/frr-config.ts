import { isZebraPolicyLine, isZebraRoutingLine, OSPF_ROUTER } from './frr-words.js';

/**
 * FRR's configuration language as lines under block headers, the one form
 * in which the renderer states bgpd's and bfdd's config, the reader returns
 * what they run, and the planner compares the two.
 */

/**
 * One line of FRR's running config with the block headers it sits under,
 * outermost first: `['router bgp 65001', 'address-family ipv6 unicast']`
 * and `neighbor 2001:db8::1 activate`. A block header with nothing under it
 * (`route-map X deny 10`) is a line of its own.
 */
export interface FrrConfigLine {
  readonly context: readonly string[];
  readonly line: string;
}

/** The FRR daemons the agent runs, in start order: zebra first, as every other reaches zebra through its socket; bfdd serves bgpd's sessions. */
export const FRR_DAEMONS = ['zebra', 'bgpd', 'bfdd', 'ospf6d'] as const;

/** An FRR daemon the agent runs. */
export type FrrDaemon = (typeof FRR_DAEMONS)[number];

// The lines that enter a block of their own in FRR's grammar.
const OPENS_BLOCK = /^(router |route-map |interface |address-family |profile |bfd$)/;

// How each block FRR prints is closed: an address family by its own word, the rest by `exit`.
function closerOf(header: string): string {
  return header.startsWith('address-family ') ? 'exit-address-family' : 'exit';
}

/**
 * Config text for lines given in order: each run of lines under the same
 * headers becomes one block, entered and left as vtysh and FRR's config
 * reader expect, indented one space per level as FRR prints it.
 */
export function formatFrrLines(lines: readonly FrrConfigLine[]): string[] {
  const out: string[] = [];
  let open: readonly string[] = [];
  const indent = (depth: number) => ' '.repeat(depth);
  const close = (keep: number) => {
    for (let depth = open.length - 1; depth >= keep; depth--) out.push(`${indent(depth)}${closerOf(open[depth]!)}`);
    open = open.slice(0, keep);
  };
  for (const { context, line } of lines) {
    let shared = 0;
    while (shared < open.length && shared < context.length && open[shared] === context[shared]) shared++;
    close(shared);
    for (let depth = shared; depth < context.length; depth++) out.push(`${indent(depth)}${context[depth]}`);
    open = context;
    out.push(`${indent(context.length)}${line}`);
    // A header with nothing under it still enters its block: leave it at once.
    if (OPENS_BLOCK.test(line)) out.push(`${indent(context.length)}${closerOf(line)}`);
  }
  close(0);
  return out;
}

/** A key for a line's place: its headers and itself. */
export function frrLineKey({ context, line }: FrrConfigLine): string {
  return [...context, line].join('\n');
}

/**
 * The daemon a routing line of the agent's lives in; null for a policy
 * every routing daemon holds (vtysh gives each its copy). Lines of a daemon
 * on its way out are told nothing: they go with it.
 */
export function routingDaemonOf({ context, line }: FrrConfigLine): FrrDaemon | null {
  const head = context[0] ?? line;
  if (/^router bgp \d+$/.test(head)) return 'bgpd';
  if (head === 'bfd') return 'bfdd';
  if (head === OSPF_ROUTER || head.startsWith('interface ')) return 'ospf6d';
  if ((context.length === 0 && isZebraRoutingLine(line)) || isZebraPolicyLine(head)) return 'zebra';
  return null;
}
