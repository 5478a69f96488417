import type { DesiredState } from '../schema/desired-state.js';
import type { BgpPeerReport, BgpReport } from '../schema/protocol.js';
import type { ObservedBgp, ObservedBgpPeer } from '../model/observed.js';

/**
 * The `bgp` part of the observed report: one entry per peer of the desired
 * state, with what bgpd says of its session, and the default route BGP put
 * in the kernel. Pure; the agent reads bgpd and the kernel.
 */

// bgpd derives the up-since epoch from the wall clock and the monotonic one at each read, truncating both
// to seconds, so two reads of one session differ by a second (docs/field-notes.md#frr).
const UP_SINCE_WAVER_SECONDS = 1;

/**
 * The report for `state`, or null when its routing is not BGP. `previous`,
 * the last report, is the memory bgpd lacks. It keeps each session's
 * up-since as it was first reported: a session is the same while it stays
 * Established with the same count of drops (bgpd counts every end of an
 * established session), and then a reading a second off is the same
 * instant read again, not news. And it keeps the error a session went down
 * with once the session is up again, which bgpd may not (lastErrorOf).
 */
export function renderBgpReport(state: DesiredState, observed: ObservedBgp, previous: BgpReport | null): BgpReport | null {
  const bgp = state.routing.bgp;
  if (state.routing.protocol !== 'bgp' || bgp === undefined) return null;
  const byAddress = new Map(observed.peers.map((peer) => [peer.address, peer]));
  const before = new Map((previous?.peers ?? []).map((peer) => [peer.address, peer]));
  const peers = bgp.peers.map((peer): BgpPeerReport => {
    const session = byAddress.get(peer.address);
    const last = before.get(peer.address);
    const report = session === undefined ? unreportedPeer(peer.address) : reportPeer(session, last);
    return { ...report, description: peer.description ?? null, upSinceEpochSeconds: steadyUpSince(report, last) };
  });
  return {
    isBgpdAnswering: observed.isBgpdAnswering,
    peers,
    defaultRouteInKernel: observed.defaultRoute !== null,
    defaultRouteGateway: observed.defaultRoute?.gateway ?? null,
  };
}

function reportPeer(peer: ObservedBgpPeer, before: BgpPeerReport | undefined): BgpPeerReport {
  return {
    address: peer.address,
    description: null,
    state: peer.state,
    upSinceEpochSeconds: peer.upSinceEpochSeconds,
    prefixesReceived: peer.prefixesReceived,
    prefixesSent: peer.prefixesSent,
    resets: peer.connectionsDropped,
    lastError: lastErrorOf(peer, before),
  };
}

/**
 * Why the session is down, or why it last went down. bgpd's reset reason
 * says it while the session is down; once it is up again, bgpd may have
 * replaced it with how the new connection came up ("No AFI/SAFI activated
 * for peer", "Waiting for peer OPEN"; docs/field-notes.md#frr), so an
 * Established session keeps the error last reported with the same count of
 * drops, or else has only a NOTIFICATION bgpd still shows (it shows one only
 * while its last reset was that NOTIFICATION).
 */
function lastErrorOf(peer: ObservedBgpPeer, before: BgpPeerReport | undefined): string | null {
  if (peer.state !== 'Established') return peer.lastNotification ?? peer.lastReset;
  if (peer.connectionsDropped === 0) return null;
  if (before?.resets === peer.connectionsDropped && before.lastError !== null) return before.lastError;
  return peer.lastNotification;
}

// bgpd does not answer, or has no such neighbour (yet): nothing is known of the session.
function unreportedPeer(address: string): BgpPeerReport {
  return { address, description: null, state: null, upSinceEpochSeconds: null, prefixesReceived: null, prefixesSent: null, resets: null, lastError: null };
}

function steadyUpSince(now: BgpPeerReport, before: BgpPeerReport | undefined): number | null {
  const [upNow, upBefore] = [now.upSinceEpochSeconds, before?.upSinceEpochSeconds ?? null];
  if (upNow === null || upBefore === null || before?.state !== 'Established' || before.resets !== now.resets) return upNow;
  return Math.abs(upNow - upBefore) <= UP_SINCE_WAVER_SECONDS ? upBefore : upNow;
}
