import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canRunLab } from './lab-guard.js';
import { waitFor } from './netns.js';
import { startFrrPeer, type FrrPeer } from './frr-peer.js';
import {
  createPairLab,
  killEverythingIn,
  PAIR_IF,
  PAIR_NS,
  PAIR_PUBLIC_ADDRESS,
  PAIR_PUBLIC_VIP,
  PAIR_UPSTREAM,
  readPairStatus,
  setGuestPort,
  setPublicPort,
  startGuestPing,
  startPairAgent,
  startPing,
  waitForPrimary,
  type LabPing,
  type PairLab,
  type VrName,
} from './pair-lab.js';

/**
 * BGP in a redundant pair, asserted at a real upstream FRR that peers with
 * both VRs from their own addresses: only the primary announces (the backup's
 * session is up, with nothing received from it), and each way the primary can
 * fail moves the announcement to the new primary; preemption moves it back.
 * Each failover prints how long the upstream took to hold the new primary's
 * path alone and the longest ping gaps (the guest to the upstream, the
 * upstream to a routed prefix behind the guest), without BFD and, for the
 * cut public link it alone changes, with it.
 */

const describeLab = canRunLab(['ip', 'nft', 'radvd', 'ping', 'keepalived', 'vtysh', '/usr/lib/frr/zebra', '/usr/lib/frr/bgpd', '/usr/lib/frr/bfdd']) ? describe : describe.skip;

const VR_AS = 65001;
const UPSTREAM_AS = 65000;
const BLOCK = '2001:db8:200::/48';
const HOLD_SECONDS = 9;
const BFD_MS = 100;
const START_MS = 60_000;
// A silent link without BFD costs the upstream's hold time; the machine is shared.
const MOVE_MS = (HOLD_SECONDS + 10) * 1000;
// RFC 4291 §2.5.6: the EUI-64 link-local address of the virtual MAC 00:00:5e:00:02:33 (VRRP id 51).
const PAIR_PUBLIC_LINK_LOCAL = 'fe80::200:5eff:fe00:233';
// The guest's longest ping gap on a failover: VRRP's takeover at a 0.1 s interval, with room for a shared machine.
const GAP_MS = 1500;
// The longest ping gap on failback by preemption: the two BGP updates, one after the other.
const FAILBACK_GAP_MS = 500;
// A routed prefix inside the block (which alone is announced), whose next hop is the guest: it holds an address of it on lo.
const ROUTED = '2001:db8:200:100::/56';
const ROUTED_HOST = '2001:db8:200:100::1';
const ROUTED_NEXT_HOP = '2001:db8:200:1::50';
const ROUTER_ID: Record<VrName, string> = { vr1: '192.0.2.1', vr2: '192.0.2.2' };

function routing(hasBfd: boolean) {
  return (vr: VrName) => ({
    protocol: 'bgp',
    bgp: {
      localAs: VR_AS,
      routerId: ROUTER_ID[vr],
      peers: [
        {
          address: PAIR_UPSTREAM,
          remoteAs: UPSTREAM_AS,
          holdTimeSeconds: HOLD_SECONDS,
          ...(hasBfd ? { bfd: { receiveIntervalMs: BFD_MS, transmitIntervalMs: BFD_MS } } : {}),
        },
      ],
      announce: { aggregates: [BLOCK] },
    },
  });
}

describeLab.each([false, true])('BGP in a redundant pair, BFD %s', (hasBfd) => {
  let pair: PairLab;
  let peer: FrrPeer;
  let ping: LabPing;
  /** The upstream pinging the routed prefix: across the pair to the guest, its next hop. */
  let routedPing: LabPing;
  const label = hasBfd ? 'bfd' : 'no bfd';

  /** The VRs the upstream holds a path for the block from, by their session's address. */
  async function announcers(): Promise<string[]> {
    return ((await peer.bgpRoutes()).get(BLOCK)?.paths ?? []).map((p) => p.peerId);
  }

  /** Waits until the upstream's only path for the block is `vr`'s; returns the ms since `sinceMs`. */
  async function waitForAnnouncer(vr: VrName, sinceMs: number): Promise<number> {
    const isOnly = async (note: (observation: unknown) => void) => {
      const paths = await announcers();
      note(paths);
      return paths.length === 1 && paths[0] === PAIR_PUBLIC_ADDRESS[vr];
    };
    await waitFor(isOnly, { timeoutMs: MOVE_MS, what: `the upstream's only path to be ${vr}'s`, intervalMs: 20 });
    return Date.now() - sinceMs;
  }

  async function waitForFlow(): Promise<void> {
    await waitFor(async () => ping.repliesAfter(Date.now() - 300) > 5 || undefined, { timeoutMs: MOVE_MS, what: 'the guest pings to flow again' });
    await waitFor(async () => routedPing.repliesAfter(Date.now() - 300) > 5 || undefined, { timeoutMs: MOVE_MS, what: 'the pings to the routed prefix to flow again' });
  }

  /** Waits until the upstream's sessions with both VRs are up, and with BFD their BFD sessions too. */
  async function waitForSessions(): Promise<void> {
    for (const vr of ['vr1', 'vr2'] as const) await peer.waitForNeighborState(PAIR_PUBLIC_ADDRESS[vr], 'Established', START_MS);
    if (!hasBfd) return;
    await waitFor(
      async () => {
        const sessions = JSON.parse(await peer.vtysh(['-c', 'show bfd peers json'])) as { peer: string; status: string }[];
        return Object.values(PAIR_PUBLIC_ADDRESS).every((address) => sessions.some((s) => s.peer === address && s.status === 'up')) || undefined;
      },
      { timeoutMs: START_MS, what: 'the upstream’s BFD sessions with both VRs to be up' },
    );
  }

  /** Fails vr1 with `fail`, measures the move to vr2, restores with `restore`, measures the move back. */
  async function failAndBack(name: string, fail: () => Promise<void>, restore: () => Promise<void>): Promise<void> {
    await waitForSessions();
    const failedAt = Date.now();
    await fail();
    const routeMs = await waitForAnnouncer('vr2', failedAt);
    await waitForFlow();
    const gapMs = ping.longestGapMs(failedAt, Date.now());
    const routedGapMs = routedPing.longestGapMs(failedAt, Date.now());
    const backAt = Date.now();
    await restore();
    await waitForPrimary(pair, 'vr1', START_MS);
    const backRouteMs = await waitForAnnouncer('vr1', backAt);
    await waitForFlow();
    const backGapMs = ping.longestGapMs(backAt, Date.now());
    const backRoutedGapMs = routedPing.longestGapMs(backAt, Date.now());
    console.log(
      `pair-bgp ${label} ${name}: route from the new primary after ${routeMs} ms, guest gap ${gapMs} ms, routed-prefix gap ${routedGapMs} ms; ` +
        `failback route ${backRouteMs} ms, gap ${backGapMs} ms, routed-prefix gap ${backRoutedGapMs} ms`,
    );
    expect(gapMs).toBeLessThan(GAP_MS);
    expect(routedGapMs).toBeLessThan(GAP_MS);
    // The returning VR's session is up before it preempts: the upstream learns its path as the other withdraws.
    expect(Math.max(backGapMs, backRoutedGapMs)).toBeLessThan(FAILBACK_GAP_MS);
  }

  beforeAll(async () => {
    pair = await createPairLab({ routing: routing(hasBfd), routedPrefixes: [{ prefix: ROUTED, nextHop: ROUTED_NEXT_HOP }] });
    await pair.lab.exec(PAIR_NS.guest, ['ip', '-6', 'addr', 'add', `${ROUTED_NEXT_HOP}/64`, 'dev', PAIR_IF.guestNic, 'nodad']);
    await pair.lab.exec(PAIR_NS.guest, ['ip', '-6', 'addr', 'add', `${ROUTED_HOST}/128`, 'dev', 'lo']);
    await startPairAgent(pair, 'vr1');
    await startPairAgent(pair, 'vr2');
    peer = await startFrrPeer(pair.lab, PAIR_NS.upstream, {
      localAs: UPSTREAM_AS,
      routerId: '192.0.2.254',
      neighbors: (['vr1', 'vr2'] as const).map((vr) => ({ address: PAIR_PUBLIC_ADDRESS[vr], remoteAs: VR_AS, ...(hasBfd ? { bfdIntervalMs: BFD_MS } : {}) })),
    });
    await waitForPrimary(pair, 'vr1', START_MS);
    await waitForAnnouncer('vr1', Date.now());
    // ping gives up at once while its destination has no route.
    await peer.waitForRoute(BLOCK, true, START_MS);
    ping = await startGuestPing(pair);
    routedPing = await startPing(pair, PAIR_NS.upstream, ROUTED_HOST);
    await waitForFlow();
  }, 120_000);

  afterAll(async () => pair?.lab.cleanup(), 60_000);

  it('has only the primary’s announcement, with the backup’s session up and nothing received from it', async () => {
    for (const vr of ['vr1', 'vr2'] as const) await peer.waitForNeighborState(PAIR_PUBLIC_ADDRESS[vr], 'Established', START_MS);
    const paths = (await peer.bgpRoutes()).get(BLOCK)!.paths;
    expect(paths.map((p) => p.peerId)).toEqual([PAIR_PUBLIC_ADDRESS.vr1]);
    // The pair's addresses, not vr1's own: whoever is primary answers for them.
    expect(paths[0]!.nextHops).toEqual([
      { ip: PAIR_PUBLIC_VIP, scope: 'global' },
      { ip: PAIR_PUBLIC_LINK_LOCAL, scope: 'link-local' },
    ]);
    expect((await peer.kernelRoutes()).filter((r) => r.prefix === BLOCK)).toEqual([{ prefix: BLOCK, gateways: [PAIR_PUBLIC_LINK_LOCAL], devices: ['up0'] }]);
    // bgpd runs the rendered policy as rendered: the agents' next reconciles change nothing.
    for (const vr of ['vr1', 'vr2'] as const) {
      const converged = async () => {
        const status = await readPairStatus(pair, vr);
        return status.applied?.isConverged === true ? status : undefined;
      };
      const status = await waitFor(converged, { timeoutMs: 15_000, what: `${vr}'s agent to converge` });
      expect(status.applied).toMatchObject({ errors: [], remaining: [] });
      expect(status.applied.components.frr?.steps ?? 0).toBe(0);
    }
    // The routed prefix's route is on the guest link in both VRs, onlink: the /64 is only on the primary's virtual-MAC interface.
    for (const vr of ['vr1', 'vr2'] as const) {
      const routes = JSON.parse((await pair.lab.exec(vr, ['ip', '-6', '-j', 'route', 'show', ROUTED])).stdout) as Record<string, unknown>[];
      expect(routes).toMatchObject([{ dst: ROUTED, gateway: ROUTED_NEXT_HOP, dev: PAIR_IF.guest, flags: ['onlink'] }]);
    }
    const backup = (await peer.neighbor(PAIR_PUBLIC_ADDRESS.vr2)).raw;
    expect(backup.addressFamilyInfo?.ipv6Unicast?.acceptedPrefixCounter).toBe(0);
  }, 90_000);

  // Each way the primary fails, and its undoing. BFD changes only the cut link, which the upstream cannot
  // see: a dead bgpd's TCP connection ends at once, and a lost gateway is withdrawn.
  const failures = [
    {
      name: 'sigkill',
      what: 'every process of the primary is SIGKILLed',
      fail: async () => void (await killEverythingIn(pair, 'vr1')),
      restore: async () => void (await startPairAgent(pair, 'vr1')),
      isCut: false,
    },
    { name: 'guest-link-down', what: 'the primary loses its guest link', fail: () => setGuestPort(pair, 'vr1', false), restore: () => setGuestPort(pair, 'vr1', true), isCut: false },
    { name: 'public-link-cut', what: 'the primary’s public link is cut', fail: () => setPublicPort(pair, 'vr1', false), restore: () => setPublicPort(pair, 'vr1', true), isCut: true },
  ];
  for (const failure of failures.filter((f) => f.isCut || !hasBfd)) {
    it(`moves the announcement when ${failure.what}, and back by preemption`, () => failAndBack(failure.name, failure.fail, failure.restore), 120_000);
  }
});
