import { readFileSync } from 'node:fs';
import { configureInstance, preparePeerDir, startDaemon, parseKernelRoutes, type KernelRoute } from './frr-peer.js';
import { countMisses, runCommand, waitFor, type Lab, type LabProcess } from './netns.js';

/**
 * The lab's OSPFv3 router: an FRR 8.4 instance (zebra and ospf6d) in a
 * namespace of the lab, every file of it (configs, pid files, vty and zserv
 * sockets, logs) in a fresh directory of the lab's temp dir, as the BGP peer
 * of test/lab/frr-peer.ts. One interface in one area; it can send the
 * default route (`default-information originate always`, which needs no
 * route) and extra prefixes (kernel blackhole routes in its namespace,
 * redistributed), the ones the VR's install filter should keep out.
 */

/** What the router is. */
export interface OspfPeerSpec {
  readonly routerId: string;
  /** Its interface on the link to the VR. */
  readonly interface: string;
  readonly area?: string;
  readonly helloIntervalSeconds?: number;
  readonly deadIntervalSeconds?: number;
  /** Send ::/0 into the area. */
  readonly originateDefault?: boolean;
  /** Prefixes to send besides, each backed by a kernel blackhole route. */
  readonly extraPrefixes?: readonly string[];
}

/** One neighbour as ospf6d reports it (`show ipv6 ospf6 neighbor detail json`). */
export interface OspfNeighbor {
  readonly routerId: string;
  readonly state: string;
  /** Seconds since the neighbour entered its state: reset by any change of state. */
  readonly stateSeconds: number;
  readonly linkLocalAddress: string;
}

/** A running OSPF router and what tests ask of it. Every wait has a deadline and resolves with the ms it took. */
export interface OspfPeer {
  readonly dir: string;
  readonly processes: readonly LabProcess[];
  vtysh(args: readonly string[]): Promise<string>;
  /** Config lines after `configure terminal`, in one vtysh; throws on a line FRR refuses. */
  configure(lines: readonly string[]): Promise<void>;
  /** The router's kernel routes with `proto ospf`. */
  kernelRoutes(): Promise<KernelRoute[]>;
  /** Its neighbours, by router ID. */
  neighbors(): Promise<Map<string, OspfNeighbor>>;
  /** Waits until the prefix is (or no longer is) an OSPF route in the kernel, via `nextHop` when given. */
  waitForRoute(prefix: string, present: boolean, timeoutMs: number, nextHop?: string): Promise<number>;
  /** Waits until the neighbour with this router ID is Full. */
  waitForFull(routerId: string, timeoutMs: number): Promise<number>;
  /** Polls the kernel route every 10 ms until stopped; resolves with how many polls found it missing. */
  watchRoute(prefix: string): { stop(): Promise<number> };
  /** Stops the daemons by PID and removes the blackhole routes. Idempotent. */
  stop(): Promise<void>;
}

/** `HH:MM:SS` (ospf6d's durations; days come as `Nd…`, which no lab test lives to see) → seconds. */
export function parseOspfDuration(text: string): number {
  const parts = text.split(':').map(Number);
  return parts.reduce((total, part) => total * 60 + part, 0);
}

/** `show ipv6 ospf6 neighbor detail json` → neighbours by router ID (its keys are `<router id>%<interface>`). */
export function parseOspfNeighbors(text: string): Map<string, OspfNeighbor> {
  const json = JSON.parse(text || '{}') as Record<string, Record<string, any>>;
  return new Map(
    Object.entries(json).map(([key, n]) => {
      const routerId = key.split('%')[0]!;
      return [routerId, { routerId, state: String(n.neighborState), stateSeconds: parseOspfDuration(String(n.neighborStateDuration)), linkLocalAddress: String(n.linkLocalAddress) }];
    }),
  );
}

function renderOspfPeerConfigs(spec: OspfPeerSpec): Record<'zebra' | 'ospf6d', string> {
  const extra = spec.extraPrefixes ?? [];
  const ospf = ['frr defaults traditional'];
  if (extra.length > 0) {
    ospf.push(...extra.map((prefix, i) => `ipv6 prefix-list LAB-EXTRA seq ${(i + 1) * 10} permit ${prefix}`), 'route-map LAB-EXTRA permit 10', ' match ipv6 address prefix-list LAB-EXTRA', 'exit');
  }
  // The router ID before the interface joins: an instance without one forms no adjacency.
  ospf.push('router ospf6', ` ospf6 router-id ${spec.routerId}`);
  if (spec.originateDefault) ospf.push(' default-information originate always');
  if (extra.length > 0) ospf.push(' redistribute kernel route-map LAB-EXTRA');
  ospf.push('exit', `interface ${spec.interface}`, ` ipv6 ospf6 area ${spec.area ?? '0.0.0.0'}`);
  if (spec.helloIntervalSeconds) ospf.push(` ipv6 ospf6 hello-interval ${spec.helloIntervalSeconds}`);
  if (spec.deadIntervalSeconds) ospf.push(` ipv6 ospf6 dead-interval ${spec.deadIntervalSeconds}`);
  ospf.push('exit');
  return { zebra: 'frr defaults traditional\n', ospf6d: `${ospf.join('\n')}\n` };
}

/**
 * Starts the router in namespace `ns` (a short name of the lab): zebra, then
 * ospf6d, each once the one before answers on its vty. The Lab holds each
 * daemon's PID and pid file: cleanup stops them by PID.
 */
export async function startOspfPeer(lab: Lab, ns: string, spec: OspfPeerSpec): Promise<OspfPeer> {
  const frrUid = Number((await runCommand(['id', '-u', 'frr'])).stdout.trim());
  const dir = preparePeerDir(lab, ns, frrUid, renderOspfPeerConfigs(spec));
  for (const prefix of spec.extraPrefixes ?? []) await lab.exec(ns, ['ip', '-6', 'route', 'replace', 'blackhole', prefix]);
  const processes: LabProcess[] = [];
  for (const daemon of ['zebra', 'ospf6d'] as const) processes.push(await startDaemon(lab, ns, dir, daemon));
  return new RunningOspfPeer(lab, ns, dir, spec, processes);
}

class RunningOspfPeer implements OspfPeer {
  private stopping: Promise<void> | undefined;

  constructor(
    private readonly lab: Lab,
    private readonly ns: string,
    readonly dir: string,
    private readonly spec: OspfPeerSpec,
    readonly processes: readonly LabProcess[],
  ) {}

  async vtysh(args: readonly string[]): Promise<string> {
    return (await this.lab.exec(this.ns, ['vtysh', '--vty_socket', this.dir, ...args])).stdout;
  }

  async configure(lines: readonly string[]): Promise<void> {
    await configureInstance(this.lab, this.ns, this.dir, lines);
  }

  async kernelRoutes(): Promise<KernelRoute[]> {
    return parseKernelRoutes((await this.lab.exec(this.ns, ['ip', '-6', '-j', 'route', 'show', 'proto', 'ospf'])).stdout);
  }

  async neighbors(): Promise<Map<string, OspfNeighbor>> {
    return parseOspfNeighbors(await this.vtysh(['-c', 'show ipv6 ospf6 neighbor detail json']));
  }

  async waitForRoute(prefix: string, present: boolean, timeoutMs: number, nextHop?: string): Promise<number> {
    const startedAt = Date.now();
    const what = `the OSPF router in ${this.ns} to ${present ? 'have' : 'lose'} ${prefix}${nextHop ? ` via ${nextHop}` : ''} in its kernel`;
    await waitFor(async () => (await this.hasRoute(prefix, nextHop)) === present, { timeoutMs, what, intervalMs: 10 });
    return Date.now() - startedAt;
  }

  async waitForFull(routerId: string, timeoutMs: number): Promise<number> {
    const startedAt = Date.now();
    const probe = async (note: (observation: unknown) => void) => {
      const neighbor = (await this.neighbors()).get(routerId);
      note(neighbor ?? 'no such neighbour');
      return neighbor?.state === 'Full';
    };
    await waitFor(probe, { timeoutMs, what: `neighbour ${routerId} of the OSPF router in ${this.ns} to be Full`, intervalMs: 50 });
    return Date.now() - startedAt;
  }

  watchRoute(prefix: string): { stop(): Promise<number> } {
    return countMisses(() => this.hasRoute(prefix));
  }

  stop(): Promise<void> {
    this.stopping ??= (async () => {
      for (const proc of [...this.processes].reverse()) await this.lab.stop(proc);
      for (const prefix of this.spec.extraPrefixes ?? []) await this.lab.exec(this.ns, ['ip', '-6', 'route', 'del', 'blackhole', prefix], { allowFailure: true });
    })();
    return this.stopping;
  }

  /** The daemons' logs, for a failure's message. */
  logs(): string {
    return ['zebra', 'ospf6d'].map((d) => readFileSync(`${this.dir}/${d}.log`, 'utf8')).join('\n');
  }

  private async hasRoute(prefix: string, nextHop?: string): Promise<boolean> {
    return (await this.kernelRoutes()).some((r) => r.prefix === prefix && (nextHop === undefined || r.gateways.includes(nextHop)));
  }
}
