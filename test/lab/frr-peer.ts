import { chmodSync, chownSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { originatedBy, renderFamilyLines, renderNeighborLines, renderPeerConfigs, type Daemon, type FrrNeighbor, type FrrPeerSpec } from './frr-peer-config.js';
import { countMisses, runCommand, WaitAbortedError, waitFor, type Lab, type LabProcess } from './netns.js';

export type { FrrListenRange, FrrNeighbor, FrrPeerSpec } from './frr-peer-config.js';

/** One path of a prefix in the peer's BGP table. */
export interface PeerPath {
  readonly isBest: boolean;
  readonly isValid: boolean;
  /** The neighbour it came from; empty for a path the peer originates. */
  readonly peerId: string;
  readonly asPath: string;
  /** Next hops, global and link-local. */
  readonly nextHops: readonly { readonly ip: string; readonly scope: string }[];
}

/** One prefix of the peer's IPv6 unicast BGP table. `nextHops` flattens every path's next hops. */
export interface PeerRoute {
  readonly paths: readonly PeerPath[];
  readonly nextHops: readonly string[];
}

/** A `proto bgp` route in the peer's kernel; `prefix` is canonical (`::/0`, `/128` stated). */
export interface KernelRoute {
  readonly prefix: string;
  readonly gateways: readonly string[];
  readonly devices: readonly string[];
}

/** The fields of `show bgp neighbors <address> json` tests look at, and the whole object. Fields are absent when FRR leaves them out. */
export interface PeerNeighbor {
  readonly bgpState?: string;
  readonly connectionsEstablished?: number;
  readonly connectionsDropped?: number;
  readonly peerUptimeEstablishedEpoch?: number;
  readonly lastResetDueTo?: string;
  readonly lastNotificationReason?: string;
  readonly raw: Record<string, any>;
}

/** Where {@link FrrPeer.waitForRoute} looks, and the next hop it wants (a gateway in the kernel, a path's next hop in BGP). */
export interface RouteQuery {
  readonly where?: 'kernel' | 'bgp';
  readonly nextHop?: string;
}

/** A running peer and what tests ask of it. Every wait has a deadline and resolves with the ms it took. */
export interface FrrPeer {
  /** The instance's directory: configs, `<daemon>.pid`, `<daemon>.log`, vty sockets. */
  readonly dir: string;
  /** The daemons, zebra first, as the Lab started them. */
  readonly processes: readonly LabProcess[];
  /** The IPv6 unicast BGP table (`show bgp ipv6 unicast json`), by prefix. */
  bgpRoutes(): Promise<Map<string, PeerRoute>>;
  /** The peer's kernel routes with `proto bgp` (`ip -6 -j route`). */
  kernelRoutes(): Promise<KernelRoute[]>;
  /** One neighbour as bgpd sees it; every field absent for an address that is no neighbour (yet). */
  neighbor(address: string): Promise<PeerNeighbor>;
  /** Runs vtysh on this instance with these arguments (`['-c', 'show bgp summary']`); resolves with its stdout. */
  vtysh(args: readonly string[]): Promise<string>;
  /** Config lines after `configure terminal`, in one vtysh; throws on a line FRR refuses. */
  configure(lines: readonly string[]): Promise<void>;
  /**
   * Adds a neighbour, or changes one to `neighbor`, sending only the lines that differ (a new key
   * resets the session at once). BFD only on a peer started with a BFD neighbour: bfdd runs only then.
   */
  setNeighbor(neighbor: FrrNeighbor): Promise<void>;
  /** Deletes a configured neighbour (the session ends with a Cease). */
  removeNeighbor(address: string): Promise<void>;
  /** Originates a prefix now (kernel blackhole and `network`). */
  announce(prefix: string): Promise<void>;
  /** Stops originating a prefix. */
  withdraw(prefix: string): Promise<void>;
  /** Waits until the prefix is (or no longer is) in the kernel as `proto bgp` (default) or in the BGP table with a best path. */
  waitForRoute(prefix: string, present: boolean, timeoutMs: number, query?: RouteQuery): Promise<number>;
  /** Waits until the neighbour's `bgpState` is `state` (`Established`, `Connect`, …). */
  waitForNeighborState(address: string, state: string, timeoutMs: number): Promise<number>;
  /** Polls the kernel route every 10 ms until stopped; resolves with how many polls found it missing. */
  watchRoute(prefix: string): { stop(): Promise<number> };
  /** Stops the daemons by PID and removes the blackhole routes. Idempotent. */
  stop(): Promise<void>;
}

const FRR = '/usr/lib/frr';

/** `show bgp ipv6 unicast json` → prefix → paths. */
export function parseBgpTable(text: string): Map<string, PeerRoute> {
  const json = JSON.parse(text) as { routes?: Record<string, Record<string, any>[]> };
  const routes = new Map<string, PeerRoute>();
  for (const [prefix, raw] of Object.entries(json.routes ?? {})) {
    const paths: PeerPath[] = raw.map((p) => ({
      isBest: p.bestpath === true,
      isValid: p.valid === true,
      peerId: p.peerId === '(unspec)' ? '' : String(p.peerId ?? ''),
      asPath: String(p.path ?? ''),
      nextHops: ((p.nexthops ?? []) as Record<string, any>[]).map((h) => ({ ip: String(h.ip ?? ''), scope: String(h.scope ?? '') })),
    }));
    routes.set(prefix, { paths, nextHops: paths.flatMap((p) => p.nextHops.map((h) => h.ip)) });
  }
  return routes;
}

/** `ip -6 -j route show proto bgp` → routes with canonical prefixes and every gateway of a multipath route. */
export function parseKernelRoutes(text: string): KernelRoute[] {
  return (JSON.parse(text || '[]') as Record<string, any>[]).map((r) => {
    const hops = (r.nexthops ?? [r]) as Record<string, any>[];
    const dst = String(r.dst);
    return {
      prefix: dst === 'default' ? '::/0' : dst.includes('/') ? dst : `${dst}/128`,
      gateways: hops.flatMap((h) => (h.gateway ? [String(h.gateway)] : [])),
      devices: hops.flatMap((h) => (h.dev ? [String(h.dev)] : [])),
    };
  });
}

/** A vtysh config run that FRR refused (vtysh prints `% …` and exits non-zero, or only prints). */
export class PeerConfigError extends Error {
  constructor(readonly lines: readonly string[], readonly output: string) {
    super(`the peer refused its config: ${output.trim()} (lines: ${lines.join(' / ')})`);
    this.name = 'PeerConfigError';
  }
}

/** Config lines after `configure terminal`, in one vtysh on the instance at `dir`; throws {@link PeerConfigError} on a line FRR refuses. */
export async function configureInstance(lab: Lab, ns: string, dir: string, lines: readonly string[]): Promise<void> {
  const argv = ['vtysh', '--vty_socket', dir, '-c', 'configure terminal', ...lines.flatMap((l) => ['-c', l])];
  const result = await lab.exec(ns, argv, { allowFailure: true });
  const output = result.stdout + result.stderr;
  // vtysh exits 1 and prints `% Unknown command: …` on stdout for a line it refuses.
  if (result.exitCode !== 0 || /^%/m.test(output)) throw new PeerConfigError(lines, output);
}

/** A fresh instance directory in the lab's temp dir, owned by frr, holding `<daemon>.conf` for each config and an empty vtysh.conf. */
export function preparePeerDir(lab: Lab, ns: string, frrUid: number, configs: Readonly<Record<string, string>>): string {
  // The daemons drop to user frr, which must get through the lab's 0700 temp dir to its own.
  chmodSync(lab.tempDir, 0o711);
  const dir = mkdtempSync(join(lab.tempDir, `frr-${ns}-`));
  chmodSync(dir, 0o750);
  chownSync(dir, frrUid, frrUid);
  writeFileSync(join(dir, 'vtysh.conf'), '');
  for (const [daemon, text] of Object.entries(configs)) writeFileSync(join(dir, `${daemon}.conf`), text);
  return dir;
}

/** Starts one daemon of an instance in `dir` on its `<daemon>.conf`, tracked by the Lab by PID; resolves once it answers on its vty. */
export async function startDaemon(lab: Lab, ns: string, dir: string, daemon: Daemon | 'ospf6d'): Promise<LabProcess> {
  const pidFile = join(dir, `${daemon}.pid`);
  const logPath = join(dir, `${daemon}.log`);
  lab.trackPidFile(ns, pidFile);
  const bfdctl = daemon === 'bfdd' ? ['--bfdctl', join(dir, 'bfdd.sock')] : [];
  const argv = [`${FRR}/${daemon}`, '-f', join(dir, `${daemon}.conf`), '-P', '0', '--vty_socket', dir, '-z', join(dir, 'zserv.api'), '-i', pidFile, '--log', `file:${logPath}`, ...bfdctl];
  const proc = await lab.spawn(ns, argv, { logPath: join(dir, `${daemon}.out`) });
  await waitFor(
    async () => {
      if (proc.hasExited()) throw new WaitAbortedError(`${daemon} in ${ns} exited: ${readFileSync(proc.logPath, 'utf8').trim()}`);
      return (await lab.exec(ns, ['vtysh', '--vty_socket', dir, '-d', daemon, '-c', 'show version'], { allowFailure: true })).exitCode === 0;
    },
    { timeoutMs: 10_000, what: `${daemon} of the peer in ${ns} to answer on its vty`, intervalMs: 20 },
  );
  return proc;
}

/**
 * Starts a real BGP router for the lab in namespace `ns` (a short name of
 * the lab): an FRR 8.4 instance whose every file (configs, pid files, vty
 * and zserv sockets, logs) is in a fresh directory of the lab's temp dir.
 * zebra starts first, then bfdd when a neighbour has BFD, then bgpd, each
 * once the one before answers on its vty; it resolves once bgpd answers.
 * The Lab starts each daemon without `-d`, so the PID it holds is the
 * daemon's, and tracks each pid file too: cleanup stops them by PID.
 *
 * Two ways to peer with the VR, whose public address comes by SLAAC: a
 * neighbour added once the test knows the address (both sides then open
 * connections), or `listenRange` on the public /64, which needs no address
 * and takes a new one the VR may get later, but is passive (FRR never dials
 * a dynamic neighbour), so only the VR's retries bring it up. TCP-MD5 works
 * with a listen range here (Debian 12's kernel, FRR 8.4.4): bgpd puts the
 * key for the whole prefix on its listening socket. Measured: the range's
 * kernel drops an unsigned SYN (TcpExt TCPMD5NotFound), a signed one when
 * the range has no key (TCPMD5Unexpected) and a wrong key (TCPMD5Failure);
 * test/lab/frr-peer.test.ts holds the right and the wrong key. Tests of the
 * VR add the neighbour once they know the address.
 *
 * A wrong key leaves nothing in the BGP fields beyond a state that stays
 * `Connect` or `Active`: the kernel drops the SYNs, so no TCP session and
 * no NOTIFICATION; the TCPMD5Failure counter of the namespace is the proof.
 */
export async function startFrrPeer(lab: Lab, ns: string, spec: FrrPeerSpec): Promise<FrrPeer> {
  const frrUid = Number((await runCommand(['id', '-u', 'frr'])).stdout.trim());
  const dir = preparePeerDir(lab, ns, frrUid, renderPeerConfigs(spec));
  const blackholes = new Set<string>();
  for (const prefix of originatedBy(spec)) {
    await lab.exec(ns, ['ip', '-6', 'route', 'replace', 'blackhole', prefix]);
    blackholes.add(prefix);
  }
  const daemons: Daemon[] = ['zebra', ...(spec.neighbors.some((n) => n.bfdIntervalMs) ? ['bfdd' as const] : []), 'bgpd'];
  const processes: LabProcess[] = [];
  for (const daemon of daemons) processes.push(await startDaemon(lab, ns, dir, daemon));
  return new RunningFrrPeer(lab, ns, dir, spec, processes, blackholes);
}


class RunningFrrPeer implements FrrPeer {
  private readonly neighbors: Map<string, FrrNeighbor>;
  private stopping: Promise<void> | undefined;

  constructor(
    private readonly lab: Lab,
    private readonly ns: string,
    readonly dir: string,
    private readonly spec: FrrPeerSpec,
    readonly processes: readonly LabProcess[],
    private readonly blackholes: Set<string>,
  ) {
    this.neighbors = new Map(spec.neighbors.map((n) => [n.address, n]));
  }

  async vtysh(args: readonly string[]): Promise<string> {
    return (await this.lab.exec(this.ns, ['vtysh', '--vty_socket', this.dir, ...args])).stdout;
  }

  async configure(lines: readonly string[]): Promise<void> {
    await configureInstance(this.lab, this.ns, this.dir, lines);
  }

  async bgpRoutes(): Promise<Map<string, PeerRoute>> {
    return parseBgpTable(await this.vtysh(['-c', 'show bgp ipv6 unicast json']));
  }

  async kernelRoutes(): Promise<KernelRoute[]> {
    return parseKernelRoutes((await this.lab.exec(this.ns, ['ip', '-6', '-j', 'route', 'show', 'proto', 'bgp'])).stdout);
  }

  async neighbor(address: string): Promise<PeerNeighbor> {
    const json = JSON.parse(await this.vtysh(['-c', `show bgp neighbors ${address} json`])) as Record<string, Record<string, any> | undefined>;
    const raw = json[address] ?? {};
    const { bgpState, connectionsEstablished, connectionsDropped, peerUptimeEstablishedEpoch, lastResetDueTo, lastNotificationReason } = raw;
    return { bgpState, connectionsEstablished, connectionsDropped, peerUptimeEstablishedEpoch, lastResetDueTo, lastNotificationReason, raw };
  }

  async setNeighbor(next: FrrNeighbor): Promise<void> {
    const before = this.neighbors.get(next.address);
    const [was, now] = [renderNeighborLines(next.address, before ?? next), renderNeighborLines(next.address, next)];
    // Reverse order: `no … bfd profile` before `no … bfd`, which takes the profile with it.
    const gone = before === undefined ? [] : [...was.keys()].filter((key) => !now.has(key)).reverse().map((key) => `no ${was.get(key)}`);
    const changed = [...now].filter(([key, line]) => before === undefined || was.get(key) !== line).map(([, line]) => line);
    const family = before === undefined ? this.inFamily(renderFamilyLines(next.address, this.spec)) : [];
    await this.configure([this.routerBgp, ...gone, ...changed, ...family, 'exit']);
    this.neighbors.set(next.address, next);
  }

  async removeNeighbor(address: string): Promise<void> {
    await this.configure([this.routerBgp, `no neighbor ${address}`, 'exit']);
    this.neighbors.delete(address);
  }

  async announce(prefix: string): Promise<void> {
    await this.lab.exec(this.ns, ['ip', '-6', 'route', 'replace', 'blackhole', prefix]);
    this.blackholes.add(prefix);
    await this.configure([this.routerBgp, ...this.inFamily([`network ${prefix}`]), 'exit']);
  }

  async withdraw(prefix: string): Promise<void> {
    await this.configure([this.routerBgp, ...this.inFamily([`no network ${prefix}`]), 'exit']);
    await this.lab.exec(this.ns, ['ip', '-6', 'route', 'del', 'blackhole', prefix], { allowFailure: true });
    this.blackholes.delete(prefix);
  }

  async waitForRoute(prefix: string, present: boolean, timeoutMs: number, query: RouteQuery = {}): Promise<number> {
    const where = query.where === 'bgp' ? 'BGP table' : 'kernel';
    const what = `the peer in ${this.ns} to ${present ? 'have' : 'lose'} ${prefix}${query.nextHop ? ` via ${query.nextHop}` : ''} in its ${where}`;
    const startedAt = Date.now();
    await waitFor(async () => (await this.hasRoute(prefix, query)) === present, { timeoutMs, what, intervalMs: 20 });
    return Date.now() - startedAt;
  }

  async waitForNeighborState(address: string, state: string, timeoutMs: number): Promise<number> {
    const startedAt = Date.now();
    const probe = async (note: (observation: unknown) => void) => {
      const { raw, ...fields } = await this.neighbor(address);
      note(fields);
      return fields.bgpState === state;
    };
    await waitFor(probe, { timeoutMs, what: `neighbour ${address} of the peer in ${this.ns} to be ${state}`, intervalMs: 20 });
    return Date.now() - startedAt;
  }

  watchRoute(prefix: string): { stop(): Promise<number> } {
    return countMisses(() => this.hasRoute(prefix, {}));
  }

  stop(): Promise<void> {
    this.stopping ??= (async () => {
      for (const proc of [...this.processes].reverse()) await this.lab.stop(proc);
      for (const prefix of this.blackholes) await this.lab.exec(this.ns, ['ip', '-6', 'route', 'del', 'blackhole', prefix], { allowFailure: true });
    })();
    return this.stopping;
  }

  private get routerBgp(): string {
    return `router bgp ${this.spec.localAs}`;
  }

  private inFamily(lines: readonly string[]): string[] {
    return ['address-family ipv6 unicast', ...lines, 'exit-address-family'];
  }

  private async hasRoute(prefix: string, query: RouteQuery): Promise<boolean> {
    if (query.where === 'bgp') {
      const paths = (await this.bgpRoutes()).get(prefix)?.paths ?? [];
      return paths.some((p) => p.isBest && (query.nextHop === undefined || p.nextHops.some((h) => h.ip === query.nextHop)));
    }
    return (await this.kernelRoutes()).some((r) => r.prefix === prefix && (query.nextHop === undefined || r.gateways.includes(query.nextHop)));
  }
}
