import type { FrrConfigLine } from './observed.js';

/**
 * FRR's configuration language as lines under block headers, the one form
 * in which the renderer states bgpd's and bfdd's config, the reader returns
 * what they run, and the planner compares the two.
 */

/** The FRR daemons the agent runs. */
export type FrrDaemon = 'zebra' | 'bgpd' | 'bfdd';

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
