import { ExecError, type Host } from '../host/host.js';
import type { ObservedRoute } from '../model/observed.js';
import { ROUTE_PROTOCOL } from '../model/ownership.js';
import type { ObservedReaders } from '../observe/read-host.js';
import type { Ledger } from '../plan/ledger.js';
import type { Step } from '../plan/steps.js';
import type { AgentConfig } from '../schema/agent-config.js';
import type { Room } from './room.js';

/** One answer of `vr6-route-genid --serve`: the process that counts, and its count of changes. */
interface RouteGeneration {
  readonly instance: string;
  readonly count: number;
}

/**
 * Remembers the kernel's routes via a next hop, so that an observation
 * need not dump them. With a thousand routed prefixes the dump is 140 KB
 * of JSON from ip, the largest part of observing the host, on the path of
 * every push (bench/README.md). The kernel has no generation of its routing
 * table to prove a memory with, so a helper counts its changes:
 * `vr6-route-genid` joins the rtnetlink groups of IPv6 routes and links and
 * answers how many changes to the main table's routes and to links it has
 * been told of. The kernel queues those notifications before the call that
 * makes a change returns, so equal answers prove that nothing changed in
 * between, whoever changed it.
 *
 * The memory is true at one count: that of a dump with the same count read
 * before and after it, moved on by the agent's own route steps when the
 * count moved by exactly one per route written (`ip -6 route replace` and
 * `del` notify once each). Anything else moves the count unexplained (an
 * address and its prefix route, a link going down, someone's `ip route`,
 * lost notifications), and the next observation dumps. A resync dumps
 * anyway, as the ruleset watch lists at a resync: the backstop for a
 * change the count could not see. Without the helper every observation
 * dumps, as before there was a memory.
 */
export class RouteWatch implements Room {
  private memory: readonly ObservedRoute[] | null = null;
  /** The count at which `memory` is the kernel's routes via a next hop. */
  private trusted: RouteGeneration | null = null;
  /** The count read by the observation running now, before it read anything. */
  private seen: RouteGeneration | null = null;
  /** Until when a helper that failed is not asked again: each try to start it forks the agent. */
  private failedUntil = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly host: Host,
    private readonly config: AgentConfig,
    private readonly now: () => number = Date.now,
  ) {}

  ledger(): Partial<Ledger> {
    return {};
  }

  readers(isSettled: boolean): ObservedReaders {
    return {
      prefixRoutes: {
        remembered: async () => {
          this.seen = await this.readGeneration();
          return !isSettled && this.isTrustedAt(this.seen) ? this.memory : null;
        },
        dumped: async (routes) => {
          const after = await this.readGeneration();
          this.memory = routes;
          this.trusted = this.seen !== null && isSame(this.seen, after) ? this.seen : null;
        },
      },
    };
  }

  async afterStep(step: Step): Promise<void> {
    if (step.kind !== 'replaceRoutedRoutes' && step.kind !== 'removeRoutedRoutes') return;
    const before = this.trusted;
    const after = await this.readGeneration();
    if (before === null || after === null || after.instance !== before.instance || after.count !== before.count + step.routes.length) {
      this.trusted = null;
      return;
    }
    this.memory = withRoutesWritten(this.memory ?? [], step);
    this.trusted = after;
  }

  private isTrustedAt(generation: RouteGeneration | null): boolean {
    return this.memory !== null && this.trusted !== null && isSame(this.trusted, generation);
  }

  private async readGeneration(): Promise<RouteGeneration | null> {
    const command = this.config.commands.routeGenid;
    if (command === '' || this.now() < this.failedUntil) return null;
    try {
      // Kept running: it counts only while it runs, and a spawn from the agent costs more than the read.
      const [line] = await this.host.ask([command, '--serve'], [''], { timeoutMs: 5000 });
      const match = /^(\S+) (\d+)$/.exec(line?.trim() ?? '');
      const count = Number(match?.[2]);
      return match !== null && Number.isSafeInteger(count) ? { instance: match[1]!, count } : null;
    } catch (error) {
      if (!(error instanceof ExecError)) throw error;
      this.failedUntil = this.now() + HELPER_RETRY_MS;
      return null;
    }
  }
}

/** How long the routes are dumped at every observation after the helper failed. */
const HELPER_RETRY_MS = 60_000;

function isSame(a: RouteGeneration, b: RouteGeneration | null): boolean {
  return b !== null && a.instance === b.instance && a.count === b.count;
}

/**
 * The routes via a next hop once a route step took: as the kernel does it,
 * a replace takes the place of the agent's route to the destination (the
 * planner writes none where someone else's is), a del removes it.
 */
function withRoutesWritten(memory: readonly ObservedRoute[], step: Extract<Step, { kind: 'replaceRoutedRoutes' | 'removeRoutedRoutes' }>): ObservedRoute[] {
  const written = new Set(step.routes.map((route) => route.destination));
  const kept = memory.filter((route) => !(route.protocol === ROUTE_PROTOCOL && written.has(route.destination)));
  if (step.kind === 'removeRoutedRoutes') return kept;
  return [...kept, ...step.routes.map((route) => ({ destination: route.destination, gateway: route.gateway, interface: route.interface, protocol: ROUTE_PROTOCOL, isOnLink: route.isOnLink }))];
}
