import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canRunLab } from './lab-guard.js';
import { addRoute, ping, tcpConnect, tcpListen, waitForPing } from './probes.js';
import { startFirewallLab, type FirewallLab } from './firewall-lab.js';
import { IF, NS } from './topology.js';
import { labDesiredState, pushAndApply, pushDesired, runVr6ctl, simEventCount, waitForMessage } from './vr-lab.js';
import { waitFor } from './netns.js';
import { addInstances, echoesAnswered, INSTANCE, ROUTED, routedState, TARGET } from './routed-lab.js';

/**
 * Routed prefixes with packets: two instances on the web tier hold the same
 * address from one routed /56 on lo; the upstream pings it
 * every 10 ms while the desired state moves the /56 from A to B. Last, B
 * goes, and the report and vr6ctl show its neighbour entry failed.
 */

const describeLab = canRunLab(['ip', 'nft', 'radvd', 'ping', 'nc']) ? describe : describe.skip;

describeLab('routed prefixes with packets', () => {
  let fw: FirewallLab;

  beforeAll(async () => {
    fw = await startFirewallLab(labDesiredState(), { tiers: 2 });
    await addInstances(fw);
    await addRoute(fw.lab, NS.upstream, ROUTED, fw.publicAddress, IF.upstream);
    await pushAndApply(fw.vrLab, routedState(INSTANCE.a.address));
    await waitForPing(fw.lab, NS.upstream, TARGET, 10_000);
  }, 120_000);

  afterAll(async () => {
    await fw?.lab.cleanup();
  });

  it('routes the /56 to A, and the report says so with A reachable', async () => {
    const before = await echoesAnswered(fw, INSTANCE.a.ns);
    expect(await ping(fw.lab, NS.upstream, TARGET)).toBe(true);
    expect(await echoesAnswered(fw, INSTANCE.a.ns)).toBeGreaterThan(before);
    const route = (await fw.lab.exec(NS.vr, ['ip', '-6', '-j', 'route', 'show', ROUTED])).stdout;
    expect(JSON.parse(route)).toMatchObject([{ dst: ROUTED, gateway: INSTANCE.a.address, dev: IF.vrTier1, protocol: '118' }]);
  });

  it('moves the /56 from A to B under 10 ms pings, losing at most one, and afterwards only B answers', async () => {
    const count = 400;
    const pinging = fw.lab.exec(NS.upstream, ['ping', '-6', '-n', '-q', '-i', '0.01', '-c', String(count), '-W', '1', TARGET], { allowFailure: true, timeoutMs: 30_000 });
    // Let the pings run a while on A first.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const pushedAt = Date.now();
    await pushDesired(fw.vrLab, routedState(INSTANCE.b.address));
    await waitFor(
      async () => JSON.parse((await fw.lab.exec(NS.vr, ['ip', '-6', '-j', 'route', 'show', ROUTED])).stdout)[0]?.gateway === INSTANCE.b.address,
      { timeoutMs: 10_000, what: 'the route via B', intervalMs: 2 },
    );
    const movedMs = Date.now() - pushedAt;
    const summary = (await pinging).stdout;
    const [, sent, received] = /(\d+) packets transmitted, (\d+) received/.exec(summary) ?? [];
    const lost = Number(sent) - Number(received);
    console.info(`routed-prefixes: move ${movedMs} ms from the push, lost ${lost} of ${sent} pings at 10 ms`);
    expect(Number(sent)).toBe(count);
    expect(lost).toBeLessThanOrEqual(1);
    const [a, b] = [await echoesAnswered(fw, INSTANCE.a.ns), await echoesAnswered(fw, INSTANCE.b.ns)];
    expect(await ping(fw.lab, NS.upstream, TARGET, { count: 3 })).toBe(true);
    expect(await echoesAnswered(fw, INSTANCE.a.ns)).toBe(a);
    expect(await echoesAnswered(fw, INSTANCE.b.ns)).toBe(b + 3);
  }, 60_000);

  it("applies the tier's ingress ACL to the prefix: tcp 8080 passes, tcp 9090 is dropped", async () => {
    await Promise.all([tcpListen(fw.lab, INSTANCE.b.ns, 8080), tcpListen(fw.lab, INSTANCE.b.ns, 9090)]);
    expect(await tcpConnect(fw.lab, NS.upstream, TARGET, 8080)).toBe(true);
    expect(await tcpConnect(fw.lab, NS.upstream, TARGET, 9090)).toBe(false);
  }, 20_000);

  it('drops a source from the routed prefix arriving from another network', async () => {
    await fw.lab.exec(NS.g2, ['ip', '-6', 'addr', 'add', '2001:db8:300::99/128', 'dev', 'lo']);
    expect(await ping(fw.lab, NS.g2, '2001:db8:100::1', { count: 2 })).toBe(true);
    expect(await ping(fw.lab, NS.g2, '2001:db8:100::1', { count: 2, source: '2001:db8:300::99' })).toBe(false);
    // From its own network the same prefix is a valid source.
    expect(await ping(fw.lab, INSTANCE.b.ns, '2001:db8:100::1', { count: 2, source: TARGET })).toBe(true);
  }, 20_000);

  it('reports the prefix routed via B', async () => {
    const observed = await waitForMessage(fw.vrLab, 'observed', (m) => m.routedPrefixes[0]?.nextHop === INSTANCE.b.address && m.routedPrefixes[0].isRouted, 15_000);
    expect(observed.routedPrefixes[0]).toMatchObject({ network: 'tier-web', prefix: ROUTED, interface: IF.vrTier1, description: 'lab /56' });
  }, 20_000);

  it('puts back its route that someone else moved, at the next push, which plans against the kernel and not its memory', async () => {
    const viaNow = async () => JSON.parse((await fw.lab.exec(NS.vr, ['ip', '-6', '-j', 'route', 'show', ROUTED])).stdout)[0]?.gateway;
    expect(await viaNow()).toBe(INSTANCE.b.address);
    await fw.lab.exec(NS.vr, ['ip', '-6', 'route', 'replace', ROUTED, 'via', INSTANCE.a.address, 'dev', IF.vrTier1, 'proto', '118']);
    // The same routes, pushed again at once (the resync, which dumps the routes anyway, comes every 5 s).
    const spec = routedState(INSTANCE.b.address);
    spec.guestNetworks[0].routedPrefixes[0].description = 'lab /56, pushed again';
    await pushAndApply(fw.vrLab, spec);
    expect(await viaNow()).toBe(INSTANCE.b.address);
  }, 20_000);

  it('shows an instance that is gone as failed, in the report and in vr6ctl show routes, text and --json', async () => {
    const vr6ctl = (...args: string[]) => runVr6ctl(fw.vrLab, ['show', 'routes', ...args]);
    const timers = (await fw.lab.exec(NS.vr, ['sh', '-c', `cd /proc/sys/net/ipv6/neigh/${IF.vrTier1} && grep . base_reachable_time_ms delay_first_probe_time ucast_solicit mcast_solicit retrans_time_ms`])).stdout;
    const from = simEventCount(fw.vrLab);
    // B goes, as a stopped VM does: its link is down, and nothing answers the VR's neighbour solicitations for it.
    await fw.lab.exec(INSTANCE.b.ns, ['ip', 'link', 'set', IF.guest, 'down']);
    const goneAt = Date.now();
    // The kernel probes a neighbour only while packets are routed its way (RFC 4861 §7.3.3), and a packet for a
    // failed one starts it over (incomplete): ping until the kernel gives up, then stop, so that failed stays.
    const pinging = await fw.lab.spawn(NS.upstream, ['ping', '-6', '-n', '-q', '-i', '0.5', '-w', '120', TARGET]);
    const neighbourState = async () => JSON.parse((await fw.lab.exec(NS.vr, ['ip', '-6', '-j', 'neigh', 'show', 'dev', IF.vrTier1, INSTANCE.b.address])).stdout || '[]')[0]?.state?.[0];
    let failedMs: number;
    try {
      await waitFor(async () => (await neighbourState()) === 'FAILED', { timeoutMs: 100_000, what: "the VR's neighbour entry for B to fail", intervalMs: 20 });
      failedMs = Date.now() - goneAt;
    } finally {
      await fw.lab.stop(pinging);
    }
    const failed = (m: { routedPrefixes: readonly { prefix: string; neighbour: string | null }[] }) => m.routedPrefixes.some((r) => r.prefix === ROUTED && r.neighbour === 'failed');
    const observed = await waitForMessage(fw.vrLab, 'observed', failed, 20_000, from).catch(async (error: Error) => {
      // What the kernel holds by then, for the one who reads the failure.
      throw new Error(`${error.message}; the VR's neighbour entry for B: ${await neighbourState()}`);
    });
    console.info(
      `routed-prefixes: instance gone → neighbour FAILED in the VR's kernel after ${failedMs} ms, in the report after ${Date.now() - goneAt} ms; timers on ${IF.vrTier1}: ${timers.trim().replace(/\n/g, ', ')}`,
    );
    expect(observed.routedPrefixes[0]).toMatchObject({ prefix: ROUTED, nextHop: INSTANCE.b.address, neighbour: 'failed', isRouted: true });
    const text = vr6ctl();
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/1 next hop not answering/);
    expect(text.stdout.split('\n').find((line) => line.startsWith(ROUTED))).toMatch(new RegExp(`${INSTANCE.b.address}\\s+${IF.vrTier1}\\s+installed\\s+failed`));
    const json = vr6ctl('--json');
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toContainEqual(expect.objectContaining({ prefix: ROUTED, neighbour: 'failed' }));
  }, 150_000);
});
