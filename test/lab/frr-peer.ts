import { chownSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { countMisses, runCommand, waitFor, type Lab, type LabProcess } from './netns.js';

/**
 * A BGP peer for the lab: an FRR instance (zebra, bgpd, and bfdd for a
 * neighbour with BFD) in a namespace of
 * its own, every file of it (config, pid files, vty and zserv sockets, logs)
 * in a directory of the lab's temp dir, its processes started and stopped by
 * PID through the Lab. It peers eBGP with the neighbours given, permits
 * everything in and out (FRR 8.4 enforces RFC 8212 for eBGP, so the
 * route-maps are stated), and can originate a default route and extra
 * prefixes, each from a blackhole route in its namespace's kernel, which
 * zebra passes to bgpd (no staticd needed).
 */
export interface FrrPeerSpec {
  readonly localAs: number;
  readonly routerId: string;
  readonly neighbors: readonly { readonly address: string; readonly remoteAs: number; readonly password?: string; readonly multihopTtl?: number; readonly bfdIntervalMs?: number }[];
  /** Originate ::/0 to every neighbour. */
  readonly originateDefault?: boolean;
  /** More prefixes to originate, e.g. to prove a neighbour's import filter. */
  readonly extraPrefixes?: readonly string[];
}

/** One prefix of the peer's BGP table: the next hops of its paths, global and link-local. */
export interface PeerRoute {
  readonly nextHops: readonly string[];
}

/** A running peer and what tests ask of it. */
export interface FrrPeer {
  /** The IPv6 unicast BGP table, by prefix. */
  bgpRoutes(): Promise<Map<string, PeerRoute>>;
  /** `show bgp neighbors <address> json` for one neighbour. */
  neighbor(address: string): Promise<Record<string, any>>;
  /** Config commands, as `vtysh -c` after `configure terminal`. */
  configure(lines: readonly string[]): Promise<void>;
  /** Waits until the kernel of the peer has (or no longer has) a BGP route for the prefix. */
  waitForRoute(prefix: string, present: boolean, timeoutMs: number): Promise<void>;
  /** Polls the kernel route every 10 ms until stopped; resolves with how many polls found it missing. */
  watchRoute(prefix: string): { stop(): Promise<number> };
  stop(): Promise<void>;
}

const FRR = '/usr/lib/frr';
// The lab's peers retry a failed connection every second and hold a session 9 s: a test waits seconds, not minutes.
const CONNECT_SECONDS = 1;

const originatedBy = (spec: FrrPeerSpec) => [...(spec.originateDefault ? ['::/0'] : []), ...(spec.extraPrefixes ?? [])];

/**
 * The peer's config, one file per daemon: a daemon reading another's block
 * drops what follows its `exit` (docs/field-notes.md#frr).
 */
function renderPeerConfigs(spec: FrrPeerSpec): Record<'zebra' | 'bgpd' | 'bfdd', string> {
  const originated = originatedBy(spec);
  // A multihop neighbour is reached by the default route, which next-hop tracking ignores unless told.
  const zebra = ['frr defaults traditional', ...(spec.neighbors.some((n) => n.multihopTtl) ? ['ipv6 nht resolve-via-default'] : [])];
  const bfd = spec.neighbors.find((n) => n.bfdIntervalMs)?.bfdIntervalMs;
  const bfdd = ['frr defaults traditional', ...(bfd ? ['bfd', ' profile lab', `  receive-interval ${bfd}`, `  transmit-interval ${bfd}`, ' exit', 'exit'] : [])];
  const lines = ['frr defaults traditional', 'route-map ANY permit 10', 'exit', 'bgp route-map delay-timer 1'];
  lines.push(`router bgp ${spec.localAs}`, ` bgp router-id ${spec.routerId}`, ' no bgp default ipv4-unicast');
  for (const n of spec.neighbors) {
    lines.push(` neighbor ${n.address} remote-as ${n.remoteAs}`, ` neighbor ${n.address} timers 3 9`, ` neighbor ${n.address} timers connect ${CONNECT_SECONDS}`);
    if (n.password) lines.push(` neighbor ${n.address} password ${n.password}`);
    if (n.multihopTtl) lines.push(` neighbor ${n.address} ebgp-multihop ${n.multihopTtl}`);
    if (n.bfdIntervalMs) lines.push(` neighbor ${n.address} bfd`, ` neighbor ${n.address} bfd profile lab`);
  }
  lines.push(' address-family ipv6 unicast', ...originated.map((prefix) => `  network ${prefix}`));
  for (const n of spec.neighbors) lines.push(`  neighbor ${n.address} activate`, `  neighbor ${n.address} route-map ANY in`, `  neighbor ${n.address} route-map ANY out`);
  lines.push(' exit-address-family', 'exit');
  return { zebra: `${zebra.join('\n')}\n`, bgpd: `${lines.join('\n')}\n`, bfdd: `${bfdd.join('\n')}\n` };
}

/** Starts the peer in namespace `ns` (a short name of the lab): zebra first, then bfdd and bgpd, each once the one before answers. */
export async function startFrrPeer(lab: Lab, ns: string, spec: FrrPeerSpec): Promise<FrrPeer> {
  const dir = join(lab.tempDir, `frr-peer-${ns}`);
  mkdirSync(dir, { mode: 0o755 });
  const frr = Number((await runCommand(['id', '-u', 'frr'])).stdout.trim());
  chownSync(dir, frr, frr);
  writeFileSync(join(dir, 'vtysh.conf'), '');
  const configs = renderPeerConfigs(spec);
  for (const [daemon, text] of Object.entries(configs)) writeFileSync(join(dir, `${daemon}.conf`), text);
  const vtysh = (args: readonly string[]) => lab.exec(ns, ['vtysh', '--vty_socket', dir, ...args]);
  const start = async (daemon: keyof typeof configs): Promise<LabProcess> => {
    const pidFile = join(dir, `${daemon}.pid`);
    lab.trackPidFile(ns, pidFile);
    const bfdctl = daemon === 'bfdd' ? ['--bfdctl', join(dir, 'bfdd.sock')] : [];
    const proc = await lab.spawn(ns, [`${FRR}/${daemon}`, '-f', join(dir, `${daemon}.conf`), '-P', '0', '--vty_socket', dir, '-z', join(dir, 'zserv.api'), '-i', pidFile, ...bfdctl]);
    await waitFor(async () => ((await vtysh(['-d', daemon, '-c', 'show version']).then(() => true, () => false)) ? true : undefined), {
      timeoutMs: 10_000,
      what: `${daemon} of the peer in ${ns} to answer`,
    });
    return proc;
  };
  for (const prefix of originatedBy(spec)) await lab.exec(ns, ['ip', '-6', 'route', 'replace', 'blackhole', prefix]);
  const processes = [await start('zebra'), ...(spec.neighbors.some((n) => n.bfdIntervalMs) ? [await start('bfdd')] : []), await start('bgpd')];
  const hasRoute = async (prefix: string) => (await lab.exec(ns, ['ip', '-6', 'route', 'show', prefix, 'proto', 'bgp'])).stdout.trim() !== '';

  return {
    async bgpRoutes() {
      const json = JSON.parse((await vtysh(['-c', 'show bgp ipv6 unicast json'])).stdout) as { routes?: Record<string, { nexthops?: { ip?: string }[] }[]> };
      const routes = new Map<string, PeerRoute>();
      for (const [prefix, paths] of Object.entries(json.routes ?? {})) {
        routes.set(prefix, { nextHops: paths.flatMap((path) => (path.nexthops ?? []).map((hop) => hop.ip ?? '')) });
      }
      return routes;
    },
    async neighbor(address) {
      const json = JSON.parse((await vtysh(['-c', `show bgp neighbors ${address} json`])).stdout) as Record<string, Record<string, any>>;
      return json[address] ?? {};
    },
    async configure(lines) {
      await vtysh(['-c', 'configure terminal', ...lines.flatMap((line) => ['-c', line])]);
    },
    async waitForRoute(prefix, present, timeoutMs) {
      await waitFor(async () => ((await hasRoute(prefix)) === present ? true : undefined), {
        timeoutMs,
        what: `the peer in ${ns} to ${present ? 'learn' : 'lose'} ${prefix}`,
        intervalMs: 20,
      });
    },
    watchRoute(prefix) {
      return countMisses(() => hasRoute(prefix));
    },
    async stop() {
      for (const proc of processes.reverse()) await lab.stop(proc);
    },
  };
}
