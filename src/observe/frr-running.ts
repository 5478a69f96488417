import { frrLineKey } from '../model/frr-config.js';
import { isOwnedRoutingHeader, isZebraPolicyLine, isZebraRoutingLine, OWNED_BFD_PROFILE_PREFIX, ZEBRA_DEFAULT_PREFIX_LIFETIMES } from '../model/frr-words.js';
import type { FrrConfigLine, FrrRunningNd } from '../model/observed.js';

/**
 * Reads FRR 8.4's `show running-config` for what the agent owns there:
 * zebra's `ipv6 nd` lines of each interface, and bgpd's and bfdd's routing.
 * Everything else in the config (hostname, log settings) is left to whoever
 * owns it.
 */

/** zebra's running RA settings: interface → its `ipv6 nd` lines, normalised to the form frr.conf states them. */
export function parseFrrRunningConfig(text: string): FrrRunningNd {
  const interfaces = new Map<string, string[]>();
  let current: string[] | null = null;
  for (const raw of text.split('\n')) {
    const line = raw.trimEnd();
    const header = /^interface (\S+)/.exec(line);
    if (header) {
      current = interfaces.get(header[1]!) ?? [];
      interfaces.set(header[1]!, current);
    } else if (line === 'exit' || /^\S/.test(line)) {
      current = null;
    } else if (current !== null && /^ (no )?ipv6 nd /.test(line)) {
      current.push(normaliseNdLine(line.trim()));
    }
  }
  return new Map([...interfaces].filter(([, lines]) => lines.length > 0));
}

function normaliseNdLine(line: string): string {
  const prefix = /^ipv6 nd prefix (\S+)$/.exec(line);
  if (prefix) return `${line} ${ZEBRA_DEFAULT_PREFIX_LIFETIMES}`;
  const msec = /^ipv6 nd ra-interval msec (\d+)$/.exec(line);
  if (msec && Number(msec[1]) % 1000 === 0) return `ipv6 nd ra-interval ${Number(msec[1]) / 1000}`;
  return line;
}

/**
 * A daemon's `show running-config` as lines under their block headers. A
 * line is a header when the lines after it are indented deeper; `exit`,
 * `exit-address-family` and `!` only close blocks and are left out.
 */
export function parseFrrConfigLines(text: string): FrrConfigLine[] {
  const rows = text
    .split('\n')
    .map((raw) => raw.trimEnd())
    .filter((line) => line.trim() !== '' && !line.trim().startsWith('!'))
    .map((line) => ({ depth: line.length - line.trimStart().length, line: line.trim() }));
  const lines: FrrConfigLine[] = [];
  const open: { depth: number; line: string }[] = [];
  rows.forEach((row, i) => {
    while (open.length > 0 && open[open.length - 1]!.depth >= row.depth) open.pop();
    if (/^(exit|exit-address-family|end)$/.test(row.line)) return;
    if ((rows[i + 1]?.depth ?? -1) > row.depth) open.push(row);
    else lines.push({ context: open.map((header) => header.line), line: row.line });
  });
  return lines;
}

/**
 * The agent's lines in the routing daemons' running configs (its BGP and
 * OSPF instances, the `ipv6 ospf6` lines of interfaces, policies and BFD
 * profiles), and in zebra's its own routing lines (next-hop tracking, the
 * filter of what ospf6d installs) and the policies that filter uses. A
 * policy is read from the daemon that uses it: each daemon has its own copy.
 */
export function parseRoutingRunning(texts: readonly string[], zebraText = ''): FrrConfigLine[] {
  const seen = new Set<string>();
  const zebra = parseFrrConfigLines(zebraText).filter(({ context, line }) => {
    const head = context[0] ?? line;
    return (context.length === 0 && isZebraRoutingLine(line)) || isZebraPolicyLine(head);
  });
  const others = texts
    .flatMap(parseFrrConfigLines)
    .filter((entry) => (isOwnedRoutingLine(entry) && !isZebraPolicyLine(entry.context[0] ?? entry.line)) || (entry.context.length === 0 && isZebraRoutingLine(entry.line)));
  return [...zebra, ...others].filter((entry) => {
    const key = frrLineKey(entry);
    // bgpd and bfdd both print the prefix-lists: each line once.
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

function isOwnedRoutingLine({ context, line }: FrrConfigLine): boolean {
  const head = context[0] ?? line;
  if (head.startsWith('interface ')) return line.startsWith('ipv6 ospf6 ');
  if (head !== 'bfd') return isOwnedRoutingHeader(head);
  return (context[1] ?? line).startsWith(`profile ${OWNED_BFD_PROFILE_PREFIX}`);
}
