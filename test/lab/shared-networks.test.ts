import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canRunLab } from './lab-guard.js';
import { addSourceCapture, probeEcho, readRuleCounters, readSourceCapture, removeSourceCapture } from './flow-probes.js';
import { ping, waitForSlaacAddress } from './probes.js';
import { RULESET_TABLE } from '../../src/model/ownership.js';
import { startFrrPeer, type FrrPeer } from './frr-peer.js';
import { GUEST_BLOCK, IF, NS, TIER1, UPSTREAM_ADDRESS } from './topology.js';
import { waitFor } from './netns.js';
import { labDesiredState, pushDesired, simEventCount, startAgent, startVrLab, waitForMessage, type VrLab } from './vr-lab.js';

/**
 * A shared network with a real upstream: the upstream router (FRR) is the
 * gateway of a link (a bridge in its namespace) where the VR and two
 * instances sit. The VR announces a routed /56 over BGP with instance A's
 * address as a third-party next hop (RFC 4271 §5.1.3); the upstream routes
 * it straight to A, and a move to B is one UPDATE with a new next hop.
 * Asserted in the upstream's BGP table and kernel, with the VR's forwarding
 * counter, and with 10 ms pings across the move.
 */

const TOOLS = ['ip', 'nft', 'radvd', 'ping', 'vtysh', '/usr/lib/frr/zebra', '/usr/lib/frr/bgpd'];
const describeLab = canRunLab(TOOLS) ? describe : describe.skip;

const VR_AS = 65001;
const UPSTREAM_AS = 65000;
/** The shared link: its /64, the upstream's address (the gateway), the VR's, and the VR's interface on it. */
const SHARED = { prefix: '2001:db8:500::/64', gateway: '2001:db8:500::1', vr: '2001:db8:500::2', vrInterface: 'eth9', bridge: 'sh0' } as const;
/** The routed /56 and the address inside it that both instances hold on lo. */
const ROUTED = '2001:db8:600::/56';
const TARGET = '2001:db8:600::1';
const INSTANCE = { a: { ns: 'sa', address: '2001:db8:500::a' }, b: { ns: 'sb', address: '2001:db8:500::b' } } as const;

/** The lab's state at schemaVersion 2 with BGP to the upstream on the shared link, and the /56 announced via `nextHop` (null: none). */
function sharedState(nextHop: string | null): Record<string, any> {
  const state = labDesiredState();
  state.schemaVersion = 2;
  state.routing = {
    protocol: 'bgp',
    bgp: {
      localAs: VR_AS,
      routerId: '192.0.2.1',
      // The same upstream on both links: the shared link's session gets the routed /56, the public one only the block.
      peers: [
        { address: SHARED.gateway, remoteAs: UPSTREAM_AS, description: 'upstream-shared', holdTimeSeconds: 9 },
        { address: UPSTREAM_ADDRESS, remoteAs: UPSTREAM_AS, description: 'upstream-public', holdTimeSeconds: 9 },
      ],
      announce: { aggregates: [GUEST_BLOCK] },
    },
  };
  state.sharedNetworks = [
    { id: 'shared-lab', interface: SHARED.vrInterface, prefix: SHARED.prefix, address: SHARED.vr, routedPrefixes: nextHop === null ? [] : [{ prefix: ROUTED, nextHop, description: 'lab /56' }] },
  ];
  return state;
}

/** The IPv6 datagrams a namespace's kernel has forwarded, and the echo requests it answered (RFC 4443 §4.1). */
async function snmp6(vrLab: VrLab, ns: string): Promise<{ forwarded: number; echoReplies: number }> {
  const text = (await vrLab.lab.exec(ns, ['cat', '/proc/net/snmp6'])).stdout;
  const field = (name: string) => Number(new RegExp(`^${name}\\s+(\\d+)$`, 'm').exec(text)?.[1] ?? 'NaN');
  return { forwarded: field('Ip6OutForwDatagrams'), echoReplies: field('Icmp6OutEchoReplies') };
}

/** Builds the shared link: a bridge in the upstream's namespace with its gateway address, the VR's eth9 and the two instances on it. */
async function addSharedLink(vrLab: VrLab): Promise<void> {
  const { lab } = vrLab;
  await lab.exec(NS.upstream, ['ip', 'link', 'add', SHARED.bridge, 'type', 'bridge', 'mcast_snooping', '0']);
  await lab.exec(NS.upstream, ['ip', '-6', 'addr', 'add', `${SHARED.gateway}/64`, 'dev', SHARED.bridge, 'nodad']);
  await lab.exec(NS.upstream, ['ip', 'link', 'set', SHARED.bridge, 'up']);
  await lab.addLink(NS.vr, SHARED.vrInterface, NS.upstream, 'shv');
  await lab.exec(NS.upstream, ['ip', 'link', 'set', 'shv', 'master', SHARED.bridge]);
  for (const [key, instance] of Object.entries(INSTANCE)) {
    await lab.addNamespace(instance.ns);
    await lab.addLink(NS.upstream, `sh${key}`, instance.ns, 'eth0');
    await lab.exec(NS.upstream, ['ip', 'link', 'set', `sh${key}`, 'master', SHARED.bridge]);
    await lab.exec(instance.ns, ['ip', '-6', 'addr', 'add', `${instance.address}/64`, 'dev', 'eth0', 'nodad']);
    // On lo: this machine's kernel has no dummy driver, and lo holds a local address as a dummy would.
    await lab.exec(instance.ns, ['ip', '-6', 'addr', 'add', `${TARGET}/128`, 'dev', 'lo']);
    await lab.exec(instance.ns, ['ip', '-6', 'route', 'replace', 'default', 'via', SHARED.gateway, 'dev', 'eth0']);
  }
}

describeLab('shared networks: a third-party next hop over BGP', () => {
  let vrLab: VrLab;
  let upstream: FrrPeer;

  beforeAll(async () => {
    vrLab = await startVrLab(sharedState(INSTANCE.a.address));
    for (const daemon of ['bgpd', 'bfdd']) vrLab.lab.trackPidFile(NS.vr, join(vrLab.agentDir, `frr/${daemon}.pid`));
    await addSharedLink(vrLab);
    upstream = await startFrrPeer(vrLab.lab, NS.upstream, { localAs: UPSTREAM_AS, routerId: '192.0.2.254', neighbors: [{ address: SHARED.vr, remoteAs: VR_AS }] });
    // What docs/routing.md asks of the upstream: install the global next hop, not the VR's link-local one beside it.
    await upstream.configure(['route-map ANY permit 10', 'set ipv6 next-hop prefer-global', 'exit']);
    await upstream.configure(['debug bgp updates in']);
    await startAgent(vrLab);
    const from = simEventCount(vrLab);
    const { generation } = await pushDesired(vrLab, sharedState(INSTANCE.a.address));
    const applied = await waitForMessage(vrLab, 'applied', (m) => m.generation === generation, 30_000, from);
    expect(applied.errors).toEqual([]);
    // bgpd prints back what the agent configured (the route-maps, `network … route-map …`): the plan ends empty.
    expect(applied.isConverged).toBe(true);
    // The upstream's second session, on the public link, to the VR's SLAAC address there.
    const observed = await waitForMessage(vrLab, 'observed', (m) => m.publicAddress?.source === 'slaac', 15_000);
    await upstream.setNeighbor({ address: observed.publicAddress!.address, remoteAs: VR_AS });
    await upstream.waitForNeighborState(observed.publicAddress!.address, 'Established', 30_000);
  }, 120_000);

  afterAll(async () => vrLab?.lab.cleanup());

  it('the upstream learns the /56 with instance A as next hop, in BGP and in its kernel', async () => {
    const learnedMs = await upstream.waitForRoute(ROUTED, true, 30_000, { nextHop: INSTANCE.a.address });
    console.info(`shared-networks: the upstream's kernel has ${ROUTED} via A ${learnedMs} ms after the agent applied`);
    const table = await upstream.bgpRoutes();
    const best = table.get(ROUTED)!.paths.find((path) => path.isBest)!;
    expect(best.nextHops.find((hop) => hop.scope === 'global')?.ip).toBe(INSTANCE.a.address);
    const kernel = (await upstream.kernelRoutes()).find((route) => route.prefix === ROUTED);
    expect(kernel).toEqual({ prefix: ROUTED, gateways: [INSTANCE.a.address], devices: [SHARED.bridge] });
  }, 40_000);

  it('sends the /56 on the shared link’s session alone: on the public one bgpd would name the VR as next hop', async () => {
    // Once the public session is up and announcing, the block comes on both sessions.
    const table = await waitFor(
      async () => {
        const routes = await upstream.bgpRoutes();
        return new Set(routes.get(GUEST_BLOCK)?.paths.map((path) => path.peerId)).size === 2 ? routes : undefined;
      },
      { timeoutMs: 30_000, what: 'the block from both of the VR’s sessions' },
    );
    expect(table.get(ROUTED)!.paths.map((path) => path.peerId)).toEqual([SHARED.vr]);
  }, 40_000);

  it('traffic from the upstream reaches A without passing the VR', async () => {
    const [vrBefore, aBefore] = [await snmp6(vrLab, NS.vr), await snmp6(vrLab, INSTANCE.a.ns)];
    expect(await ping(vrLab.lab, NS.upstream, TARGET, { count: 20 })).toBe(true);
    const [vrAfter, aAfter] = [await snmp6(vrLab, NS.vr), await snmp6(vrLab, INSTANCE.a.ns)];
    expect(aAfter.echoReplies - aBefore.echoReplies).toBe(20);
    expect(vrAfter.forwarded).toBe(vrBefore.forwarded);
  }, 30_000);

  it("a guest of the VR reaches the prefix too: out by the shared link under its tier's egress policy, the reply by the upstream", async () => {
    await waitForSlaacAddress(vrLab.lab, NS.g1, IF.guest, TIER1, 15_000);
    const [vrBefore, aBefore] = [await snmp6(vrLab, NS.vr), await snmp6(vrLab, INSTANCE.a.ns)];
    expect(await ping(vrLab.lab, NS.g1, TARGET, { count: 5 })).toBe(true);
    expect((await snmp6(vrLab, INSTANCE.a.ns)).echoReplies - aBefore.echoReplies).toBeGreaterThanOrEqual(5);
    // Each request out by the shared link, each reply back through the upstream: two forwarded per ping.
    expect((await snmp6(vrLab, NS.vr)).forwarded - vrBefore.forwarded).toBeGreaterThanOrEqual(10);
  }, 30_000);

  it("drops what arrives by the shared link claiming a guest's source, as from the public link", async () => {
    const guest = (await waitForSlaacAddress(vrLab.lab, NS.g1, IF.guest, TIER1, 15_000)).address;
    const spoofed = '2001:db8:200:1::bad'; // inside the guest's /64, sent from an instance on the shared link through the VR
    const a = INSTANCE.a.ns;
    await vrLab.lab.exec(a, ['ip', '-6', 'addr', 'add', `${spoofed}/128`, 'dev', 'lo']);
    await vrLab.lab.exec(a, ['ip', '-6', 'route', 'add', TIER1, 'via', SHARED.vr, 'dev', 'eth0']);
    await addSourceCapture(vrLab.lab, NS.g1, [spoofed]);
    try {
      const counter = async () => (await readRuleCounters(vrLab.lab, NS.vr, RULESET_TABLE.name, 'forward')).get('anti-spoofing upstream') ?? 0;
      const before = await counter();
      expect(await probeEcho(vrLab.lab, a, guest, { source: spoofed, timeoutMs: 1000 })).toBe(false);
      expect((await counter()) - before).toBeGreaterThanOrEqual(1);
      expect(await readSourceCapture(vrLab.lab, NS.g1, spoofed)).toBe(0);
    } finally {
      await removeSourceCapture(vrLab.lab, NS.g1);
      await vrLab.lab.exec(a, ['ip', '-6', 'route', 'del', TIER1, 'via', SHARED.vr, 'dev', 'eth0'], { allowFailure: true });
      await vrLab.lab.exec(a, ['ip', '-6', 'addr', 'del', `${spoofed}/128`, 'dev', 'lo'], { allowFailure: true });
    }
  }, 30_000);

  it('moves the /56 to B with one UPDATE and no withdraw, losing at most one 10 ms ping; then only B answers', async () => {
    const counters = async () => (await upstream.neighbor(SHARED.vr)).raw.messageStats as { updatesRecv: number };
    const updatesBefore = (await counters()).updatesRecv;
    const logBefore = readFileSync(join(upstream.dir, 'bgpd.log'), 'utf8').length;
    const watch = upstream.watchRoute(ROUTED);
    const count = 400;
    const pinging = vrLab.lab.exec(NS.upstream, ['ping', '-6', '-n', '-q', '-i', '0.01', '-c', String(count), '-W', '1', TARGET], { allowFailure: true, timeoutMs: 30_000 });
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const from = simEventCount(vrLab);
    const { generation, pushedAt } = await pushDesired(vrLab, sharedState(INSTANCE.b.address));
    await upstream.waitForRoute(ROUTED, true, 15_000, { nextHop: INSTANCE.b.address });
    const movedMs = Date.now() - pushedAt;
    const summary = (await pinging).stdout;
    const missing = await watch.stop();
    const [, sent, received] = /(\d+) packets transmitted, (\d+) received/.exec(summary) ?? [];
    const lost = Number(sent) - Number(received);
    // Let any later UPDATE arrive before counting.
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const updates = (await counters()).updatesRecv - updatesBefore;
    const log = readFileSync(join(upstream.dir, 'bgpd.log'), 'utf8').slice(logBefore);
    console.info(`shared-networks: move ${movedMs} ms from the push to the upstream's kernel route via B; ${updates} UPDATE; lost ${lost} of ${sent} pings at 10 ms`);
    const applied = await waitForMessage(vrLab, 'applied', (m) => m.generation === generation, 10_000, from);
    expect(applied.isConverged).toBe(true);
    expect(updates).toBe(1);
    expect(log).toContain(ROUTED);
    expect(log).not.toMatch(/withdrawn/);
    expect(missing).toBe(0);
    expect(Number(sent)).toBe(count);
    expect(lost).toBeLessThanOrEqual(1);
    const [a, b] = [await snmp6(vrLab, INSTANCE.a.ns), await snmp6(vrLab, INSTANCE.b.ns)];
    expect(await ping(vrLab.lab, NS.upstream, TARGET, { count: 3 })).toBe(true);
    expect((await snmp6(vrLab, INSTANCE.a.ns)).echoReplies).toBe(a.echoReplies);
    expect((await snmp6(vrLab, INSTANCE.b.ns)).echoReplies).toBe(b.echoReplies + 3);
  }, 60_000);

  it('reports the shared prefix routed via B', async () => {
    const observed = await waitForMessage(vrLab, 'observed', (m) => m.routedPrefixes.some((r) => r.network === 'shared-lab' && r.nextHop === INSTANCE.b.address && r.isRouted), 15_000);
    expect(observed.routedPrefixes).toContainEqual(expect.objectContaining({ network: 'shared-lab', prefix: ROUTED, interface: SHARED.vrInterface, description: 'lab /56' }));
  }, 20_000);

  it('withdraws the /56 when the state no longer names it, and leaves nothing of it on the VR', async () => {
    const vtysh = (command: string) => vrLab.lab.exec(NS.vr, ['vtysh', '--vty_socket', join(vrLab.agentDir, 'frr'), '-c', command]).then((r) => r.stdout);
    await pushDesired(vrLab, sharedState(null));
    await upstream.waitForRoute(ROUTED, false, 15_000);
    await waitFor(async () => !(await vtysh('show running-config bgpd')).includes('VR6-NEXT-HOP-'), { timeoutMs: 10_000, what: "the VR's bgpd to drop the next-hop route-map" });
    expect((await vrLab.lab.exec(NS.vr, ['ip', '-6', 'route', 'show', ROUTED])).stdout).toBe('');
    // The link stays: the VR's address, and the session with the upstream over it.
    expect((await vrLab.lab.exec(NS.vr, ['ip', '-6', 'addr', 'show', 'dev', SHARED.vrInterface])).stdout).toContain(`${SHARED.vr}/64`);
    expect((await upstream.neighbor(SHARED.vr)).bgpState).toBe('Established');
  }, 30_000);
});
