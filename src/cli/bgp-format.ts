import { describeBgp } from '../schema/control-protocol.js';
import type { BgpPeerReport, BgpReport } from '../schema/protocol.js';
import { formatDuration } from './format.js';

/**
 * vr6ctl's BGP table for people, `show bgp` (`status` has the summary,
 * format.ts). `--json` prints the report itself.
 */

const COLUMNS = ['PEER', 'DESCRIPTION', 'STATE', 'UP', 'RECEIVED', 'SENT', 'RESETS', 'LAST ERROR'] as const;

/** `show bgp`: the summary, then one row per peer; `nowMs` turns each session's up-since into how long it has been up. */
export function formatBgpTable(report: BgpReport | null, nowMs: number): string {
  if (report === null) return 'no BGP: routing.protocol is not bgp, or no desired state has been accepted yet\n';
  const rows = report.peers.map((peer) => rowOf(peer, nowMs));
  const widths = COLUMNS.map((title, i) => Math.max(title.length, ...rows.map((row) => row[i]!.length)));
  // The last column runs free: an error text is as long as it is.
  const line = (cells: readonly string[]) => cells.map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ');
  const route = report.defaultRouteInKernel ? `default route via ${report.defaultRouteGateway ?? 'several next hops'}` : 'no default route from BGP';
  return `${[`bgp ${describeBgp(report)}; ${route}`, line(COLUMNS), ...rows.map(line)].join('\n')}\n`;
}

function rowOf(peer: BgpPeerReport, nowMs: number): string[] {
  const count = (value: number | null) => (value === null ? '-' : String(value));
  const up = peer.upSinceEpochSeconds === null ? '-' : formatDuration(nowMs - peer.upSinceEpochSeconds * 1000);
  return [peer.address, peer.description ?? '-', peer.state ?? 'unknown', up, count(peer.prefixesReceived), count(peer.prefixesSent), count(peer.resets), peer.lastError ?? '-'];
}
