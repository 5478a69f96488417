import pino from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { MemoryHost } from '../support/memory-host.js';
import { Reconciler } from '../../src/reconcile/reconciler.js';
import { DesiredState } from '../../src/schema/desired-state.js';
import { agentConfigIn } from '../support/agent-config.js';
import { redundantInput, vpcInput } from '../support/states.js';

const config = agentConfigIn('/vr');
const silent = pino({ level: 'silent' });

/** The VPC state, schemaVersion 2, with `count` /56s routed to instances of the web tier, the i-th to ::(10 + i % 100); `change` edits the input. */
function routedState(count: number, nextHopOf: (i: number) => string = (i) => `2001:db8:200:1::${(10 + (i % 100)).toString(16)}`, change: (input: ReturnType<typeof vpcInput>) => void = () => undefined) {
  const input = vpcInput();
  input.schemaVersion = 2;
  input.guestNetworks[0].routedPrefixes = Array.from({ length: count }, (_, i) => ({ prefix: `2001:db8:${(0x1000 + i).toString(16)}::/56`, nextHop: nextHopOf(i) }));
  change(input);
  return DesiredState.parse(input);
}

const routesOf = (host: MemoryHost) => host.prefixRoutes.map((r) => `${r.destination} via ${r.gateway} dev ${r.interface} proto ${r.protocol}`).sort();

async function convergedOn(state: DesiredState) {
  const host = new MemoryHost(['eth1', 'eth2', 'eth3']);
  const reconciler = new Reconciler(host, config, silent);
  await reconciler.load();
  await reconciler.reconcile(state);
  return { host, reconciler };
}

describe('routed prefixes on the in-memory host', () => {
  it('installs one route per prefix via its next hop, and a second run changes nothing', async () => {
    const { host, reconciler } = await convergedOn(routedState(2));
    expect(routesOf(host)).toEqual([
      '2001:db8:1000::/56 via 2001:db8:200:1::a dev eth2 proto 118',
      '2001:db8:1001::/56 via 2001:db8:200:1::b dev eth2 proto 118',
    ]);
    const again = await reconciler.reconcile(routedState(2));
    expect(again.applied).toEqual([]);
  });

  it('moves one prefix among a thousand with one route replace, never a delete', async () => {
    const { host, reconciler } = await convergedOn(routedState(1000));
    expect(host.prefixRoutes).toHaveLength(1000);
    const before = routesOf(host);
    const writes = host.writes.length;
    const moved = routedState(1000, (i) => (i === 500 ? '2001:db8:200:1::ff' : `2001:db8:200:1::${(10 + (i % 100)).toString(16)}`));
    const result = await reconciler.reconcile(moved);
    expect(result.applied).toEqual(['replaceRoutedRoutes 2001:db8:11f4::/56 via 2001:db8:200:1::ff dev eth2']);
    expect(host.writes.slice(writes).filter((w) => w.startsWith('ip '))).toEqual(['ip -6 route replace 2001:db8:11f4::/56 via 2001:db8:200:1::ff dev eth2 proto 118']);
    const after = routesOf(host);
    expect(after.filter((r) => !before.includes(r))).toEqual(['2001:db8:11f4::/56 via 2001:db8:200:1::ff dev eth2 proto 118']);
    expect(after).toHaveLength(1000);
  });

  it('lists no chain for a move right after the push that rewrote the forward chain, and learns it at the next resync', async () => {
    const one = routedState(1);
    const { host, reconciler } = await convergedOn(one);
    await reconciler.reconcile(one);
    await reconciler.reconcile(routedState(1000));
    const [listings, chainListings] = [host.listings, host.chainListings];
    const moved = routedState(1000, (i) => (i === 500 ? '2001:db8:200:1::ff' : `2001:db8:200:1::${(10 + (i % 100)).toString(16)}`));
    const result = await reconciler.reconcile(moved);
    expect(result.applied).toEqual(['replaceRoutedRoutes 2001:db8:11f4::/56 via 2001:db8:200:1::ff dev eth2']);
    expect([host.listings, host.chainListings]).toEqual([listings, chainListings]);
    // The resync reconciles the same state object: it lists the two base chains the thousand prefixes rewrote.
    expect((await reconciler.reconcile(moved)).applied).toEqual([]);
    expect([host.listings, host.chainListings]).toEqual([listings, chainListings + 2]);
    expect(routesOf(host)).toContain('2001:db8:11f4::/56 via 2001:db8:200:1::ff dev eth2 proto 118');
  });

  it('moves a prefix to another network by the same one replace', async () => {
    const { host, reconciler } = await convergedOn(routedState(1));
    const input = vpcInput();
    input.schemaVersion = 2;
    input.guestNetworks[1].routedPrefixes = [{ prefix: '2001:db8:1000::/56', nextHop: 'fe80::5054:ff:fe00:99' }];
    await reconciler.reconcile(DesiredState.parse(input));
    expect(routesOf(host)).toEqual(['2001:db8:1000::/56 via fe80::5054:ff:fe00:99 dev eth3 proto 118']);
  });

  it('removes a route the state no longer names, and one an earlier agent left', async () => {
    const { host, reconciler } = await convergedOn(routedState(2));
    host.prefixRoutes.push({ destination: '2001:db8:9999::/48', gateway: '2001:db8:200:2::5', interface: 'eth3', protocol: '118' });
    await reconciler.reconcile(routedState(1));
    expect(routesOf(host)).toEqual(['2001:db8:1000::/56 via 2001:db8:200:1::a dev eth2 proto 118']);
  });

  it('leaves alone a route to the prefix that it did not make, and says so', async () => {
    const host = new MemoryHost(['eth1', 'eth2', 'eth3']);
    host.prefixRoutes.push({ destination: '2001:db8:1000::/56', gateway: '2001:db8:200:1::77', interface: 'eth2', protocol: 'static' });
    const reconciler = new Reconciler(host, config, silent);
    await reconciler.load();
    const result = await reconciler.reconcile(routedState(2));
    expect(result.warnings).toContainEqual(expect.stringMatching(/^routed prefix 2001:db8:1000::\/56 already has a route of protocol static/));
    expect(routesOf(host)).toEqual([
      '2001:db8:1000::/56 via 2001:db8:200:1::77 dev eth2 proto static',
      '2001:db8:1001::/56 via 2001:db8:200:1::b dev eth2 proto 118',
    ]);
    // Nor does it remove it when the prefix goes from the state.
    await reconciler.reconcile(routedState(0));
    expect(routesOf(host)).toEqual(['2001:db8:1000::/56 via 2001:db8:200:1::77 dev eth2 proto static']);
  });

  it('routes nothing for the plain CIDRs of schemaVersion 1', async () => {
    const input = vpcInput();
    input.guestNetworks[0].routedPrefixes = ['2001:db8:1000::/56'];
    const { host } = await convergedOn(DesiredState.parse(input));
    expect(host.prefixRoutes).toEqual([]);
  });
});

describe('routed prefixes planned against a memory of the routes', () => {
  const movedAt = (moved: number) => routedState(1000, (i) => (i === moved ? '2001:db8:200:1::ff' : `2001:db8:200:1::${(10 + (i % 100)).toString(16)}`));

  it('dumps no route for a move among a thousand, and dumps them at the next resync', async () => {
    const { host, reconciler } = await convergedOn(routedState(1000));
    const dumps = host.routeDumps;
    const moved = movedAt(500);
    expect((await reconciler.reconcile(moved)).applied).toEqual(['replaceRoutedRoutes 2001:db8:11f4::/56 via 2001:db8:200:1::ff dev eth2']);
    expect(host.routeDumps).toBe(dumps);
    expect((await reconciler.reconcile(moved)).applied).toEqual([]);
    expect(host.routeDumps).toBe(dumps + 1);
  });

  it('sees a route someone else changed since the last reconcile, at the next push', async () => {
    const { host, reconciler } = await convergedOn(routedState(1000));
    const converged = routesOf(host);
    await host.exec(['ip', '-6', 'route', 'replace', '2001:db8:1001::/56', 'via', '2001:db8:200:1::77', 'dev', 'eth2', 'proto', '118']);
    await host.exec(['ip', '-6', 'route', 'del', '2001:db8:1002::/56', 'via', '2001:db8:200:1::c', 'dev', 'eth2', 'proto', '118']);
    // The same routes in a new push: a plan against the memory would find nothing to do.
    const result = await reconciler.reconcile(routedState(1000));
    expect(result.applied).toEqual(['replaceRoutedRoutes 2001:db8:1001::/56 via 2001:db8:200:1::b dev eth2, 2001:db8:1002::/56 via 2001:db8:200:1::c dev eth2']);
    expect(routesOf(host)).toEqual(converged);
  });

  it('sees a route changed behind its back while it applied a move, in the same reconcile', async () => {
    const { host, reconciler } = await convergedOn(routedState(1000));
    const observations = host.observations;
    host.afterObservation = () => {
      if (host.observations !== observations + 1) return;
      host.prefixRoutes = host.prefixRoutes.filter((route) => route.destination !== '2001:db8:1002::/56');
    };
    const result = await reconciler.reconcile(movedAt(500));
    expect(result.isConverged).toBe(true);
    expect(routesOf(host)).toEqual(routesOf((await convergedOn(movedAt(500))).host));
  });
});

describe('routed prefixes and a change the kernel does not notify', () => {
  afterEach(() => vi.useRealTimers());
  const dropped = '2001:db8:1002::/56';
  const dropSilently = (host: MemoryHost) => host.unnotified(() => (host.prefixRoutes = host.prefixRoutes.filter((route) => route.destination !== dropped)));

  it('is seen by the first observation a resync period after the last dump, also of a state that never converges', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const { host, reconciler } = await convergedOn(routedState(3));
    // Then the interfaces file is gone and cannot be written: a new push never converges, so the loop calls no run of it a resync.
    host.files.delete(config.paths.interfacesFile);
    host.fullPaths = /interfaces/;
    const refused = routedState(3);
    expect((await reconciler.reconcile(refused)).isConverged).toBe(false);
    dropSilently(host);
    await reconciler.reconcile(refused);
    expect(routesOf(host).some((route) => route.startsWith(dropped))).toBe(false);
    vi.setSystemTime(Date.now() + config.resyncSeconds * 1000);
    await reconciler.reconcile(refused);
    expect(routesOf(host).some((route) => route.startsWith(dropped))).toBe(true);
  });
});

describe('routed prefixes in a redundant pair', () => {
  it('routes on the guest link with onlink, where the pair keeps no /64 (it is on the primary’s virtual-MAC interface), and a second run changes nothing', async () => {
    const input = redundantInput();
    input.schemaVersion = 2;
    input.guestNetworks[0].routedPrefixes = [{ prefix: '2001:db8:300::/56', nextHop: '2001:db8:200:1::10' }];
    const state = DesiredState.parse(input);
    const host = new MemoryHost(['eth1', 'eth2', 'eth9']);
    const reconciler = new Reconciler(host, config, silent);
    await reconciler.load();
    await reconciler.reconcile(state);
    expect(host.prefixRoutes).toEqual([{ destination: '2001:db8:300::/56', gateway: '2001:db8:200:1::10', interface: 'eth2', protocol: '118', isOnLink: true }]);
    const again = await reconciler.reconcile(state);
    expect(again.applied.filter((step) => step.includes('RoutedRoutes'))).toEqual([]);
  });
});
