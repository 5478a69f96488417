import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isPidAlive, killPid, waitFor } from './netns.js';
import { readAddresses, waitForPing, waitForSlaacAddress } from './probes.js';
import { fileURLToPath } from 'node:url';
import { GUEST_BLOCK, IF, NS, TIER1, UPSTREAM_ADDRESS } from './topology.js';
import { canRunLab } from './lab-guard.js';
import { startOspfPeer, type OspfPeer } from './ospf-peer.js';
import { labDesiredState, pushDesired, simEventCount, startAgent, startVrLab, stopAgent, waitForMessage, type VrLab } from './vr-lab.js';

/**
 * OSPFv3 on a real kernel with real daemons: the VR's ospf6d, run by the
 * agent, against an upstream FRR router (zebra and ospf6d) on the public
 * link. Asserted at the upstream's kernel and neighbour table, at the VR's
 * kernel, and with packets: the upstream reaches a guest with no static
 * route anywhere.
 */

const TOOLS = ['ip', 'nft', 'radvd', 'ping', 'vtysh', '/usr/lib/frr/zebra', '/usr/lib/frr/ospf6d'];
const describeLab = canRunLab(TOOLS) ? describe : describe.skip;

const VR_ID = '192.0.2.1';
const UPSTREAM_ID = '192.0.2.254';
const EXTRA = '2001:db8:f000::/48';
const RAW_IP6 = fileURLToPath(new URL('./raw-ip6.py', import.meta.url));
const SMALLER = '2001:db8:200::/56';

/** The lab's state with OSPF, timers short (hello 1 s, dead 4 s) so that adjacencies form in seconds. */
function spec(edit: (ospf: Record<string, any>) => void = () => undefined): Record<string, any> {
  const state = labDesiredState();
  const ospf = { routerId: VR_ID, helloIntervalSeconds: 1, deadIntervalSeconds: 4, accept: 'default-route', announce: { aggregates: [GUEST_BLOCK] } };
  edit(ospf);
  state.routing = { protocol: 'ospf', ospf };
  return state;
}

describeLab('OSPFv3 with a real upstream router', () => {
  let vrLab: VrLab;
  let upstream: OspfPeer;
  let vrLinkLocal: string;
  let guest: string;
  const ospf6dPid = () => Number(readFileSync(join(vrLab.agentDir, 'frr/ospf6d.pid'), 'utf8'));
  // Every route, not `show proto ospf`: a filtered listing leaves the proto field out of each line.
  const vrRoutes = async () => (await vrLab.lab.exec(NS.vr, ['ip', '-6', 'route', 'show'])).stdout;
  const vrNeighbor = async () => {
    const out = await vrLab.lab.exec(NS.vr, ['vtysh', '--vty_socket', join(vrLab.agentDir, 'frr'), '-c', 'show ipv6 ospf6 neighbor detail json']);
    return (JSON.parse(out.stdout) as Record<string, Record<string, any>>)[`${UPSTREAM_ID}%${IF.vrPublic}`];
  };

  async function apply(state: Record<string, any>) {
    const from = simEventCount(vrLab);
    const pushed = await pushDesired(vrLab, state);
    const applied = await waitForMessage(vrLab, 'applied', (m) => m.generation === pushed.generation, 30_000, from);
    expect(applied.errors).toEqual([]);
    expect(applied.isConverged).toBe(true);
    return { ...pushed, applied };
  }

  /** The upstream's neighbour state for the VR and a watch on the block: what a hitless change must leave alone. */
  async function expectHitless(change: () => Promise<void>) {
    const before = (await upstream.neighbors()).get(VR_ID)!;
    const startedAt = Date.now();
    const watch = upstream.watchRoute(GUEST_BLOCK);
    await change();
    // Two dead intervals: an adjacency the change broke would be seen down by then.
    await new Promise((resolve) => setTimeout(resolve, 8000));
    const losses = await watch.stop();
    const after = (await upstream.neighbors()).get(VR_ID)!;
    const elapsedSeconds = (Date.now() - startedAt) / 1000;
    expect(after.state).toBe('Full');
    // ospf6d counts from the last change of state, to the second.
    expect(after.stateSeconds).toBeGreaterThanOrEqual(before.stateSeconds + Math.floor(elapsedSeconds) - 1);
    expect(losses).toBe(0);
  }

  beforeAll(async () => {
    vrLab = await startVrLab(spec());
    vrLab.lab.trackPidFile(NS.vr, join(vrLab.agentDir, 'frr/ospf6d.pid'));
    await startAgent(vrLab);
    await apply(spec());
    vrLinkLocal = (await readAddresses(vrLab.lab, NS.vr, IF.vrPublic)).find((a) => a.scope === 'link')!.address;
    upstream = await startOspfPeer(vrLab.lab, NS.upstream, {
      routerId: UPSTREAM_ID,
      interface: IF.upstream,
      helloIntervalSeconds: 1,
      deadIntervalSeconds: 4,
      originateDefault: true,
      // An upstream that says more than the VR accepts: only the default route may reach the VR's kernel.
      extraPrefixes: [EXTRA],
    });
    guest = (await waitForSlaacAddress(vrLab.lab, NS.g1, IF.guest, TIER1, 15_000)).address;
  }, 120_000);

  afterAll(async () => vrLab?.lab.cleanup());

  it('announces exactly the block, via the VR’s link-local address, and the upstream reaches a guest', async () => {
    const fullMs = await upstream.waitForFull(VR_ID, 30_000);
    const routeMs = await upstream.waitForRoute(GUEST_BLOCK, true, 15_000, vrLinkLocal);
    console.log(`ospf: adjacency Full ${fullMs} ms after the upstream started, block in its kernel ${routeMs} ms later`);
    expect((await upstream.kernelRoutes()).map((r) => r.prefix)).toEqual([GUEST_BLOCK]);
    // No static route anywhere: the upstream's only way to the guest is what OSPF taught it.
    await waitForPing(vrLab.lab, NS.upstream, guest, 10_000);
  });

  it('installs only what it accepts, the default route, and the block’s discard route, nothing else', async () => {
    await waitFor(async () => (/^default .*proto ospf/m.test(await vrRoutes()) ? true : undefined), { timeoutMs: 15_000, what: 'the default route from OSPF on the VR' });
    const routes = await vrRoutes();
    expect(routes).toMatch(new RegExp(`^blackhole ${GUEST_BLOCK.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} .*proto ospf`, 'm'));
    expect(routes).not.toContain(EXTRA.replace('/48', ''));
    // ospf6d knows the extra prefix: zebra keeps it out of the kernel.
    const rib = (await vrLab.lab.exec(NS.vr, ['vtysh', '--vty_socket', join(vrLab.agentDir, 'frr'), '-c', `show ipv6 route ${EXTRA}`])).stdout;
    expect(rib).toMatch(/ospf6/);
    expect(rib).not.toMatch(/\* fe80/);
  });

  it('admits OSPF only from a link-local source on the public link', async () => {
    // A raw proto-89 socket in the VR sees what the input path delivers, after the filter. A datagram from
    // the upstream's global address (a spoofer or something forwarded) must not arrive; the same from its
    // link-local address is the control, so a listener that heard nothing proves nothing.
    const logPath = join(vrLab.lab.tempDir, `ospf-raw-${Date.now()}.log`);
    const listener = await vrLab.lab.spawn(NS.vr, ['python3', RAW_IP6, 'listen', '89'], { logPath });
    const heard = () => readFileSync(logPath, 'utf8').split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
    await waitFor(async () => heard().some((l) => l.listening === true) || undefined, { timeoutMs: 5000, what: 'the raw listener in the VR' });
    const vrGlobal = (await readAddresses(vrLab.lab, NS.vr, IF.vrPublic)).find((a) => a.scope === 'global')!.address;
    const upstreamLinkLocal = (await readAddresses(vrLab.lab, NS.upstream, IF.upstream)).find((a) => a.scope === 'link')!.address;
    const send = (source: string, destination: string, text: string) =>
      vrLab.lab.exec(NS.upstream, ['python3', RAW_IP6, 'send', '89', source, destination, text, IF.upstream]);
    await send(UPSTREAM_ADDRESS, vrGlobal, 'from-global-to-global');
    await send(UPSTREAM_ADDRESS, 'ff02::5', 'from-global-to-allspf');
    await send(upstreamLinkLocal, 'ff02::5', 'from-link-local');
    await waitFor(async () => heard().some((l) => l.payload === 'from-link-local') || undefined, { timeoutMs: 5000, what: 'the link-local control datagram' });
    await killPid(listener.pid);
    const markers = heard().map((l) => l.payload).filter((p) => typeof p === 'string' && p.startsWith('from-'));
    expect(markers).toEqual(['from-link-local']);
  });

  it('withdraws a changed announcement and announces its replacement, without touching the adjacency', async () => {
    const before = (await upstream.neighbors()).get(VR_ID)!;
    const pushed = await apply(spec((ospf) => (ospf.announce.aggregates = [SMALLER])));
    await upstream.waitForRoute(SMALLER, true, 15_000, vrLinkLocal);
    const announceMs = Date.now() - pushed.pushedAt;
    await upstream.waitForRoute(GUEST_BLOCK, false, 15_000);
    const back = await apply(spec());
    await upstream.waitForRoute(GUEST_BLOCK, true, 15_000);
    const againMs = Date.now() - back.pushedAt;
    await upstream.waitForRoute(SMALLER, false, 15_000);
    console.log(`ospf: push to the upstream's kernel: /56 in place of the /48 ${announceMs} ms, the /48 back ${againMs} ms`);
    expect((await upstream.kernelRoutes()).map((r) => r.prefix)).toEqual([GUEST_BLOCK]);
    expect((await upstream.neighbors()).get(VR_ID)!.stateSeconds).toBeGreaterThanOrEqual(before.stateSeconds);
  });

  it('changes the cost without dropping the adjacency or the route', async () => {
    const pid = ospf6dPid();
    await expectHitless(async () => {
      await apply(spec((ospf) => (ospf.cost = 50)));
    });
    const lsdb = await upstream.vtysh(['-c', 'show ipv6 ospf6 database router detail']);
    expect(lsdb).toMatch(/Metric: 50/);
    expect(ospf6dPid()).toBe(pid);
  });

  it('leaves ospf6d and the adjacency alone when the agent is SIGKILLed and started again', async () => {
    const pid = ospf6dPid();
    await expectHitless(async () => {
      process.kill(vrLab.agent!.pid, 'SIGKILL');
      await vrLab.agent!.exited;
      vrLab.agent = null;
      const from = simEventCount(vrLab);
      await startAgent(vrLab);
      const applied = await waitForMessage(vrLab, 'applied', () => true, 30_000, from);
      expect(applied.ok).toBe(true);
      expect(applied.components.frr?.steps).toBe(0);
    });
    expect(ospf6dPid()).toBe(pid);
    expect((await vrNeighbor())?.neighborState).toBe('Full');
  });

  it('starts a killed ospf6d again, and the upstream learns the block again', async () => {
    const pid = ospf6dPid();
    const from = simEventCount(vrLab);
    process.kill(pid, 'SIGKILL');
    const repaired = await waitForMessage(vrLab, 'applied', (m) => m.repaired.includes('ospf6d was not running'), 30_000, from);
    expect(repaired.ok).toBe(true);
    expect(isPidAlive(pid)).toBe(false);
    await upstream.waitForFull(VR_ID, 30_000);
    await upstream.waitForRoute(GUEST_BLOCK, true, 15_000, vrLinkLocal);
  });

  it('stops ospf6d when routing goes back to static, and the upstream withdraws the block', async () => {
    const pid = ospf6dPid();
    await apply(labDesiredState());
    await waitFor(async () => (isPidAlive(pid) ? undefined : true), { timeoutMs: 10_000, what: 'ospf6d to exit' });
    await upstream.waitForRoute(GUEST_BLOCK, false, 15_000);
    await stopAgent(vrLab);
  });
});
