import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canRunLab } from './lab-guard.js';
import { addRoute, ping, tcpConnect, tcpListen, waitForPing } from './probes.js';
import { startFirewallLab, type FirewallLab } from './firewall-lab.js';
import { IF, NS } from './topology.js';
import { labDesiredState, pushAndApply, pushDesired, waitForMessage } from './vr-lab.js';
import { waitFor } from './netns.js';
import { addInstances, echoesAnswered, INSTANCE, ROUTED, routedState, TARGET } from './routed-lab.js';

/**
 * Routed prefixes with packets: two instances on the web tier hold the same
 * address from one routed /56 on lo; the upstream pings it
 * every 10 ms while the desired state moves the /56 from A to B.
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
});
