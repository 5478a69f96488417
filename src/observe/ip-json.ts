import type { ObservedAddress, ObservedLink, ObservedNeighbour, ObservedRoute } from '../model/observed.js';

/**
 * Pure parsers of `ip -j` output (iproute2 6.1). They accept unknown JSON and
 * keep only what the agent uses, so a field iproute2 adds or drops later does
 * not break the agent.
 */

const FOREVER = 4294967295;

type Json = Record<string, unknown>;
const asArray = (value: unknown): Json[] => (Array.isArray(value) ? (value.filter((v) => typeof v === 'object' && v !== null) as Json[]) : []);
const text = (value: unknown): string | null => (typeof value === 'string' ? value : null);
const lifetime = (value: unknown): number | null => (typeof value === 'number' && value !== FOREVER ? value : null);

/**
 * Splits the output of `ip -j -batch -`: one line of JSON per command, in
 * order. Throws when the count is not `commands`, so a half-read host is
 * never taken for one without links or addresses.
 */
export function parseIpBatch(stdout: string, commands: number): unknown[] {
  const lines = stdout.split('\n').filter((line) => line.trim() !== '');
  if (lines.length !== commands) throw new Error(`ip -batch printed ${lines.length} results for ${commands} commands`);
  return lines.map((line) => JSON.parse(line) as unknown);
}

/** Parses `ip -j -6 addr show`. Entries without `local` (iproute2 6.1 emits `{}` for filtered ones) are skipped. */
export function parseAddresses(json: unknown): ObservedAddress[] {
  return asArray(json).flatMap((link) => {
    const ifname = text(link.ifname);
    if (ifname === null) return [];
    return asArray(link.addr_info).flatMap((info) => {
      const local = text(info.local);
      if (local === null || info.family !== 'inet6') return [];
      return [
        {
          interface: ifname,
          address: local,
          prefixLength: typeof info.prefixlen === 'number' ? info.prefixlen : 128,
          scope: text(info.scope) ?? 'global',
          isDynamic: info.dynamic === true,
          isTemporary: info.temporary === true,
          isTentative: info.tentative === true,
          isDeprecated: info.deprecated === true,
          isDadFailed: info.dadfailed === true,
          validLifetimeSeconds: lifetime(info.valid_life_time),
          preferredLifetimeSeconds: lifetime(info.preferred_life_time),
        },
      ];
    });
  });
}

/** Parses `ip -j link show`. */
export function parseLinks(json: unknown): ObservedLink[] {
  return asArray(json).flatMap((link) => {
    const name = text(link.ifname);
    if (name === null) return [];
    const flags = Array.isArray(link.flags) ? link.flags : [];
    return [{ name, isUp: flags.includes('UP'), mac: text(link.address) }];
  });
}

/** The interface names of `ip -j link show` by index. */
export function parseLinkIndexes(json: unknown): Map<number, string> {
  return new Map(
    asArray(json).flatMap((link) => {
      const name = text(link.ifname);
      return typeof link.ifindex === 'number' && name !== null ? [[link.ifindex, name] as const] : [];
    }),
  );
}

/** Parses `ip -j -6 route show`. */
export function parseRoutes(json: unknown): ObservedRoute[] {
  return asArray(json).flatMap((route) => {
    const destination = text(route.dst);
    if (destination === null) return [];
    return [
      {
        destination,
        gateway: text(route.gateway),
        interface: text(route.dev),
        protocol: text(route.protocol) ?? 'unspec',
        isOnLink: Array.isArray(route.flags) && route.flags.includes('onlink'),
      },
    ];
  });
}

/**
 * The routes of `ip -j -6 route show` that go via a next hop, but for the
 * default route: what a routed prefix's route is compared with. Connected
 * and local routes have no gateway and are left out, so a thousand guests'
 * worth of them costs the planner nothing.
 */
export function parsePrefixRoutes(json: unknown): ObservedRoute[] {
  return parseRoutes(json).filter((route) => route.destination !== 'default' && route.gateway !== null);
}

/** Parses `ip -j -6 neigh show`; an entry without a state (a proxy entry) is skipped. */
export function parseNeighbours(json: unknown): ObservedNeighbour[] {
  return asArray(json).flatMap((entry) => {
    const address = text(entry.dst);
    const ifname = text(entry.dev);
    const states = Array.isArray(entry.state) ? entry.state.filter((s): s is string => typeof s === 'string') : [];
    if (address === null || ifname === null || states.length === 0) return [];
    return [{ interface: ifname, address, state: states[0]!.toLowerCase() }];
  });
}
