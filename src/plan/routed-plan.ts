import type { RenderedHost, RoutedRoute } from '../render/host-facts.js';
import type { ObservedRoute } from '../model/observed.js';
import { ROUTE_PROTOCOL } from '../model/ownership.js';
import type { Step } from './steps.js';

/** The steps that bring the routed prefixes' routes to the rendering, and why some wait. */
export interface RoutedRoutesPlan {
  readonly steps: Step[];
  readonly warnings: string[];
}

/**
 * Compares the routed prefixes' routes with the kernel's, by destination in
 * one map, so a move among a thousand prefixes plans one replace and looks
 * at each route once. A route the agent made (protocol 118) that differs is
 * replaced in place, never deleted and added, so the prefix is never without
 * a route; one that the state no longer names is removed. A route to the
 * same prefix of any other protocol is someone else's: it is left alone and
 * the agent's own waits, with a warning.
 */
export function planRoutedRoutes(rendered: RenderedHost, observed: readonly ObservedRoute[], isPresent: (ifname: string) => boolean): RoutedRoutesPlan {
  const byDestination = new Map<string, ObservedRoute[]>();
  for (const route of observed) {
    const list = byDestination.get(route.destination);
    if (list === undefined) byDestination.set(route.destination, [route]);
    else list.push(route);
  }
  const warnings: string[] = [];
  const replaces: RoutedRoute[] = [];
  for (const want of rendered.routedRoutes) {
    if (!isPresent(want.interface)) continue;
    const have = byDestination.get(want.destination) ?? [];
    const ours = have.find((route) => route.protocol === ROUTE_PROTOCOL);
    const foreign = have.find((route) => route.protocol !== ROUTE_PROTOCOL);
    if (ours === undefined && foreign !== undefined) {
      warnings.push(`routed prefix ${want.destination} already has a route of protocol ${foreign.protocol} via ${foreign.gateway} dev ${foreign.interface}, which the agent did not make; its own waits`);
      continue;
    }
    if (ours === undefined || ours.gateway !== want.gateway || ours.interface !== want.interface || ours.isOnLink !== want.isOnLink) replaces.push(want);
  }
  const wanted = new Set(rendered.routedRoutes.map((route) => route.destination));
  const removes: RoutedRoute[] = observed
    .filter((route) => route.protocol === ROUTE_PROTOCOL && !wanted.has(route.destination) && route.gateway !== null && route.interface !== null)
    .map((route) => ({ destination: route.destination, gateway: route.gateway!, interface: route.interface!, isOnLink: route.isOnLink }));
  const steps: Step[] = [
    ...(removes.length > 0 ? [{ kind: 'removeRoutedRoutes', routes: removes } as const] : []),
    ...(replaces.length > 0 ? [{ kind: 'replaceRoutedRoutes', routes: replaces } as const] : []),
  ];
  return { steps, warnings };
}
