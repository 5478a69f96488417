import { WaitAbortedError, waitFor, type Lab, type LabProcess } from './netns.js';
import { ping } from './probes.js';

/**
 * Probes for the firewall lab: one listener process per namespace serving
 * every port a matrix names, TCP/UDP/ICMPv6 clients that can pick their
 * source address, a bulk TCP upload (for path MTU discovery), and nft
 * counters, both the VR's and a capture counter that shows whether a packet
 * from a given source reached a namespace at all.
 */

/** The ports one {@link serveFlows} process listens on. */
export interface FlowPorts {
  readonly tcp: readonly number[];
  readonly udp: readonly number[];
}

// TCP: count what the peer sends, answer the count when it half-closes (a bare
// `nc -z` connect just closes). UDP: echo. One process serves every port.
const FLOW_SERVER = `
const net = require('net'), dgram = require('dgram');
const { tcp, udp } = JSON.parse(process.argv[1]);
for (const port of tcp) net.createServer({ allowHalfOpen: true }, (s) => {
  let bytes = 0;
  s.on('error', () => {});
  s.on('data', (chunk) => { bytes += chunk.length; });
  s.on('end', () => s.end(bytes + '\\n'));
}).listen({ port, host: '::' });
for (const port of udp) {
  const d = dgram.createSocket({ type: 'udp6', ipv6Only: true });
  d.on('message', (m, r) => d.send(m, r.port, r.address));
  d.bind(port, '::');
}`;

// argv: address port timeoutMs [source]. Exit 0 when the payload came back.
const UDP_CLIENT = `
const [address, port, timeoutMs, source] = process.argv.slice(1);
const d = require('dgram').createSocket({ type: 'udp6', ipv6Only: true });
const msg = Buffer.from('vr6-firewall-probe-' + process.pid);
d.on('message', (m) => process.exit(m.equals(msg) ? 0 : 3));
d.on('error', () => process.exit(4));
d.bind({ port: 0, address: source || '::' }, () => d.send(msg, +port, address));
setTimeout(() => process.exit(1), +timeoutMs);`;

// argv: address port bytes timeoutMs. Prints the byte count the server acknowledged.
const TCP_UPLOAD = `
const [address, port, bytes, timeoutMs] = process.argv.slice(1);
const s = require('net').connect({ host: address, port: +port, allowHalfOpen: true }, () => s.end(Buffer.alloc(+bytes, 0x61)));
let answer = '';
s.on('data', (chunk) => { answer += chunk; });
s.on('end', () => { process.stdout.write(answer); process.exit(0); });
s.on('error', (e) => { process.stderr.write(String(e)); process.exit(2); });
setTimeout(() => process.exit(1), +timeoutMs);`;

/** Starts one tracked process in `ns` listening on every TCP and UDP port of `ports` (all addresses); resolves once all are bound. */
export async function serveFlows(lab: Lab, ns: string, ports: FlowPorts): Promise<LabProcess> {
  const proc = await lab.spawn(ns, [process.execPath, '-e', FLOW_SERVER, JSON.stringify(ports)]);
  await waitFor(
    async (note) => {
      if (proc.hasExited()) throw new WaitAbortedError(`flow server in ${ns} exited; see ${proc.logPath}`);
      const { stdout } = await lab.exec(ns, ['ss', '-H', '-n', '-l', '-t', '-u']);
      const bound = new Set(stdout.split('\n').map((line) => line.match(/^(tcp|udp)\s.*:(\d+)\s/)).flatMap((m) => (m ? [`${m[1]}/${m[2]}`] : [])));
      const missing = [...ports.tcp.map((p) => `tcp/${p}`), ...ports.udp.map((p) => `udp/${p}`)].filter((key) => !bound.has(key));
      note({ missing });
      return missing.length === 0;
    },
    { timeoutMs: 5000, what: `the flow server in ${ns} to bind every port` },
  );
  return proc;
}

/** Where a probe comes from and how long it may take. */
export interface ProbeOptions {
  /** Source address to bind (`-I`, `-s`); the kernel's choice when absent. */
  source?: string;
  /** Budget for an answer; whole seconds for TCP and ICMPv6, at least 1. */
  timeoutMs: number;
}

/** One TCP handshake (`nc -z`); true when it completed. */
export async function probeTcp(lab: Lab, ns: string, address: string, port: number, options: ProbeOptions): Promise<boolean> {
  const waitSec = Math.max(1, Math.round(options.timeoutMs / 1000));
  const source = options.source === undefined ? [] : ['-s', options.source];
  const argv = ['nc', '-6', '-n', '-z', '-w', String(waitSec), ...source, address, String(port)];
  const result = await lab.exec(ns, argv, { allowFailure: true, timeoutMs: waitSec * 1000 + 3000 });
  return result.exitCode === 0;
}

/** One datagram to a {@link serveFlows} UDP port; true when the same payload came back. */
export async function probeUdp(lab: Lab, ns: string, address: string, port: number, options: ProbeOptions): Promise<boolean> {
  const argv = [process.execPath, '-e', UDP_CLIENT, address, String(port), String(options.timeoutMs), options.source ?? ''];
  const result = await lab.exec(ns, argv, { allowFailure: true, timeoutMs: options.timeoutMs + 5000 });
  return result.exitCode === 0;
}

/** One ICMPv6 echo request; true when the reply came back. */
export async function probeEcho(lab: Lab, ns: string, address: string, options: ProbeOptions): Promise<boolean> {
  const timeoutSec = Math.max(1, Math.round(options.timeoutMs / 1000));
  return ping(lab, ns, address, { count: 1, timeoutSec, ...(options.source === undefined ? {} : { source: options.source }) });
}

/** Uploads `bytes` over one TCP connection to a {@link serveFlows} port; returns the count the server acknowledged, or -1. */
export async function uploadTcp(lab: Lab, ns: string, address: string, port: number, bytes: number, timeoutMs: number): Promise<number> {
  const argv = [process.execPath, '-e', TCP_UPLOAD, address, String(port), String(bytes), String(timeoutMs)];
  const result = await lab.exec(ns, argv, { allowFailure: true, timeoutMs: timeoutMs + 5000 });
  return result.exitCode === 0 ? Number.parseInt(result.stdout.trim(), 10) : -1;
}

/** The path MTU the namespace's kernel holds for `address` (`ip -6 route get`), or undefined when it has none cached. */
export async function readPathMtu(lab: Lab, ns: string, address: string): Promise<number | undefined> {
  const { stdout } = await lab.exec(ns, ['ip', '-6', 'route', 'get', address]);
  const match = stdout.match(/\bmtu (\d+)/);
  return match ? Number(match[1]) : undefined;
}

/** The table that {@link addSourceCapture} keeps in a lab namespace (never the VR's). */
const CAPTURE_TABLE = 'vr6_lab_capture';

/**
 * Counts, in `ns`, every packet that arrives with one of `sources` as its
 * source address, before anything else sees it (prerouting, priority raw - 100).
 * It only counts and never drops, so it cannot change what it observes.
 */
export async function addSourceCapture(lab: Lab, ns: string, sources: readonly string[]): Promise<void> {
  const rules = sources.map((source) => `    ip6 saddr ${source} counter comment "${source}"`);
  const text = [
    `table ip6 ${CAPTURE_TABLE} {`,
    '  chain prerouting {',
    '    type filter hook prerouting priority -400; policy accept;',
    ...rules,
    '  }',
    '}',
    '',
  ].join('\n');
  await lab.exec(ns, ['nft', '-f', '-'], { input: text });
}

/** The packets {@link addSourceCapture} counted from `source` in `ns`. */
export async function readSourceCapture(lab: Lab, ns: string, source: string): Promise<number> {
  const counters = await readRuleCounters(lab, ns, CAPTURE_TABLE, 'prerouting');
  return counters.get(source) ?? 0;
}

/** Removes the capture table from `ns`. */
export async function removeSourceCapture(lab: Lab, ns: string): Promise<void> {
  await lab.exec(ns, ['nft', 'delete', 'table', 'ip6', CAPTURE_TABLE], { allowFailure: true });
}

interface ListedRule {
  rule?: { comment?: string; expr?: { counter?: { packets?: number } }[] };
}

/** The packet counter of every commented rule of one ip6 chain, keyed by comment (summed when comments repeat). */
export async function readRuleCounters(lab: Lab, ns: string, table: string, chain: string): Promise<Map<string, number>> {
  const { stdout } = await lab.exec(ns, ['nft', '-j', 'list', 'chain', 'ip6', table, chain]);
  const counters = new Map<string, number>();
  for (const item of (JSON.parse(stdout) as { nftables: ListedRule[] }).nftables) {
    const comment = item.rule?.comment;
    const packets = item.rule?.expr?.find((expr) => expr.counter !== undefined)?.counter?.packets;
    if (comment !== undefined && packets !== undefined) counters.set(comment, (counters.get(comment) ?? 0) + packets);
  }
  return counters;
}
