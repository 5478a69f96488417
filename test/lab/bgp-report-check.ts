import { expect } from 'vitest';
import type { BgpPeerReport, BgpReport } from '../../src/schema/protocol.js';
import type { PeerNeighbor } from './frr-peer.js';

/**
 * Checks of the agent's BGP report against the other side of each fact: a
 * real peer's own view of the session (its `show bgp neighbors <VR> json`,
 * FrrPeer.neighbor) and the VR's kernel. For any lab test that runs the
 * agent against a FrrPeer; both run on one machine, so one clock.
 */

// Each side's up-since epoch wavers by a second between reads (docs/field-notes.md#frr).
const UP_SINCE_SLACK_SECONDS = 2;

/**
 * The VR's report of one peer agrees with the peer's view of the VR: both
 * Established or neither; then the session came up at the same second, the
 * VR sent what the peer accepted (the lab's peers accept everything: route-map
 * ANY), and the VR accepted no more than the peer sent; and a NOTIFICATION
 * the VR names is the one the peer names, when the peer names one.
 */
export function expectReportAgreesWithPeer(report: BgpPeerReport, neighbor: PeerNeighbor): void {
  const peerView = neighbor.raw;
  const isUp = peerView.bgpState === 'Established';
  expect(report.state === 'Established', `VR says ${report.state}, the peer says ${peerView.bgpState}`).toBe(isUp);
  if (isUp) {
    const unicast = peerView.addressFamilyInfo?.ipv6Unicast ?? {};
    expect(Math.abs(report.upSinceEpochSeconds! - peerView.bgpTimerUpEstablishedEpoch), 'the up-since of both sides').toBeLessThanOrEqual(UP_SINCE_SLACK_SECONDS);
    expect(report.prefixesSent, 'what the VR sent, as the peer accepted it').toBe(unicast.acceptedPrefixCounter);
    expect(report.prefixesReceived!, 'what the VR accepted, at most what the peer sent').toBeLessThanOrEqual(unicast.sentPrefixCounter);
  } else {
    expect([report.upSinceEpochSeconds, report.prefixesReceived, report.prefixesSent]).toEqual([null, null, null]);
  }
  const peerNotification: unknown = peerView.lastNotificationReason;
  if (typeof peerNotification === 'string' && report.lastError?.includes('(')) expect(report.lastError.startsWith(`${peerNotification} (`)).toBe(true);
}

/** The report's default route is the kernel's BGP default route: `ip -6 route show default proto bgp` on the VR. */
export function expectDefaultRouteAgreesWithKernel(report: BgpReport, kernelRoutes: string): void {
  const gateway = /^default .*?via (\S+)/m.exec(kernelRoutes)?.[1] ?? null;
  expect(report.defaultRouteInKernel, `the kernel has ${kernelRoutes.trim() || 'no BGP default route'}`).toBe(kernelRoutes.trim() !== '');
  if (report.defaultRouteInKernel) expect(report.defaultRouteGateway).toBe(gateway);
}
