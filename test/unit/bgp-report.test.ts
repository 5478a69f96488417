import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { ObservedBgp, ObservedBgpPeer } from '../../src/model/observed.js';
import { renderBgpReport } from '../../src/observe/bgp-report.js';
import { parseBgpNeighbors } from '../../src/observe/bgp-status.js';
import { observedReportKey, renderObservedReport } from '../../src/observe/public-address.js';
import { DesiredState } from '../../src/schema/desired-state.js';
import { ObservedMessage } from '../../src/schema/protocol.js';
import { bgpInput, isolatedInput } from '../support/states.js';

/** The `bgp` part of the observed report, from the desired peers and what bgpd said of them. */

const UP = '2001:db8:ff::1';
const REFUSED = '2001:db8:fe::1';

// The lab's two peers, as in the fixtures: UP on the public link with a description, REFUSED two hops away.
function twoPeerState(): DesiredState {
  const input = bgpInput();
  input.public.expectedPrefix = '2001:db8:ff::/64';
  input.routing.bgp.peers = [
    { address: UP, remoteAs: 65000, description: 'upstream-a', accept: 'default-route' },
    { address: REFUSED, remoteAs: 65009, multihopTtl: 2 },
  ];
  return DesiredState.parse(input);
}

const fixturePeers = (name: string) => parseBgpNeighbors(readFileSync(`test/fixtures/${name}`, 'utf8'));
const observed = (peers: readonly ObservedBgpPeer[], defaultRoute: ObservedBgp['defaultRoute'] = null): ObservedBgp => ({ isBgpdAnswering: true, peers, defaultRoute });

describe('renderBgpReport', () => {
  it('is null unless routing is BGP', () => {
    expect(renderBgpReport(DesiredState.parse(isolatedInput()), observed([]), null)).toBeNull();
  });

  it('reports each desired peer in its order, with its description, from real answers of bgpd', () => {
    const route = { gateway: 'fe80::dcf7:f7ff:feab:3ec9', interface: 'eth1' };
    expect(renderBgpReport(twoPeerState(), observed(fixturePeers('frr-show-bgp-neighbors-established.json'), route), null)).toEqual({
      isBgpdAnswering: true,
      peers: [
        // Up and never down: bgpd's "Waiting for peer OPEN" is how it came up, not an error.
        { address: UP, description: 'upstream-a', state: 'Established', upSinceEpochSeconds: 1796315752, prefixesReceived: 1, prefixesSent: 2, resets: 0, lastError: null },
        { address: REFUSED, description: null, state: 'Idle', upSinceEpochSeconds: null, prefixesReceived: null, prefixesSent: null, resets: 0, lastError: 'OPEN Message Error/Bad Peer AS (sent)' },
      ],
      defaultRouteInKernel: true,
      defaultRouteGateway: 'fe80::dcf7:f7ff:feab:3ec9',
    });
  });

  it('keeps the reason of the last drop once the session is up again, though bgpd may have replaced it', () => {
    const [, down] = fixturePeers('frr-show-bgp-neighbors-down.json');
    const shutdown = 'Cease/Administrative Shutdown (received): planned maintenance';
    const whileDown = renderBgpReport(twoPeerState(), observed([down!]), null);
    expect(whileDown!.peers[0]).toMatchObject({ state: 'Active', resets: 1, lastError: shutdown });
    const up = { ...down!, state: 'Established', upSinceEpochSeconds: 1796315774, prefixesReceived: 1, prefixesSent: 1 };
    // As measured when the peer opened the new connection: bgpd's reason is the new connection's, the NOTIFICATION gone.
    const replaced = { ...up, lastReset: 'No AFI/SAFI activated for peer', lastNotification: null };
    const again = renderBgpReport(twoPeerState(), observed([replaced]), whileDown);
    expect(again!.peers[0]).toMatchObject({ state: 'Established', resets: 1, lastError: shutdown });
    expect(renderBgpReport(twoPeerState(), observed([replaced]), again)!.peers[0]!.lastError).toBe(shutdown);
    // Where bgpd kept it (the VR opened the connection), it is known without a memory too.
    expect(renderBgpReport(twoPeerState(), observed([up]), null)!.peers[0]!.lastError).toBe(shutdown);
    // Without either, or after another drop between two reads, the reason is unknown rather than an older one.
    expect(renderBgpReport(twoPeerState(), observed([replaced]), null)!.peers[0]!.lastError).toBeNull();
    expect(renderBgpReport(twoPeerState(), observed([{ ...replaced, connectionsDropped: 2 }]), again)!.peers[0]!.lastError).toBeNull();
  });

  it('falls back on the reset reason without a NOTIFICATION, and knows nothing of a peer bgpd does not report', () => {
    const waiting: ObservedBgpPeer = { ...fixturePeers('frr-show-bgp-neighbors-down.json')[1]!, lastReset: 'Waiting for NHT', lastNotification: null, connectionsDropped: 2 };
    const report = renderBgpReport(twoPeerState(), observed([waiting]), null)!;
    expect(report.peers[0]).toMatchObject({ state: 'Active', resets: 2, lastError: 'Waiting for NHT' });
    expect(report.peers[1]).toEqual({ address: REFUSED, description: null, state: null, upSinceEpochSeconds: null, prefixesReceived: null, prefixesSent: null, resets: null, lastError: null });
    expect(report).toMatchObject({ defaultRouteInKernel: false, defaultRouteGateway: null });
  });

  it('says when bgpd does not answer: every session unknown', () => {
    const report = renderBgpReport(twoPeerState(), { isBgpdAnswering: false, peers: [], defaultRoute: null }, null)!;
    expect(report.isBgpdAnswering).toBe(false);
    expect(report.peers.map((peer) => [peer.address, peer.state, peer.resets])).toEqual([[UP, null, null], [REFUSED, null, null]]);
  });
});

describe('the up-since of a session across polls', () => {
  const state = twoPeerState();
  const [, up] = fixturePeers('frr-show-bgp-neighbors-established.json');
  const at = (upSince: number, changes: Partial<ObservedBgpPeer> = {}) => observed([{ ...up!, upSinceEpochSeconds: upSince, ...changes }]);
  const poll = (previous: ReturnType<typeof renderBgpReport>, now: ObservedBgp) => renderBgpReport(state, now, previous)!.peers[0]!.upSinceEpochSeconds;

  it('stays as first reported while bgpd wavers by a second on the same session', () => {
    const first = renderBgpReport(state, at(1000), null);
    expect(poll(first, at(1001))).toBe(1000);
    expect(poll(first, at(999))).toBe(1000);
  });

  it('moves for a new session: after a drop, or when it moved by more than the waver', () => {
    const first = renderBgpReport(state, at(1000), null);
    expect(poll(first, at(1001, { connectionsDropped: 1 }))).toBe(1001);
    expect(poll(first, at(1030))).toBe(1030);
    const down = renderBgpReport(state, at(0, { state: 'Active', upSinceEpochSeconds: null }), null);
    expect(poll(down, at(1001))).toBe(1001);
  });

  it('leaves the change key of the whole observed report alone from poll to poll', () => {
    const report = (bgp: ReturnType<typeof renderBgpReport>) => renderObservedReport(state, [], [], [], new Map(), bgp);
    let previous = renderBgpReport(state, at(1000), null);
    const key = observedReportKey(report(previous));
    for (const upSince of [1001, 1000, 1001, 1001, 1000]) {
      previous = renderBgpReport(state, at(upSince), previous);
      expect(observedReportKey(report(previous))).toBe(key);
    }
    expect(observedReportKey(report(renderBgpReport(state, at(1001, { prefixesReceived: 0 }), previous)))).not.toBe(key);
  });
});

describe('the observed report with BGP', () => {
  it('carries the BGP report, warns while bgpd does not answer, and is a valid protocol message', () => {
    const state = twoPeerState();
    const silent = renderBgpReport(state, { isBgpdAnswering: false, peers: [], defaultRoute: null }, null);
    const message = renderObservedReport(state, [], [], [], new Map(), silent);
    expect(message.bgp).toBe(silent);
    expect(message.warnings).toContain('bgpd is not answering: no BGP session is known');
    expect(ObservedMessage.safeParse(message).success).toBe(true);
    const static_ = renderObservedReport(DesiredState.parse(isolatedInput()), [], [], []);
    expect(static_.bgp).toBeNull();
    expect(ObservedMessage.safeParse(static_).success).toBe(true);
  });
});
