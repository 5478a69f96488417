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

/** The kernel's routes via a next hop at a count, and when they were last dumped. */
interface KnownRoutes {
  readonly routes: readonly ObservedRoute[];
  readonly at: RouteGeneration;
  readonly dumpedAt: number;
}

/**
 * Remembers the kernel's routes via a next hop, so that an observation
 * need not dump them. With a thousand routed prefixes the dump is 140 KB
 * of JSON from ip, the largest part of observing the host, on the path of
 * every push (bench/README.md). The kernel has no generation of its routing
 * table to prove a memory with, so a helper counts its changes:
 * `vr6-route-genid` joins the rtnetlink groups of IPv6 routes, links and
 * nexthop objects and answers how many changes to the main table's routes,
 * links and nexthop objects it has been told of. The kernel queues those
 * notifications before the call that makes a change returns, so equal
 * answers prove that no route was added, replaced or deleted in between,
 * whoever did it.
 *
 * The memory is true at one count: that of a dump with the same count read
 * before and after it, moved on by the agent's own route steps when the
 * count moved by exactly one per route written (`ip -6 route replace` and
 * `del` notify once each). Anything else moves the count unexplained (an
 * address's prefix route, a link going down, a nexthop object, someone's
 * `ip route`, lost notifications), and the next observation dumps. What
 * the kernel changes without a notification (a route's MTU or an RA's
 * route preference) is nothing the memory holds. A resync dumps anyway,
 * and so does any observation once a resync period has passed since the
 * last dump: the backstop for a change the count could not see. The
 * helper must run in the agent's network namespace, as `ip` does. Without
 * it every observation dumps, as before there was a memory.
 */
export class RouteWatch implements Room {
  private known: KnownRoutes | null = null;
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
    // This observation's own count: a dry run (vr6ctl plan) may observe beside a reconcile.
    let seen: RouteGeneration | null = null;
    return {
      prefixRoutes: {
        remembered: async () => {
          seen = await this.readGeneration();
          const known = this.known;
          // Dumped again once a resync period has passed, whatever the loop calls a resync: a state that never converges has none.
          const isDue = known === null || this.now() - known.dumpedAt >= this.config.resyncSeconds * 1000;
          return !isSettled && !isDue && isSame(known.at, seen) ? known.routes : null;
        },
        dumped: async (routes) => {
          const after = await this.readGeneration();
          // Any dump replaces what an older one said, but is the truth only when nothing moved the count around it.
          this.known = seen !== null && isSame(seen, after) ? { routes, at: seen, dumpedAt: this.now() } : null;
        },
      },
    };
  }

  async afterStep(step: Step): Promise<void> {
    if (step.kind !== 'replaceRoutedRoutes' && step.kind !== 'removeRoutedRoutes') return;
    const before = this.known;
    const after = await this.readGeneration();
    const isOnlyOurs = before !== null && after !== null && after.instance === before.at.instance && after.count === before.at.count + step.routes.length;
    // A dump that landed meanwhile (a dry run's) is from before or after the write: neither can be moved on.
    const routes = isOnlyOurs && this.known === before ? withRoutesWritten(before.routes, step) : null;
    this.known = routes === null ? null : { routes, at: after!, dumpedAt: before!.dumpedAt };
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
 * The routes via a next hop once a route step took, or null when the memory
 * cannot tell which route the kernel took. A replace takes the place of the
 * route to the destination at the default metric (the planner writes none
 * where someone else's is), a del removes the one route it names; where the
 * memory holds more than one route to a written destination (another
 * metric), which one changed is the kernel's to say.
 */
function withRoutesWritten(memory: readonly ObservedRoute[], step: Extract<Step, { kind: 'replaceRoutedRoutes' | 'removeRoutedRoutes' }>): ObservedRoute[] | null {
  const written = new Set(step.routes.map((route) => route.destination));
  const routesTo = new Map<string, number>();
  for (const route of memory) if (written.has(route.destination)) routesTo.set(route.destination, (routesTo.get(route.destination) ?? 0) + 1);
  if ([...routesTo.values()].some((count) => count > 1)) return null;
  const kept = memory.filter((route) => !written.has(route.destination));
  if (step.kind === 'removeRoutedRoutes') return kept;
  return [...kept, ...step.routes.map((route) => ({ destination: route.destination, gateway: route.gateway, interface: route.interface, protocol: ROUTE_PROTOCOL, isOnLink: route.isOnLink }))];
}
