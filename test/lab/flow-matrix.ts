import type { Lab } from './netns.js';
import { probeEcho, probeTcp, probeUdp, type FlowPorts } from './flow-probes.js';

/**
 * An allow/deny matrix as data, and the runner that checks every row with a
 * real packet exchange. A row names its endpoints symbolically ('web',
 * 'upstream', ...); the test maps each name to a namespace and addresses once
 * the guests have their SLAAC addresses.
 */

/** What a row sends: a TCP handshake, a UDP datagram that must be echoed, or an ICMPv6 echo request. */
export type FlowProtocol = 'tcp' | 'udp' | 'icmpv6';

/** One row of a matrix. */
export interface FlowCase {
  readonly from: string;
  readonly to: string;
  readonly protocol: FlowProtocol;
  /** Destination port; tcp and udp only. */
  readonly port?: number;
  readonly expected: 'pass' | 'deny';
  /** The rule that decides the row, e.g. "acl-web item 10 (deny tcp/80 from 2001:db8:ffff::/48) before item 30". */
  readonly why: string;
  /** Set when the row fails because of a known agent bug: the test then expects it to fail, and names the bug. */
  readonly bug?: string;
}

/** A matrix endpoint: the namespace it sits in, the address it is reached at, and the source it sends from. */
export interface FlowEndpoint {
  readonly ns: string;
  readonly address: string;
  /** Bound as the source when set; otherwise the kernel chooses (a guest's SLAAC address). */
  readonly source?: string;
}

/** What one row did on the wire. */
export interface FlowResult {
  readonly row: FlowCase;
  readonly passed: boolean;
  readonly ms: number;
}

// An expected pass gets time for neighbour discovery and a retransmission; an
// expected deny only needs to show that nothing came back in a round trip that
// takes well under a millisecond here, so a second is ample.
const PASS_BUDGET_MS = 3000;
const DENY_BUDGET_MS = 1000;

/** A short, unique label for a row: `web → app tcp/8080: pass (why)`. */
export function describeFlow(row: FlowCase): string {
  const what = row.protocol === 'icmpv6' ? 'icmpv6 echo' : `${row.protocol}/${row.port}`;
  return `${row.from} → ${row.to} ${what}: ${row.expected} — ${row.why}`;
}

/** The ports a matrix needs served, for {@link serveFlows}. */
export function listFlowPorts(rows: readonly FlowCase[]): FlowPorts {
  const ports = (protocol: FlowProtocol) => [...new Set(rows.filter((r) => r.protocol === protocol).map((r) => r.port ?? 0))].sort((a, b) => a - b);
  return { tcp: ports('tcp'), udp: ports('udp') };
}

/** Sends the row's probe from `from` to `to`; true when the exchange completed. */
export async function probeFlow(lab: Lab, endpoints: Readonly<Record<string, FlowEndpoint>>, row: FlowCase): Promise<boolean> {
  const from = endpoints[row.from];
  const to = endpoints[row.to];
  if (from === undefined || to === undefined) throw new Error(`unknown endpoint in ${describeFlow(row)}`);
  const options = { timeoutMs: row.expected === 'pass' ? PASS_BUDGET_MS : DENY_BUDGET_MS, ...(from.source === undefined ? {} : { source: from.source }) };
  if (row.protocol === 'icmpv6') return probeEcho(lab, from.ns, to.address, options);
  if (row.port === undefined) throw new Error(`no port in ${describeFlow(row)}`);
  return row.protocol === 'tcp' ? probeTcp(lab, from.ns, to.address, row.port, options) : probeUdp(lab, from.ns, to.address, row.port, options);
}

/**
 * Probes every row, `concurrency` at a time. Rows are independent flows (each
 * probe uses a fresh source port or echo id), so running them side by side
 * changes no verdict: conntrack matches on the whole tuple.
 */
export async function runFlowMatrix(
  lab: Lab,
  endpoints: Readonly<Record<string, FlowEndpoint>>,
  rows: readonly FlowCase[],
  concurrency = 12,
): Promise<FlowResult[]> {
  const results: FlowResult[] = new Array(rows.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let index = next++; index < rows.length; index = next++) {
      const row = rows[index]!;
      const startedAt = Date.now();
      const passed = await probeFlow(lab, endpoints, row);
      results[index] = { row, passed, ms: Date.now() - startedAt };
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, rows.length) }, worker));
  return results;
}

/** The rows whose outcome differs from what they expect, as readable lines (empty when all agree). */
export function listFlowMismatches(results: readonly FlowResult[]): string[] {
  return results
    .filter((result) => result.passed !== (result.row.expected === 'pass'))
    .map((result) => `${describeFlow(result.row)} → ${result.passed ? 'PASSED' : 'DENIED'}${result.row.bug ? ` (known bug: ${result.row.bug})` : ''}`);
}
