import type { AgentConfig } from '../schema/agent-config.js';
import { Ipv6SyntaxError, parseIpv6Address } from '../schema/ipv6.js';
import { ExecError, type Host } from '../host/host.js';
import { fileLayoutOf } from '../model/file-layout.js';
import type { ObservedBgp, ObservedBgpPeer, ObservedRoute } from '../model/observed.js';

/**
 * bgpd's sessions, from FRR 8.4's `show bgp neighbors json`: a JSON object
 * keyed by neighbour address, one object of bgpd's own words per neighbour
 * (docs/field-notes.md#frr). The parser is pure; the reader asks bgpd through
 * the Host seam.
 */

/** bgpd answered with something that is not its neighbours' JSON. */
export class BgpStatusParseError extends Error {
  constructor(
    message: string,
    readonly text: string,
  ) {
    super(message);
    this.name = 'BgpStatusParseError';
  }
}

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);
const textOf = (value: unknown): string | null => (typeof value === 'string' && value !== '' ? value : null);
const countOf = (value: unknown): number | null => (typeof value === 'number' && Number.isInteger(value) && value >= 0 ? value : null);

/** bgpd's name for an address, normalised to RFC 5952 as the desired state holds it; null for what is no IPv6 address. */
function addressOf(key: string): string | null {
  try {
    return parseIpv6Address(key);
  } catch (error) {
    if (error instanceof Ipv6SyntaxError) return null;
    throw error;
  }
}

/**
 * Parses `show bgp neighbors json`. Each IPv6 neighbour becomes one peer, in
 * bgpd's order; other keys are left out. A field bgpd leaves out (as it does
 * the uptime and the sent count of a session that is not Established) is
 * null, a missing reset counter 0 and a missing state `Unknown`. Throws
 * BgpStatusParseError when the text is not a JSON object.
 */
export function parseBgpNeighbors(text: string): ObservedBgpPeer[] {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new BgpStatusParseError(`not JSON: ${(error as Error).message}`, text);
  }
  if (!isObject(json)) throw new BgpStatusParseError('not a JSON object', text);
  return Object.entries(json).flatMap(([key, neighbor]) => {
    const address = addressOf(key);
    return address !== null && isObject(neighbor) ? [parseNeighbor(address, neighbor)] : [];
  });
}

function parseNeighbor(address: string, neighbor: Json): ObservedBgpPeer {
  const state = textOf(neighbor.bgpState) ?? 'Unknown';
  const isEstablished = state === 'Established';
  const unicast = isObject(neighbor.addressFamilyInfo) && isObject(neighbor.addressFamilyInfo.ipv6Unicast) ? neighbor.addressFamilyInfo.ipv6Unicast : {};
  return {
    address,
    state,
    upSinceEpochSeconds: isEstablished ? countOf(neighbor.bgpTimerUpEstablishedEpoch) : null,
    // acceptedPrefixCounter counts what passed the import policy; bgpd keeps it at 0 while the session is down.
    prefixesReceived: isEstablished ? countOf(unicast.acceptedPrefixCounter) : null,
    prefixesSent: isEstablished ? countOf(unicast.sentPrefixCounter) : null,
    connectionsDropped: countOf(neighbor.connectionsDropped) ?? 0,
    lastReset: textOf(neighbor.lastResetDueTo),
    lastNotification: notificationOf(neighbor),
  };
}

// bgpd's reset reasons (peer_down_str) that say which side sent the last NOTIFICATION.
const NOTIFICATION_DIRECTIONS: Readonly<Record<string, string>> = { 'BGP Notification send': 'sent', 'BGP Notification received': 'received' };

/**
 * The last NOTIFICATION (RFC 4271 §4.5) in bgpd's words, which side sent it,
 * and the operator's words an RFC 8203 Cease carries: "Cease/Administrative
 * Shutdown (received): planned maintenance". bgpd shows one only while its
 * last reset was a NOTIFICATION.
 */
function notificationOf(neighbor: Json): string | null {
  const reason = textOf(neighbor.lastNotificationReason);
  if (reason === null) return null;
  const direction = NOTIFICATION_DIRECTIONS[textOf(neighbor.lastResetDueTo) ?? ''];
  const words = textOf(neighbor.lastShutdownDescription);
  return `${reason}${direction ? ` (${direction})` : ''}${words ? `: ${words}` : ''}`;
}

/**
 * The learned default route as the kernel has it: zebra installs bgpd's
 * routes with protocol 186, which `ip -j` names `bgp` (iproute2's
 * rt_protos). Its gateway is the peer's link-local address, since a BGP
 * next hop on a shared link carries one (RFC 2545 §3).
 */
export function selectBgpDefaultRoute(routes: readonly ObservedRoute[]): ObservedBgp['defaultRoute'] {
  const route = routes.find((r) => r.destination === 'default' && r.protocol === 'bgp');
  return route === undefined ? null : { gateway: route.gateway, interface: route.interface };
}

/** How long bgpd has to answer; its neighbours' JSON takes it milliseconds, so a longer wait means it is stuck. */
export const BGP_STATUS_TIMEOUT_MS = 3000;

/**
 * Asks bgpd for its sessions through the vty socket in the agent's FRR run
 * directory (`-d bgpd`: no other daemon is asked). Resolves with null when
 * bgpd does not answer: not running (vtysh exits 1, "failed to connect to
 * any daemons"), stuck (killed after BGP_STATUS_TIMEOUT_MS) or not to be
 * started at all. Rejects only with BgpStatusParseError, for an answer that
 * is not its JSON.
 */
export async function readBgpStatus(host: Host, config: AgentConfig): Promise<ObservedBgpPeer[] | null> {
  const argv = [config.commands.vtysh, '--vty_socket', fileLayoutOf(config).frr.dir, '-d', 'bgpd', '-c', 'show bgp neighbors json'];
  let stdout: string;
  try {
    stdout = (await host.exec(argv, { timeoutMs: BGP_STATUS_TIMEOUT_MS })).stdout;
  } catch (error) {
    if (error instanceof ExecError) return null;
    throw error;
  }
  return parseBgpNeighbors(stdout);
}

/**
 * bgpd's sessions and the default route BGP gave the kernel, from `routes`
 * (the kernel's IPv6 default routes, as readNetwork reads them). Never
 * rejects for a bgpd that does not answer: that is `isBgpdAnswering: false`.
 */
export async function readBgp(host: Host, config: AgentConfig, routes: readonly ObservedRoute[]): Promise<ObservedBgp> {
  const peers = await readBgpStatus(host, config);
  return { isBgpdAnswering: peers !== null, peers: peers ?? [], defaultRoute: selectBgpDefaultRoute(routes) };
}
