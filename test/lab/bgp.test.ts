import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isPidAlive, md5Failures, waitFor } from './netns.js';
import { tcpConnect, waitForPing, waitForSlaacAddress } from './probes.js';
import { FAR_HOST, GUEST_BLOCK, IF, NS, OPTIONAL_NS, TIER1, UPSTREAM_ADDRESS } from './topology.js';
import { canRunLab } from './lab-guard.js';
import { startFrrPeer, type FrrPeer } from './frr-peer.js';
import { labDesiredState, pushDesired, simEventCount, startAgent, startVrLab, stopAgent, waitForMessage, type VrLab } from './vr-lab.js';

/**
 * BGP on a real kernel with real daemons: the VR's bgpd, run by the agent,
 * against two upstream FRR instances in namespaces of their own, one on the
 * public link (A) and one two hops away (B, multihop). Asserted at the peers'
 * BGP tables and kernels, and with packets: the upstream reaches a guest
 * with no static route anywhere.
 */

const TOOLS = ['ip', 'nft', 'radvd', 'ping', 'nc', 'vtysh', '/usr/lib/frr/zebra', '/usr/lib/frr/bgpd'];
const describeLab = canRunLab(TOOLS) ? describe : describe.skip;

const VR_AS = 65001;
const A_AS = 65000;
const B_AS = 65002;
const PASSWORD = 'lab-md5-key';
const EXTRA = '2001:db8:f000::/48';

/** The lab's state with BGP: peer A on the public link, and peer B when asked. */
function spec(edit: (bgp: Record<string, any>) => void = () => undefined): Record<string, any> {
  const state = labDesiredState();
  const bgp = {
    localAs: VR_AS,
    routerId: '192.0.2.1',
    peers: [{ address: UPSTREAM_ADDRESS, remoteAs: A_AS, description: 'upstream-a', accept: 'default-route', holdTimeSeconds: 9 }],
    announce: { aggregates: [GUEST_BLOCK] },
  };
  edit(bgp);
  state.routing = { protocol: 'bgp', bgp };
  return state;
}

const withPeerB = (password: string) => (bgp: Record<string, any>) =>
  bgp.peers.push({ address: FAR_HOST, remoteAs: B_AS, description: 'upstream-b', multihopTtl: 3, password, holdTimeSeconds: 9 });

describeLab('BGP with real upstream peers', () => {
  let vrLab: VrLab;
  let peerA: FrrPeer;
  let peerB: FrrPeer;
  let vrAddress: string;
  let guest: string;
  const vtysh = (...commands: string[]) =>
    vrLab.lab.exec(NS.vr, ['vtysh', '--vty_socket', join(vrLab.agentDir, 'frr'), ...commands.flatMap((c) => ['-c', c])]).then((r) => r.stdout);
  const vrNeighbor = async (address: string) => (JSON.parse(await vtysh(`show bgp neighbors ${address} json`)) as Record<string, any>)[address] ?? {};
  const vrRoutes = async () => (await vrLab.lab.exec(NS.vr, ['ip', '-6', 'route', 'show'])).stdout;

  async function apply(state: Record<string, any>) {
    const from = simEventCount(vrLab);
    const pushed = await pushDesired(vrLab, state);
    const applied = await waitForMessage(vrLab, 'applied', (m) => m.generation === pushed.generation, 30_000, from);
    expect(applied.errors).toEqual([]);
    expect(applied.isConverged).toBe(true);
    return { ...pushed, applied };
  }

  beforeAll(async () => {
    vrLab = await startVrLab(spec(), { farHost: true });
    for (const daemon of ['bgpd', 'bfdd']) vrLab.lab.trackPidFile(NS.vr, join(vrLab.agentDir, `frr/${daemon}.pid`));
    await startAgent(vrLab);
    await apply(spec());
    const observed = await waitForMessage(vrLab, 'observed', (m) => m.publicAddress?.source === 'slaac', 15_000);
    vrAddress = observed.publicAddress!.address;
    peerA = await startFrrPeer(vrLab.lab, NS.upstream, {
      localAs: A_AS,
      routerId: '192.0.2.254',
      neighbors: [{ address: vrAddress, remoteAs: VR_AS }],
      originateDefault: true,
      // An upstream that says more than it is asked for: the VR installs only the default route.
      extraPrefixes: [EXTRA],
    });
    guest = (await waitForSlaacAddress(vrLab.lab, NS.g1, IF.guest, TIER1, 15_000)).address;
  }, 120_000);

  afterAll(async () => vrLab?.lab.cleanup());

  it('announces exactly the block, with the VR’s SLAAC address as next hop, and the upstream reaches a guest', async () => {
    await peerA.waitForRoute(GUEST_BLOCK, true, 20_000);
    const table = await peerA.bgpRoutes();
    expect([...table.keys()].filter((prefix) => prefix !== '::/0' && prefix !== EXTRA).sort()).toEqual([GUEST_BLOCK]);
    expect(table.get(GUEST_BLOCK)!.nextHops).toContain(vrAddress);
    // No static route anywhere: the upstream's only way to the guest is what BGP taught it.
    await waitForPing(vrLab.lab, NS.upstream, guest, 10_000);
  });

  it('installs only what it accepts: the default route, not the extra prefix, and the session stays up', async () => {
    await waitFor(async () => (/^default .*proto bgp/m.test(await vrRoutes()) ? true : undefined), { timeoutMs: 15_000, what: 'the learned default route on the VR' });
    expect(await vrRoutes()).not.toContain(EXTRA.replace('/48', ''));
    expect((await vrNeighbor(UPSTREAM_ADDRESS)).bgpState).toBe('Established');
  });

  it('withdraws a removed announcement and announces its replacement', async () => {
    const smaller = '2001:db8:200::/56';
    await apply(spec((bgp) => (bgp.announce.aggregates = [smaller])));
    await peerA.waitForRoute(smaller, true, 10_000);
    await peerA.waitForRoute(GUEST_BLOCK, false, 10_000);
    await apply(spec());
    await peerA.waitForRoute(GUEST_BLOCK, true, 10_000);
    await peerA.waitForRoute(smaller, false, 10_000);
  });

  it('keeps a peer with the wrong TCP-MD5 key down, and brings it up with the right one', async () => {
    peerB = await startFrrPeer(vrLab.lab, OPTIONAL_NS.far, {
      localAs: B_AS,
      routerId: '192.0.2.253',
      neighbors: [{ address: vrAddress, remoteAs: VR_AS, password: 'not-the-key', multihopTtl: 3 }],
    });
    await apply(spec(withPeerB(PASSWORD)));
    // Both kernels drop the other's signed segments: wait until several attempts were refused that way.
    const namespaces = [NS.vr, OPTIONAL_NS.far];
    const from = await md5Failures(vrLab.lab, namespaces);
    await waitFor(async () => ((await md5Failures(vrLab.lab, namespaces)) - from >= 3 ? true : undefined), {
      timeoutMs: 15_000,
      what: 'three segments dropped for a bad TCP-MD5 digest',
    });
    expect((await vrNeighbor(FAR_HOST)).bgpState).not.toBe('Established');
    expect((await peerB.bgpRoutes()).has(GUEST_BLOCK)).toBe(false);
    await peerB.configure([`router bgp ${B_AS}`, ` neighbor ${vrAddress} password ${PASSWORD}`, 'exit']);
    await peerB.waitForRoute(GUEST_BLOCK, true, 30_000);
  });

  it('changes peer B without touching peer A: A’s session never drops and A never loses the route', async () => {
    const before = await peerA.neighbor(vrAddress);
    const vrBefore = await vrNeighbor(UPSTREAM_ADDRESS);
    const watch = peerA.watchRoute(GUEST_BLOCK);
    // A password change resets B's session (it must reopen TCP): the one change that surely does.
    await apply(spec(withPeerB(`${PASSWORD}-2`)));
    await peerB.configure([`router bgp ${B_AS}`, ` neighbor ${vrAddress} password ${PASSWORD}-2`, 'exit']);
    await waitFor(async () => ((await vrNeighbor(FAR_HOST)).connectionsDropped > 0 && (await vrNeighbor(FAR_HOST)).bgpState === 'Established' ? true : undefined), {
      timeoutMs: 30_000,
      what: 'peer B to come back after its reset',
    });
    const losses = await watch.stop();
    const after = await peerA.neighbor(vrAddress);
    expect(losses).toBe(0);
    expect(after.connectionsDropped).toBe(before.connectionsDropped);
    expect(after.peerUptimeEstablishedEpoch).toBe(before.peerUptimeEstablishedEpoch);
    expect((await vrNeighbor(UPSTREAM_ADDRESS)).connectionsDropped).toBe(vrBefore.connectionsDropped);
  });

  it('resets no session when the agent is SIGKILLed and started again', async () => {
    const bgpd = Number(readFileSync(join(vrLab.agentDir, 'frr/bgpd.pid'), 'utf8'));
    const dropped = [(await vrNeighbor(UPSTREAM_ADDRESS)).connectionsDropped, (await vrNeighbor(FAR_HOST)).connectionsDropped];
    process.kill(vrLab.agent!.pid, 'SIGKILL');
    await vrLab.agent!.exited;
    vrLab.agent = null;
    const from = simEventCount(vrLab);
    await startAgent(vrLab);
    const applied = await waitForMessage(vrLab, 'applied', () => true, 30_000, from);
    expect(applied.ok).toBe(true);
    expect(applied.components.frr?.steps).toBe(0);
    expect(Number(readFileSync(join(vrLab.agentDir, 'frr/bgpd.pid'), 'utf8'))).toBe(bgpd);
    expect([(await vrNeighbor(UPSTREAM_ADDRESS)).connectionsDropped, (await vrNeighbor(FAR_HOST)).connectionsDropped]).toEqual(dropped);
  });

  it('starts a killed bgpd again, and the upstream learns the block again', async () => {
    const bgpd = Number(readFileSync(join(vrLab.agentDir, 'frr/bgpd.pid'), 'utf8'));
    const from = simEventCount(vrLab);
    process.kill(bgpd, 'SIGKILL');
    await peerA.waitForRoute(GUEST_BLOCK, false, 15_000);
    const repaired = await waitForMessage(vrLab, 'applied', (m) => m.repaired.includes('bgpd was not running'), 30_000, from).catch((e) => {
      console.log(readFileSync(vrLab.agent!.logPath, 'utf8').split('\n').slice(-30).join('\n'));
      throw e;
    });
    expect(repaired.ok).toBe(true);
    expect(isPidAlive(bgpd)).toBe(false);
    await peerA.waitForRoute(GUEST_BLOCK, true, 20_000);
  });

  it('lets only the configured peers reach TCP 179', async () => {
    // The guest's gateway is the VR's address nearest to it; bgpd listens on every address.
    expect(await tcpConnect(vrLab.lab, NS.g1, '2001:db8:200:1::1', 179), 'a guest').toBe(false);
    expect(await tcpConnect(vrLab.lab, NS.upstream, vrAddress, 179), 'peer A').toBe(true);
    // The far host, peer B, is let through too, but bgpd's listening socket then wants B's TCP-MD5
    // signature, which a plain SYN lacks. Once B is no longer a peer, bgpd would take a plain
    // connection as it takes A's, and only the firewall stops it.
    await apply(spec());
    expect(await tcpConnect(vrLab.lab, OPTIONAL_NS.far, vrAddress, 179), 'the far host, no longer a peer').toBe(false);
  });

  it('stops bgpd when routing goes back to static, and the upstream withdraws the block', async () => {
    const bgpd = Number(readFileSync(join(vrLab.agentDir, 'frr/bgpd.pid'), 'utf8'));
    const state = labDesiredState();
    await apply(state);
    await peerA.waitForRoute(GUEST_BLOCK, false, 10_000);
    await waitFor(async () => (isPidAlive(bgpd) ? undefined : true), { timeoutMs: 10_000, what: 'bgpd to exit' });
    await stopAgent(vrLab);
  });
});
