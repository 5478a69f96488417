import type { RoutedPrefixReport } from '../schema/protocol.js';

/**
 * vr6ctl's table of routed prefixes for people, `show routes`. `--json`
 * prints the report itself.
 */

const COLUMNS = ['PREFIX', 'NETWORK', 'NEXT HOP', 'DEV', 'ROUTE', 'NEIGHBOUR', 'DESCRIPTION'] as const;

/** `show routes`: one row per routed prefix; ROUTE says whether the kernel holds the agent's route, NEIGHBOUR the next hop's state. */
export function formatRoutesTable(reports: readonly RoutedPrefixReport[]): string {
  if (reports.length === 0) return 'no routed prefixes: the desired state routes none (schemaVersion 2 names them), or none has been accepted yet\n';
  const rows = reports.map((r) => [r.prefix, r.network, r.nextHop, r.interface, r.isRouted ? 'installed' : 'missing', r.neighbour ?? 'none', r.description ?? '-']);
  const widths = COLUMNS.map((title, i) => Math.max(title.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: readonly string[]) => cells.map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ');
  const gone = reports.filter((r) => r.neighbour === 'failed').length;
  const summary = `${reports.length} routed, ${reports.filter((r) => r.isRouted).length} installed${gone > 0 ? `, ${gone} next hop${gone === 1 ? '' : 's'} not answering` : ''}`;
  return `${[summary, line(COLUMNS), ...rows.map(line)].join('\n')}\n`;
}
