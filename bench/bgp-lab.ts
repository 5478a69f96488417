import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ResidentCommand } from '../src/host/resident-command.js';
import { fileLayoutOf } from '../src/model/file-layout.js';
import { AgentConfig } from '../src/schema/agent-config.js';
import { eui64Address, parseIpv6Prefix } from '../src/schema/ipv6.js';
import type { AppliedMessage } from '../src/schema/protocol.js';
import { startFrrPeer, type FrrPeer } from '../test/lab/frr-peer.js';
import { countMisses, WaitTimeoutError, type Lab } from '../test/lab/netns.js';
import { FAR_HOST, GUEST_BLOCK, IF, NS, OPTIONAL_NS, PUBLIC_PREFIX, UPSTREAM_ADDRESS } from '../test/lab/topology.js';
import { labDesiredState, pushDesired, simEventCount, startVrLab, waitForMessage, type VrLab } from '../test/lab/vr-lab.js';

/**
 * The BGP benchmark's lab: the VR lab with the far host, the agent's bgpd
 * peering with two upstream FRR instances (A on the public link, B on the
 * far host, multihop, with a TCP-MD5 password), and the readers the cases
 * time things with. Everything runs in the Lab's namespaces and is stopped
 * by PID when the Lab is cleaned up.
 */

/** The VR's AS, and the two peers'. */
export const AS = { vr: 65001, a: 65000, b: 65002 } as const;

/** The hold time of every session, in seconds; keepalives every third of it (RFC 4271 §10). */
export const HOLD_SECONDS = 9;

/** What the VR announces: the guest /64s alone, or the /48 that covers them as well. */
export interface BenchState {
  readonly hasAggregate: boolean;
  /** Peer B's TCP-MD5 password (RFC 2385). */
  readonly passwordB: string;
}

/** The lab's desired state with BGP to A and B, the guest /64s announced, and the /48 when asked. */
export function renderBenchState(state: BenchState): Record<string, any> {
  const spec = labDesiredState();
  const timers = { holdTimeSeconds: HOLD_SECONDS, keepaliveSeconds: HOLD_SECONDS / 3 };
  spec.routing = {
    protocol: 'bgp',
    bgp: {
      localAs: AS.vr,
      routerId: '192.0.2.1',
      peers: [
        { address: UPSTREAM_ADDRESS, remoteAs: AS.a, description: 'upstream-a', accept: 'default-route', ...timers },
        { address: FAR_HOST, remoteAs: AS.b, description: 'upstream-b', multihopTtl: 3, password: state.passwordB, ...timers },
      ],
      announce: { guestPrefixes: true, aggregates: state.hasAggregate ? [GUEST_BLOCK] : [] },
    },
  };
  return spec;
}

/**
 * Reads whether the upstream's kernel holds a BGP route for exactly one
 * prefix, through one `ip -6 -j -batch -` kept running in its namespace: a
 * question costs about a millisecond, where spawning `ip netns exec` costs
 * tens, so polls 5 ms apart stay 5 ms apart.
 */
export class RouteReader {
  private readonly ip: ResidentCommand;

  constructor(lab: Lab, ns: string) {
    this.ip = new ResidentCommand(['ip', 'netns', 'exec', lab.namespace(ns), 'ip', '-6', '-j', '-batch', '-']);
  }

  /** For each prefix, whether the kernel has a `proto bgp` route whose destination is exactly it; one question for all. */
  async read(prefixes: readonly string[]): Promise<boolean[]> {
    const lines = await this.ip.ask(prefixes.map((prefix) => `route show ${prefix} proto bgp`), 5000);
    return prefixes.map((prefix, i) => (JSON.parse(lines[i] ?? '[]') as { dst?: string }[]).some((route) => route.dst === prefix));
  }

  /** True when the kernel has a `proto bgp` route whose destination is exactly `prefix`. */
  async has(prefix: string): Promise<boolean> {
    return (await this.read([prefix]))[0] === true;
  }

  /** Polls every `intervalMs` until the route is there (or gone); resolves with the epoch ms of the poll that saw it. */
  async waitFor(prefix: string, isPresent: boolean, timeoutMs: number, intervalMs = 5): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const seen = await this.has(prefix);
      const at = Date.now();
      if (seen === isPresent) return at;
      if (at > deadline) throw new WaitTimeoutError(`the upstream to ${isPresent ? 'learn' : 'lose'} ${prefix}`, timeoutMs, seen);
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
  }

  /** Polls every 10 ms until stopped; resolves with how many polls found one of the routes missing. */
  watch(prefixes: readonly string[]): { stop(): Promise<number> } {
    return countMisses(async () => !(await this.read(prefixes)).includes(false));
  }

  /** Ends the reader's process. */
  close(): void {
    this.ip.close();
  }
}

/** A running benchmark lab. */
export interface BgpLab {
  readonly vrLab: VrLab;
  readonly peerA: FrrPeer;
  readonly peerB: FrrPeer;
  /** The VR's SLAAC address on the public link, which both peers peer with. */
  readonly vrAddress: string;
  /** The upstream's kernel routes (peer A's namespace). */
  readonly upstreamRoutes: RouteReader;
  /** The agent's FRR run directory (pid files, vty sockets, frr.conf). */
  readonly frrDir: string;
}

/**
 * Builds the topology and starts both peers before the agent: the VR's
 * address is known beforehand, since SLAAC derives it from eth1's MAC
 * (addr_gen_mode 0, RFC 4291 appendix A). The agent is not started.
 */
export async function startBgpLab(initial: BenchState): Promise<BgpLab> {
  const vrLab = await startVrLab(renderBenchState(initial), { farHost: true });
  const { lab } = vrLab;
  try {
    const frrDir = fileLayoutOf(AgentConfig.parse(JSON.parse(readFileSync(vrLab.agentConfigPath, 'utf8')))).frr.dir;
    for (const daemon of ['bgpd', 'bfdd']) lab.trackPidFile(NS.vr, join(frrDir, `${daemon}.pid`));
    const links = JSON.parse((await lab.exec(NS.vr, ['ip', '-j', 'link', 'show', IF.vrPublic])).stdout) as { address: string }[];
    const vrAddress = eui64Address(parseIpv6Prefix(PUBLIC_PREFIX), links[0]!.address);
    const peerA = await startFrrPeer(lab, NS.upstream, {
      localAs: AS.a,
      routerId: '192.0.2.254',
      neighbors: [{ address: vrAddress, remoteAs: AS.vr }],
      originateDefault: true,
    });
    const peerB = await startFrrPeer(lab, OPTIONAL_NS.far, {
      localAs: AS.b,
      routerId: '192.0.2.253',
      neighbors: [{ address: vrAddress, remoteAs: AS.vr, password: initial.passwordB, multihopTtl: 3 }],
    });
    return { vrLab, peerA, peerB, vrAddress, upstreamRoutes: new RouteReader(lab, NS.upstream), frrDir };
  } catch (error) {
    await lab.cleanup();
    throw error;
  }
}

/** `show bgp neighbors <address> json` on the VR's bgpd. */
export async function readVrNeighbor(bgpLab: BgpLab, address: string): Promise<Record<string, any>> {
  const argv = ['vtysh', '--vty_socket', bgpLab.frrDir, '-c', `show bgp neighbors ${address} json`];
  const json = JSON.parse((await bgpLab.vrLab.lab.exec(NS.vr, argv)).stdout) as Record<string, Record<string, any>>;
  return json[address] ?? {};
}

/** How many times each end of a session has seen it drop since it was configured. */
export interface DropCounts {
  readonly vrEnd: number;
  readonly peerEnd: number;
}

/** The drop counters of the session with peer A or B, read at both ends. */
export async function readDrops(bgpLab: BgpLab, peer: 'a' | 'b'): Promise<DropCounts> {
  const [vr, far] = await Promise.all([
    readVrNeighbor(bgpLab, peer === 'a' ? UPSTREAM_ADDRESS : FAR_HOST),
    (peer === 'a' ? bgpLab.peerA : bgpLab.peerB).neighbor(bgpLab.vrAddress),
  ]);
  return { vrEnd: Number(vr.connectionsDropped ?? 0), peerEnd: Number(far.connectionsDropped ?? 0) };
}

/**
 * The resets of a session between two readings: each end counts a drop it
 * saw, and one reset is seen by both, so the larger of the two counts.
 */
export function countResets(before: DropCounts, after: DropCounts): number {
  return Math.max(after.vrEnd - before.vrEnd, after.peerEnd - before.peerEnd);
}

/** Pushes a state and waits for the agent to apply that generation; throws unless it converged without error. */
export async function applyBenchState(bgpLab: BgpLab, state: BenchState): Promise<{ pushedAt: number; applied: AppliedMessage }> {
  const { vrLab } = bgpLab;
  const from = simEventCount(vrLab);
  const { generation, pushedAt } = await pushDesired(vrLab, renderBenchState(state));
  const applied = await waitForMessage(vrLab, 'applied', (m) => m.generation === generation, 30_000, from);
  if (applied.errors.length > 0 || !applied.isConverged) throw new Error(`generation ${generation} did not converge: ${JSON.stringify(applied.errors)}`);
  return { pushedAt, applied };
}

/** The PID in one of the agent's FRR pid files, or null when there is none. */
export function readFrrPid(bgpLab: BgpLab, daemon: 'zebra' | 'bgpd'): number | null {
  try {
    const pid = Number.parseInt(readFileSync(join(bgpLab.frrDir, `${daemon}.pid`), 'utf8').trim(), 10);
    return pid > 0 ? pid : null;
  } catch {
    return null;
  }
}
