import type { DesiredState } from '../schema/desired-state.js';
import { formatPrefix } from '../schema/ipv6.js';
import type { RoutedPrefixReport } from '../schema/protocol.js';
import type { ObservedNeighbour, ObservedRoute } from '../model/observed.js';
import { ROUTE_PROTOCOL } from '../model/ownership.js';

/**
 * The routed prefixes as the host has them: per prefix of the desired state
 * that names a next hop, whether the agent's route is in the kernel, and the
 * next hop's entry in the neighbour table. An instance that is gone shows
 * as `failed` once a packet was routed its way (RFC 4861 §7.3.3), and stays
 * `failed` in the report, given the report before (`previous`), while the
 * kernel has no entry for it or one that is `incomplete`: the kernel starts
 * a failed entry over as incomplete at the next packet for it, and may drop
 * it (docs/field-notes.md#kernel), so under traffic its own word lasts
 * between two packets only.
 * It ends once the next hop answers again, or the prefix names another. A
 * shared network's prefixes are reported the same way, under its id: the
 * VR's route to them is what lets bgpd announce them. Their neighbour entry
 * is the VR's own, which exists only when the VR itself sends to the
 * instance (its guests' packets; the upstream's go to the instance
 * directly), so `failed` is rarely seen for a shared prefix.
 */
export function renderRoutedPrefixReport(
  state: DesiredState,
  prefixRoutes: readonly ObservedRoute[],
  neighbours: readonly ObservedNeighbour[],
  previous: readonly RoutedPrefixReport[] = [],
): RoutedPrefixReport[] {
  const ours = new Map(prefixRoutes.filter((route) => route.protocol === ROUTE_PROTOCOL).map((route) => [route.destination, route]));
  const neighbourOf = new Map(neighbours.map((entry) => [`${entry.interface} ${entry.address}`, entry.state]));
  const wasFailed = new Set(previous.filter((report) => report.neighbour === FAILED).map(failedKey));
  return [...state.guestNetworks, ...state.sharedNetworks].flatMap((network) =>
    network.routedPrefixes.flatMap((routed): RoutedPrefixReport[] => {
      if (routed.nextHop === null) return [];
      const prefix = formatPrefix(routed.prefix);
      const route = ours.get(prefix);
      const entry = { network: network.id, prefix, nextHop: routed.nextHop, interface: network.interface };
      const neighbour = neighbourOf.get(`${network.interface} ${routed.nextHop}`) ?? null;
      const isStillFailed = (neighbour === null || neighbour === 'incomplete') && wasFailed.has(failedKey(entry));
      return [
        {
          ...entry,
          description: routed.description,
          isRouted: route !== undefined && route.gateway === routed.nextHop && route.interface === network.interface,
          neighbour: isStillFailed ? FAILED : neighbour,
        },
      ];
    }),
  );
}

const FAILED = 'failed';

function failedKey(report: Pick<RoutedPrefixReport, 'network' | 'prefix' | 'nextHop' | 'interface'>): string {
  return [report.network, report.prefix, report.nextHop, report.interface].join(' ');
}

/** The warnings a report of routed prefixes carries: a next hop the kernel found gone. */
export function describeRoutedPrefixProblems(reports: readonly RoutedPrefixReport[]): string[] {
  return reports
    .filter((report) => report.neighbour === FAILED)
    .map((report) => `routed prefix ${report.prefix}: next hop ${report.nextHop} on ${report.interface} does not answer (neighbour failed)`);
}
