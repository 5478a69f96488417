import { existsSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canRunLab } from './lab-guard.js';
import { isPidAlive, md5Failures, waitFor, type Lab } from './netns.js';
import { startFrrPeer, type FrrNeighbor, type FrrPeer } from './frr-peer.js';
import { createTopology, FAR_GATEWAY, FAR_HOST, FAR_LINK, INTERNET_HOST, NS, OPTIONAL_IF, OPTIONAL_NS } from './topology.js';

/**
 * The lab's BGP peer, proved without the agent: one FRR instance in the
 * upstream namespace and one in the far host, peered eBGP multihop with
 * TCP-MD5 from the upstream's loopback address, which the far host reaches
 * only by its default route; then from a listen range. Asserted in each
 * other's BGP table and kernel, and in the kernels' own TCP-MD5 counters.
 */

const TOOLS = ['ip', 'vtysh', '/usr/lib/frr/zebra', '/usr/lib/frr/bgpd'];
const describeLab = canRunLab(TOOLS) ? describe : describe.skip;

const UP_AS = 65000;
const FAR_AS = 65002;
const KEY = 'lab-md5-key';
const UP_PREFIX = '2001:db8:f100::/48';
const FAR_PREFIX = '2001:db8:f200::/48';
const LATE_PREFIX = '2001:db8:f101::/48';

// The upstream speaks BGP from its loopback address, as routers do for multihop sessions; far reaches it only by its default route.
const UP_LOOPBACK = INTERNET_HOST;
const upToFar: FrrNeighbor = { address: FAR_HOST, remoteAs: FAR_AS, password: KEY, multihopTtl: 3, updateSource: UP_LOOPBACK };
const farToUp: FrrNeighbor = { address: UP_LOOPBACK, remoteAs: UP_AS, password: KEY, multihopTtl: 3 };

describeLab('the lab’s FRR peer', () => {
  let lab: Lab;
  let up: FrrPeer;
  let far: FrrPeer;
  const every: FrrPeer[] = [];
  const namespaces = [NS.upstream, OPTIONAL_NS.far];
  const rejectedAttempts = async (atLeast: number) => {
    const from = await md5Failures(lab, namespaces);
    await waitFor(async () => (await md5Failures(lab, namespaces)) - from >= atLeast, { timeoutMs: 10_000, what: `${atLeast} segments dropped for a bad TCP-MD5 digest` });
  };

  beforeAll(async () => {
    lab = (await createTopology({ farHost: true, guests: false, upstreamRadvd: false })).lab;
  });

  afterAll(async () => lab?.cleanup());

  it('peers multihop through the upstream, and each side installs the other’s prefix with the right next hop', async () => {
    const startedAt = Date.now();
    up = await startFrrPeer(lab, NS.upstream, { localAs: UP_AS, routerId: '192.0.2.1', neighbors: [upToFar], prefixes: [UP_PREFIX] });
    far = await startFrrPeer(lab, OPTIONAL_NS.far, { localAs: FAR_AS, routerId: '192.0.2.2', neighbors: [farToUp], prefixes: [FAR_PREFIX] });
    every.push(up, far);
    await far.waitForNeighborState(UP_LOOPBACK, 'Established', 15_000);
    const establishedMs = Date.now() - startedAt;
    const installedMs = await far.waitForRoute(UP_PREFIX, true, 10_000, { where: 'bgp', nextHop: UP_LOOPBACK });
    await up.waitForRoute(FAR_PREFIX, true, 10_000, { where: 'bgp', nextHop: FAR_HOST });
    await far.waitForRoute(UP_PREFIX, true, 10_000);
    await up.waitForRoute(FAR_PREFIX, true, 10_000, { nextHop: FAR_HOST });
    console.log(`frr-peer: both started and Established in ${establishedMs} ms; the prefix in the other's table ${installedMs} ms later`);
    // The next hop is the upstream's loopback alone (no link-local: it is on no link), which far's
    // zebra resolves through the default route, so the kernel route goes by the far link's gateway.
    expect((await far.bgpRoutes()).get(UP_PREFIX)?.nextHops).toEqual([UP_LOOPBACK]);
    expect((await far.kernelRoutes()).find((r) => r.prefix === UP_PREFIX)).toEqual({ prefix: UP_PREFIX, gateways: [FAR_GATEWAY], devices: [OPTIONAL_IF.far] });
    expect((await up.kernelRoutes()).find((r) => r.prefix === FAR_PREFIX)).toEqual({ prefix: FAR_PREFIX, gateways: [FAR_HOST], devices: [OPTIONAL_IF.upstreamFar] });
    const path = (await far.bgpRoutes()).get(UP_PREFIX)?.paths.find((p) => p.isBest);
    expect(path?.asPath).toBe(String(UP_AS));
    expect(path?.peerId).toBe(UP_LOOPBACK);
    // A peer's table holds what it originates and what it learned, nothing else.
    expect([...(await up.bgpRoutes()).keys()].sort()).toEqual([UP_PREFIX, FAR_PREFIX].sort());
  });

  it('runs each daemon by the PID the lab holds, named in its pid file', () => {
    for (const peer of [up, far]) {
      expect(peer.processes.map((p) => basename(p.argv[4] ?? ''))).toEqual(['zebra', 'bgpd']);
      for (const proc of peer.processes) expect(Number(readFileSync(join(peer.dir, `${basename(proc.argv[4] ?? '')}.pid`), 'utf8'))).toBe(proc.pid);
    }
  });

  it('announces and withdraws live, and the other side’s table and kernel follow', async () => {
    const startedAt = Date.now();
    await up.announce(LATE_PREFIX);
    await far.waitForRoute(LATE_PREFIX, true, 10_000);
    const announcedMs = Date.now() - startedAt;
    const withdrawnAt = Date.now();
    await up.withdraw(LATE_PREFIX);
    await far.waitForRoute(LATE_PREFIX, false, 10_000);
    const withdrawnMs = Date.now() - withdrawnAt;
    await far.waitForRoute(LATE_PREFIX, false, 1000, { where: 'bgp' });
    console.log(`frr-peer: announce to installed in the other's kernel ${announcedMs} ms; withdraw to removed ${withdrawnMs} ms`);
    expect((await far.bgpRoutes()).has(LATE_PREFIX)).toBe(false);
    expect((await up.kernelRoutes()).map((r) => r.prefix)).toEqual([FAR_PREFIX]);
  });

  it('keeps the session down with the wrong TCP-MD5 key, and up again with the right one', async () => {
    const before = await up.neighbor(FAR_HOST);
    expect(before.bgpState).toBe('Established');
    await far.setNeighbor({ ...farToUp, password: 'not-the-key' });
    await far.waitForRoute(UP_PREFIX, false, 15_000);
    // Connection attempts, each refused by the other side's kernel.
    await rejectedAttempts(2);
    const [atUp, atFar] = [await up.neighbor(FAR_HOST), await far.neighbor(UP_LOOPBACK)];
    console.log(`frr-peer: wrong key: upstream sees ${JSON.stringify({ ...atUp, raw: undefined })}; far sees ${JSON.stringify({ ...atFar, raw: undefined })}`);
    expect(atUp.bgpState).not.toBe('Established');
    expect(atFar.bgpState).not.toBe('Established');
    // The last reset is the key change itself (a Cease); the refused connections leave no trace in BGP.
    expect(atFar.lastNotificationReason).toBe('Cease/Other Configuration Change');
    expect(atUp.lastResetDueTo).toBe('BGP Notification received');
    expect(atUp.connectionsEstablished).toBe(before.connectionsEstablished);
    expect(atUp.connectionsDropped).toBe((before.connectionsDropped ?? 0) + 1);
    expect((await far.bgpRoutes()).has(UP_PREFIX)).toBe(false);
    await far.setNeighbor(farToUp);
    const backMs = await far.waitForNeighborState(UP_LOOPBACK, 'Established', 15_000);
    console.log(`frr-peer: the right key again: Established in ${backMs} ms`);
    await far.waitForRoute(UP_PREFIX, true, 10_000);
    expect((await up.neighbor(FAR_HOST)).connectionsEstablished).toBe((before.connectionsEstablished ?? 0) + 1);
  });

  it('takes a neighbour from a listen range, with TCP-MD5, and refuses it a wrong key', async () => {
    await up.stop();
    expect(up.processes.every((p) => !isPidAlive(p.pid))).toBe(true);
    up = await startFrrPeer(lab, NS.upstream, {
      localAs: UP_AS,
      routerId: '192.0.2.1',
      neighbors: [],
      listenRange: { prefix: FAR_LINK, remoteAs: FAR_AS, password: KEY },
      prefixes: [UP_PREFIX],
      originateDefault: true,
    });
    every.push(up);
    await far.removeNeighbor(UP_LOOPBACK);
    const startedAt = Date.now();
    await far.setNeighbor({ address: FAR_GATEWAY, remoteAs: UP_AS, password: KEY });
    await far.waitForNeighborState(FAR_GATEWAY, 'Established', 15_000);
    console.log(`frr-peer: listen range with TCP-MD5: Established ${Date.now() - startedAt} ms after the far side was told`);
    await far.waitForRoute(UP_PREFIX, true, 10_000, { where: 'bgp', nextHop: FAR_GATEWAY });
    await far.waitForRoute('::/0', true, 10_000, { where: 'bgp', nextHop: FAR_GATEWAY });
    const dynamic = await up.neighbor(FAR_HOST);
    expect(dynamic.bgpState).toBe('Established');
    expect(dynamic.raw.peerSubnetRangeGroup).toBe(FAR_LINK);
    await far.setNeighbor({ address: FAR_GATEWAY, remoteAs: UP_AS, password: 'not-the-key' });
    await far.waitForRoute(UP_PREFIX, false, 15_000, { where: 'bgp' });
    await rejectedAttempts(2);
    expect((await far.neighbor(FAR_GATEWAY)).bgpState).not.toBe('Established');
  });

  it('leaves no process, namespace or file behind', async () => {
    const pids = every.flatMap((peer) => peer.processes.map((p) => p.pid));
    expect(pids).toHaveLength(6);
    await lab.cleanup();
    expect(pids.filter(isPidAlive)).toEqual([]);
    expect(lab.listOwnNamespaces()).toEqual([]);
    expect(existsSync(lab.tempDir)).toBe(false);
  });
});
