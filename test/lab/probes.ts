import ipaddr from 'ipaddr.js';
import { WaitAbortedError, waitFor, type Lab, type LabProcess } from './netns.js';

/** One IPv6 address on an interface, as `ip -j -6 addr show` reports it. Lifetimes of 4294967295 mean forever. */
export interface AddressInfo {
  address: string;
  prefixLength: number;
  scope: string;
  isDynamic: boolean;
  isTentative: boolean;
  isTemporary: boolean;
  isDeprecated: boolean;
  isDadFailed: boolean;
  validLifetimeSeconds: number;
  preferredLifetimeSeconds: number;
}

interface RawAddress {
  family?: string;
  local?: string;
  prefixlen?: number;
  scope?: string;
  dynamic?: boolean;
  tentative?: boolean;
  temporary?: boolean;
  deprecated?: boolean;
  dadfailed?: boolean;
  valid_life_time?: number;
  preferred_life_time?: number;
}

/** Parses the JSON of `ip -j -6 addr show` into addresses per interface name; pure. */
export function parseAddressesByInterface(json: string): Map<string, AddressInfo[]> {
  const links = JSON.parse(json) as { ifname?: string; addr_info?: RawAddress[] }[];
  // iproute2 6.1 emits `{}` for addresses a filter left out, so entries without `local` are skipped.
  const entries = links.map((link) => [link.ifname ?? '', (link.addr_info ?? []).filter((raw) => raw.local !== undefined).map(toAddressInfo)] as const);
  return new Map(entries);
}

/** Parses the JSON of `ip -j -6 addr show` into one flat list; pure. */
export function parseAddresses(json: string): AddressInfo[] {
  return [...parseAddressesByInterface(json).values()].flat();
}

function toAddressInfo(raw: RawAddress): AddressInfo {
  return {
    address: raw.local ?? '',
    prefixLength: raw.prefixlen ?? 128,
    scope: raw.scope ?? 'global',
    isDynamic: raw.dynamic === true,
    isTentative: raw.tentative === true,
    isTemporary: raw.temporary === true,
    isDeprecated: raw.deprecated === true,
    isDadFailed: raw.dadfailed === true,
    validLifetimeSeconds: raw.valid_life_time ?? 0,
    preferredLifetimeSeconds: raw.preferred_life_time ?? 0,
  };
}

/** Reads the IPv6 addresses of one interface in a namespace. */
export async function readAddresses(lab: Lab, ns: string, ifname: string): Promise<AddressInfo[]> {
  const result = await lab.exec(ns, ['ip', '-j', '-6', 'addr', 'show', 'dev', ifname]);
  return parseAddresses(result.stdout);
}

/** Reads the IPv6 addresses of every interface in a namespace, keyed by interface name. */
export async function readAllAddresses(lab: Lab, ns: string): Promise<Map<string, AddressInfo[]>> {
  const result = await lab.exec(ns, ['ip', '-j', '-6', 'addr', 'show']);
  return parseAddressesByInterface(result.stdout);
}

/** True when `address` lies inside `prefix` (CIDR). */
export function isInPrefix(address: string, prefix: string): boolean {
  return ipaddr.parse(address).match(ipaddr.parseCIDR(prefix));
}

/**
 * True for a usable SLAAC address in `prefix`: global, dynamic (the kernel never marks SLAAC
 * addresses permanent), DAD finished and not failed, not temporary (RFC 8981), not deprecated.
 */
export function isUsableSlaacAddress(info: AddressInfo, prefix: string): boolean {
  return (
    info.scope === 'global' &&
    info.isDynamic &&
    !info.isTentative &&
    !info.isDadFailed &&
    !info.isTemporary &&
    !info.isDeprecated &&
    isInPrefix(info.address, prefix)
  );
}

/** Waits until the interface has a usable SLAAC address in `prefix` (see {@link isUsableSlaacAddress}) and returns it. */
export async function waitForSlaacAddress(lab: Lab, ns: string, ifname: string, prefix: string, timeoutMs: number): Promise<AddressInfo> {
  return waitFor(
    async (note) => {
      const addresses = await readAddresses(lab, ns, ifname);
      note(addresses);
      return addresses.find((info) => isUsableSlaacAddress(info, prefix));
    },
    { timeoutMs, what: `a SLAAC address in ${prefix} on ${ns}/${ifname}` },
  );
}

/** Options for {@link ping}: echo count, per-reply wait (`-W`) and an optional source address (`-I`). */
export interface PingOptions {
  count?: number;
  timeoutSec?: number;
  source?: string;
}

/** Pings `target` from the namespace; true when at least one reply came back. Takes at most about count × timeoutSec. */
export async function ping(lab: Lab, ns: string, target: string, options: PingOptions = {}): Promise<boolean> {
  const count = options.count ?? 1;
  const timeoutSec = options.timeoutSec ?? 1;
  const argv = ['ping', '-6', '-n', '-q', '-c', String(count), '-i', '0.2', '-W', String(timeoutSec)];
  if (options.source !== undefined) argv.push('-I', options.source);
  argv.push(target);
  const result = await lab.exec(ns, argv, { allowFailure: true, timeoutMs: (count * timeoutSec + 2) * 1000 });
  return result.exitCode === 0;
}

/** Pings every ~100 ms until a reply comes back; throws naming the target at the deadline. */
export async function waitForPing(lab: Lab, ns: string, target: string, timeoutMs: number, options: PingOptions = {}): Promise<void> {
  await waitFor(() => ping(lab, ns, target, options), { timeoutMs, what: `a ping reply from ${target} in ${ns}`, intervalMs: 100 });
}

// Tiny servers run under the same Node binary as the tests; both serve any number of peers.
const TCP_SERVER = `require('net').createServer((s) => { s.on('error', () => {}); s.end('ok\\n'); }).listen({ port: +process.argv[1], host: process.argv[2] });`;
const UDP_ECHO_SERVER = `const d = require('dgram').createSocket({ type: 'udp6', ipv6Only: false }); d.on('message', (m, r) => d.send(m, r.port, r.address)); d.bind(+process.argv[1], process.argv[2]);`;
const UDP_CLIENT = `const d = require('dgram').createSocket('udp6'); const msg = Buffer.from('vr6-lab-probe'); d.on('message', (m) => process.exit(m.equals(msg) ? 0 : 3)); d.send(msg, +process.argv[2], process.argv[1]); setTimeout(() => process.exit(1), +process.argv[3]);`;

async function waitForSocket(lab: Lab, ns: string, proto: 'tcp' | 'udp', port: number, proc: LabProcess): Promise<void> {
  await waitFor(
    async () => {
      if (proc.hasExited()) throw new WaitAbortedError(`listener exited; see ${proc.logPath}`);
      const result = await lab.exec(ns, ['ss', '-H', '-n', proto === 'tcp' ? '-lt' : '-lu', `sport = :${port}`]);
      return result.stdout.trim().length > 0;
    },
    { timeoutMs: 5000, what: `a ${proto} listener on port ${port} in ${ns}` },
  );
}

/** Starts a tracked TCP server on `[address]:port` (default all addresses) that accepts repeated connections; resolves once listening. */
export async function tcpListen(lab: Lab, ns: string, port: number, address = '::'): Promise<LabProcess> {
  const proc = await lab.spawn(ns, [process.execPath, '-e', TCP_SERVER, String(port), address]);
  await waitForSocket(lab, ns, 'tcp', port, proc);
  return proc;
}

/** Tries one TCP connection (`nc -z`); true if the handshake completed. Bounded by `timeoutMs` (whole seconds, at least 1). */
export async function tcpConnect(lab: Lab, ns: string, address: string, port: number, timeoutMs = 2000): Promise<boolean> {
  const waitSec = Math.max(1, Math.ceil(timeoutMs / 1000));
  const argv = ['nc', '-6', '-n', '-z', '-w', String(waitSec), address, String(port)];
  const result = await lab.exec(ns, argv, { allowFailure: true, timeoutMs: waitSec * 1000 + 2000 });
  return result.exitCode === 0;
}

/** Starts a tracked UDP echo server on `[address]:port`; resolves once bound. */
export async function udpEchoListen(lab: Lab, ns: string, port: number, address = '::'): Promise<LabProcess> {
  const proc = await lab.spawn(ns, [process.execPath, '-e', UDP_ECHO_SERVER, String(port), address]);
  await waitForSocket(lab, ns, 'udp', port, proc);
  return proc;
}

/** Sends one datagram to an echo server; true if the same payload came back within `timeoutMs`. */
export async function udpExchange(lab: Lab, ns: string, address: string, port: number, timeoutMs = 2000): Promise<boolean> {
  const argv = [process.execPath, '-e', UDP_CLIENT, address, String(port), String(timeoutMs)];
  const result = await lab.exec(ns, argv, { allowFailure: true, timeoutMs: timeoutMs + 5000 });
  return result.exitCode === 0;
}

/** Adds or replaces an IPv6 route (`ip -6 route replace`), so calling it twice is harmless. */
export async function addRoute(lab: Lab, ns: string, prefix: string, via: string, dev: string): Promise<void> {
  await lab.exec(ns, ['ip', '-6', 'route', 'replace', prefix, 'via', via, 'dev', dev]);
}
