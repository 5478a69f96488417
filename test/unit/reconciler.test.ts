import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { MemoryHost, type MemoryTable } from '../support/memory-host.js';
import { Reconciler } from '../../src/reconcile/reconciler.js';
import { renderHost } from '../../src/render/host-facts.js';
import { renderRulesetDocument } from '../../src/render/ruleset-document.js';
import { DesiredState } from '../../src/schema/desired-state.js';
import { agentConfigIn } from '../support/agent-config.js';
import { readSeed, seededRandom } from '../support/seed.js';
import { isolatedInput, vpcInput } from '../support/states.js';

const config = agentConfigIn('/vr');
const silent = pino({ level: 'silent' });

function states(): Record<string, DesiredState> {
  const renumbered = vpcInput();
  renumbered.guestNetworks = [{ ...renumbered.guestNetworks[1], prefix: '2001:db8:200:9::/64' }];
  const bare = isolatedInput();
  bare.guestNetworks = [];
  const fixed = isolatedInput();
  fixed.public = { interface: 'eth1', mode: 'static', address: '2001:db8:100::5/64', gateway: '2001:db8:100::1' };
  const inputs = { isolated: isolatedInput(), vpc: vpcInput(), renumbered, bare, fixed };
  return Object.fromEntries(Object.entries(inputs).map(([name, input]) => [name, DesiredState.parse(input)]));
}

/** Asserts that the fake host is exactly what the state asks for. */
function expectConverged(host: MemoryHost, state: DesiredState) {
  const rendered = renderHost(state);
  const key = (a: { interface: string; address: string; prefixLength: number }) => `${a.interface} ${a.address}/${a.prefixLength}`;
  expect(host.addresses.map(key).sort()).toEqual(rendered.addresses.map(key).sort());
  for (const { key: sysctl, value } of rendered.sysctls) expect(host.sysctls.get(sysctl), sysctl).toBe(value);
  const document = renderRulesetDocument(rendered.ruleset) as unknown as { nftables: Record<string, unknown>[] };
  // Incremental updates may add objects in another order than a full load; what counts is each object.
  const contents = (table: MemoryTable | null) => table && { counters: [...table.counters.keys()].sort(), chains: Object.fromEntries(table.chains) };
  expect(contents(host.table)).toEqual(contents(new MemoryHost().loadDocument(document).table));
  expect(host.files.get(config.paths.radvdConfig) ?? null).toBe(rendered.radvdConf);
  expect(host.radvdPids()).toHaveLength(rendered.radvdConf === null ? 0 : 1);
  expect(host.routes.filter((r) => r.protocol === '118').map((r) => r.gateway)).toEqual(rendered.defaultRoute ? [rendered.defaultRoute.gateway] : []);
}

/** A host converged on the VPC state, resynced once so every chain has been listed. */
async function converged() {
  const host = new MemoryHost(['eth1', 'eth2', 'eth3']);
  const reconciler = new Reconciler(host, config, silent);
  await reconciler.load();
  // The agent hands the reconciler the same state object on every resync, and only a resync learns the chains it wrote.
  const vpc = states().vpc!;
  await reconciler.reconcile(vpc);
  await reconciler.reconcile(vpc);
  return { host, reconciler };
}

/** The VPC state with one ACL item's port changed: a change to the firewall alone. */
function withOneItemChanged(): DesiredState {
  const changed = vpcInput();
  changed.aclLists[0].items[0].ports = { start: 8443, end: 8443 };
  return DesiredState.parse(changed);
}

describe('Reconciler on the in-memory host', () => {
  it('converges through states in pseudorandom order, and a second run writes nothing', async () => {
    // A fixed walk unless SEED asks for another: the unit loop stays repeatable.
    const seed = readSeed(() => 4890);
    const random = seededRandom(seed);
    const all = states();
    const names = Object.keys(all);
    const host = new MemoryHost(['eth1', 'eth2', 'eth3']);
    const reconciler = new Reconciler(host, config, silent);
    await reconciler.load();
    for (let i = 0; i < 40; i++) {
      const name = names[Math.floor(random() * names.length)]!;
      const state = all[name]!;
      const first = await reconciler.reconcile(state);
      expect(first.ok, `seed ${seed} step ${i} ${name}: ${first.errors.join('; ')}`).toBe(true);
      expectConverged(host, state);
      const writes = host.writes.length;
      const second = await reconciler.reconcile(state);
      expect(second.applied, `seed ${seed} step ${i} ${name}`).toEqual([]);
      expect(host.writes.slice(writes), `seed ${seed} step ${i} ${name}`).toEqual([]);
    }
  });

  it('sweeps addresses an earlier agent added, from the persisted list', async () => {
    const all = states();
    const host = new MemoryHost(['eth1', 'eth2', 'eth3']);
    const first = new Reconciler(host, config, silent);
    await first.load();
    await first.reconcile(all.vpc!);
    const restarted = new Reconciler(host, config, silent);
    await restarted.load();
    await restarted.reconcile(all.renumbered!);
    expectConverged(host, all.renumbered!);
  });

  it('leaves addresses it does not own alone', async () => {
    const host = new MemoryHost(['eth1', 'eth2', 'eth3']);
    host.addresses.push({ interface: 'eth2', address: '2001:db8:777::1', prefixLength: 64 });
    const reconciler = new Reconciler(host, config, silent);
    await reconciler.load();
    await reconciler.reconcile(states().isolated!);
    expect(host.addresses).toContainEqual({ interface: 'eth2', address: '2001:db8:777::1', prefixLength: 64 });
  });

  it('changes nothing when radvd rejects the config, and keeps forwarding off', async () => {
    const host = new MemoryHost(['eth1', 'eth2', 'eth3']);
    host.refuseOn = /^radvd -c/;
    const reconciler = new Reconciler(host, config, silent);
    await reconciler.load();
    const result = await reconciler.reconcile(states().isolated!);
    expect(result.ok).toBe(false);
    expect(result.components.radvd.status).toBe('failed');
    expect(result.components.firewall.status).toBe('skipped');
    expect(host.table).toBeNull();
    expect(host.addresses).toEqual([]);
    expect(host.sysctls.get('net/ipv6/conf/all/forwarding')).toBe('0');
  });

  it('still converges when the sweep list cannot be saved (a full disk), and warns about it', async () => {
    const host = new MemoryHost(['eth1', 'eth2', 'eth3']);
    const reconciler = new Reconciler(host, config, silent);
    await reconciler.load();
    host.fullPaths = /owned-addresses\.json$/;
    const result = await reconciler.reconcile(states().vpc!);
    expect(result.ok).toBe(true);
    expect(result.warnings).toEqual([expect.stringMatching(/^cannot save the addresses the agent owns \(ENOSPC/)]);
    expectConverged(host, states().vpc!);
    host.fullPaths = null;
    expect((await reconciler.reconcile(states().vpc!)).warnings).toEqual([]);
    expect(host.files.get(`${config.paths.stateDir}/owned-addresses.json`)).toContain('2001:db8:200:1::1');
  });

  it('reports a host that keeps undoing a write as not converged, naming what still differs', async () => {
    const stubborn = 'net/ipv6/conf/eth2/accept_ra';
    // A host that takes the write and keeps its old value, as something fighting the agent would.
    const host = new (class extends MemoryHost {
      override async writeSysctl(key: string, value: string): Promise<void> {
        if (key !== stubborn) await super.writeSysctl(key, value);
      }
    })(['eth1', 'eth2', 'eth3']);
    const reconciler = new Reconciler(host, config, silent);
    await reconciler.load();
    const result = await reconciler.reconcile(states().isolated!);
    expect(result).toMatchObject({ ok: false, isConverged: false, remaining: [`sysctl ${stubborn}: 1 -> 0`] });
    expect(result.errors).toEqual([`not converged after 3 passes: the host still differs (sysctl ${stubborn}: 1 -> 0)`]);
    expect(result.components.sysctls).toMatchObject({ status: 'failed', error: `not converged: sysctl ${stubborn}: 1 -> 0` });
    expect(host.sysctls.get(stubborn)).toBe('1');
    // Everything else was applied, forwarding last.
    expect(host.sysctls.get('net/ipv6/conf/all/forwarding')).toBe('1');
  });

  it('never turns forwarding on when the ruleset fails to load', async () => {
    const host = new MemoryHost(['eth1', 'eth2', 'eth3']);
    host.failOn = /^nft -j -f/;
    const reconciler = new Reconciler(host, config, silent);
    await reconciler.load();
    const result = await reconciler.reconcile(states().isolated!);
    expect(result.components.firewall).toMatchObject({ status: 'failed' });
    expect(host.sysctls.get('net/ipv6/conf/all/forwarding')).toBe('0');
    const retry = await reconciler.reconcile(states().isolated!);
    expect(retry.ok).toBe(true);
    expectConverged(host, states().isolated!);
  });

  it('reloads the ruleset when someone edits the table behind its back', async () => {
    const host = new MemoryHost(['eth1', 'eth2', 'eth3']);
    const reconciler = new Reconciler(host, config, silent);
    await reconciler.load();
    const isolated = states().isolated!;
    await reconciler.reconcile(isolated);
    await reconciler.reconcile(isolated);
    host.editTable((table) => (table!.chains.get('forward')!.rules.pop(), table));
    const result = await reconciler.reconcile(states().isolated!);
    expect(result.applied).toEqual([expect.stringMatching(/^updateRuleset forward \(/)]);
    expect(result.repaired).toEqual(['chain forward was changed']);
    expectConverged(host, states().isolated!);
  });

  it('waits for a missing interface and says so', async () => {
    const host = new MemoryHost(['eth1', 'eth2']);
    const reconciler = new Reconciler(host, config, silent);
    await reconciler.load();
    const result = await reconciler.reconcile(states().vpc!);
    expect(result.ok).toBe(true);
    expect(result.warnings).toContainEqual(expect.stringMatching(/eth3 does not exist/));
    host.addLink('eth3', '52:54:00:00:00:33');
    await reconciler.reconcile(states().vpc!);
    expectConverged(host, states().vpc!);
  });
});

describe('other tables on our hooks', () => {
  it('warns about a base chain of another IPv6 table that has policy drop, and ignores IPv4', async () => {
    const host = new MemoryHost(['eth1', 'eth2', 'eth3']);
    host.foreignChains = [
      { family: 'inet', table: 'filter', name: 'forward', type: 'filter', hook: 'forward', prio: 0, policy: 'drop' },
      { family: 'ip', table: 'v4', name: 'input', type: 'filter', hook: 'input', prio: 0, policy: 'drop' },
      { family: 'ip6', table: 'vr6_agent', name: 'input', type: 'filter', hook: 'input', prio: 0, policy: 'drop' },
    ];
    const reconciler = new Reconciler(host, config, silent);
    await reconciler.load();
    const result = await reconciler.reconcile(states().isolated!);
    expect(result.warnings).toEqual([
      'table inet filter has base chain forward on hook forward that has policy drop: a drop there overrides what vr6_agent accepts',
    ]);
  });
});

describe('a restarted agent and its table', () => {
  it('updates chain by chain from the persisted memory, keeping untouched chains and counters', async () => {
    const all = states();
    const host = new MemoryHost(['eth1', 'eth2', 'eth3']);
    const first = new Reconciler(host, config, silent);
    await first.load();
    await first.reconcile(all.vpc!);
    host.table!.counters.set('usage_egress_eth2', { packets: 7, bytes: 700 });
    const restarted = new Reconciler(host, config, silent);
    await restarted.load();
    const changed = vpcInput();
    changed.aclLists[1].items = [{ number: 5, action: 'allow', direction: 'ingress', protocol: 'udp', ports: { start: 53, end: 53 } }];
    const result = await restarted.reconcile(DesiredState.parse(changed));
    // A restarted agent SIGHUPs a running radvd once, since it cannot know what that radvd read.
    expect(result.applied).toEqual([expect.stringMatching(/^updateRuleset ingress_eth3 \(/), 'reloadRadvd pid 1000']);
    expect(host.table!.counters.get('usage_egress_eth2')).toEqual({ packets: 7, bytes: 700 });
  });
});

describe('resyncs and the nf_tables generation id', () => {
  it('does not list an unchanged table', async () => {
    const { host, reconciler } = await converged();
    const listings = host.listings;
    for (let i = 0; i < 3; i++) expect((await reconciler.reconcile(states().vpc!)).applied).toEqual([]);
    expect(host.listings).toBe(listings);
  });

  it('lists once after a commit elsewhere, then trusts the new generation', async () => {
    const { host, reconciler } = await converged();
    const listings = host.listings;
    host.generation += 5;
    expect((await reconciler.reconcile(states().vpc!)).applied).toEqual([]);
    expect((await reconciler.reconcile(states().vpc!)).applied).toEqual([]);
    expect(host.listings).toBe(listings + 1);
  });

  it('finds and repairs an edit that moved the generation, and says what it was', async () => {
    const { host, reconciler } = await converged();
    host.editTable((table) => (table!.chains.get('ingress_eth2')!.rules.shift(), table));
    const result = await reconciler.reconcile(states().vpc!);
    expect(result.repaired).toEqual(['chain ingress_eth2 was changed']);
    expectConverged(host, states().vpc!);
  });

  it('falls back to listing every time without the helper', async () => {
    const host = new MemoryHost(['eth1', 'eth2', 'eth3']);
    const reconciler = new Reconciler(host, agentConfigIn('/vr', { commands: { nftGenid: '' } }), silent);
    await reconciler.load();
    await reconciler.reconcile(states().vpc!);
    const listings = host.listings;
    await reconciler.reconcile(states().vpc!);
    expect(host.listings).toBe(listings + 1);
    host.editTable((table) => (table!.chains.get('forward')!.rules.pop(), table));
    host.generation = 1;
    expect((await reconciler.reconcile(states().vpc!)).repaired).toEqual(['chain forward was changed']);
  });
});

describe('a large table with no base chain yet', () => {
  it('is loaded in stages, hooked in by the last one, and then trusted without a listing', async () => {
    const input = vpcInput();
    input.aclLists[0].items = Array.from({ length: 2500 }, (_, i) => ({ number: i + 1, action: 'allow', direction: 'ingress', protocol: 'tcp', ports: { start: 1000 + (i % 60000), end: 1000 + (i % 60000) } }));
    const state = DesiredState.parse(input);
    const host = new MemoryHost(['eth1', 'eth2', 'eth3']);
    const reconciler = new Reconciler(host, config, silent);
    await reconciler.load();
    const first = await reconciler.reconcile(state);
    expect(first.applied.filter((step) => step.startsWith('load'))).toEqual([expect.stringMatching(/^loadRulesetStaged \(4 transactions/)]);
    expectConverged(host, state);
    const listings = host.listings;
    await reconciler.reconcile(state);
    await reconciler.reconcile(state);
    expect(host.listings).toBe(listings + 1);
  });
});

describe('supervising radvd', () => {
  it('restarts a radvd that died and reports it as a repair', async () => {
    const host = new MemoryHost(['eth1', 'eth2', 'eth3']);
    const reconciler = new Reconciler(host, config, silent);
    await reconciler.load();
    await reconciler.reconcile(states().vpc!);
    const [pid] = host.radvdPids();
    host.processes.delete(pid!);
    const result = await reconciler.reconcile(states().vpc!);
    expect(result.repaired).toEqual(['radvd was not running']);
    expect(host.radvdPids()).toHaveLength(1);
    expect(host.radvdPids()[0]).not.toBe(pid);
  });
});

describe('a change to the firewall alone', () => {
  it('converges in one pass when the generation id proves the commit was the only one', async () => {
    const { host, reconciler } = await converged();
    const changed = withOneItemChanged();
    const observations = host.observations;
    const result = await reconciler.reconcile(changed);
    expect(result.applied).toEqual([expect.stringMatching(/^updateRuleset ingress_eth2 \(/)]);
    expect(host.observations).toBe(observations + 1);
    expectConverged(host, changed);
  });
});

describe('learning the chains a push rewrote', () => {
  it('lists only those chains, once, and a later listing of the whole table agrees with what it learned', async () => {
    const { host, reconciler } = await converged();
    const changed = withOneItemChanged();
    await reconciler.reconcile(changed);
    const [listings, chainListings] = [host.listings, host.chainListings];
    expect((await reconciler.reconcile(changed)).applied).toEqual([]);
    expect([host.listings, host.chainListings]).toEqual([listings, chainListings + 1]);
    expect((await reconciler.reconcile(changed)).applied).toEqual([]);
    expect([host.listings, host.chainListings]).toEqual([listings, chainListings + 1]);
    // A commit elsewhere makes the next resync list the table: the chain learned alone must match it.
    host.generation += 1;
    const afterCommitElsewhere = await reconciler.reconcile(changed);
    expect(host.listings).toBe(listings + 1);
    expect(afterCommitElsewhere.applied).toEqual([]);
    expect(afterCommitElsewhere.repaired).toEqual([]);
  });

  it('lists the table when a push rewrote many chains', async () => {
    const { host, reconciler } = await converged();
    const changed = vpcInput();
    for (const list of changed.aclLists) {
      list.items = ['ingress', 'egress'].map((direction, i) => ({ number: 7 + i, action: 'deny', direction, protocol: 'udp', ports: { start: 9, end: 9 } }));
    }
    const state = DesiredState.parse(changed);
    expect((await reconciler.reconcile(state)).applied.filter((step) => step.startsWith('updateRuleset'))).toHaveLength(1);
    const [listings, chainListings] = [host.listings, host.chainListings];
    await reconciler.reconcile(state);
    expect([host.listings, host.chainListings]).toEqual([listings + 1, chainListings]);
  });
});

describe('a commit of someone else during our own', () => {
  it('trusts nothing it wrote, and repairs an edit of a chain it did not touch', async () => {
    const { host, reconciler } = await converged();
    const changed = withOneItemChanged();
    host.afterLoad = () => {
      host.afterLoad = null;
      host.editTable((table) => (table!.chains.get('egress_eth3')!.rules.pop(), table));
    };
    // The id moved by two: the verifying pass lists the table and finds the edit at once.
    const result = await reconciler.reconcile(changed);
    expect(result.repaired).toEqual(['chain egress_eth3 was changed']);
    expectConverged(host, changed);
    expect((await reconciler.reconcile(changed)).applied).toEqual([]);
  });
});

describe('a commit of someone else while the table is listed', () => {
  it('learns nothing from that listing, and repairs the table at once', async () => {
    const { host, reconciler } = await converged();
    const changed = withOneItemChanged();
    await reconciler.reconcile(changed);
    // The next reconcile reads the generation id, then lists to learn the chain it wrote;
    // an `nft flush table` lands in between, as in the lab when a test flushes right after an event.
    host.beforeList = () => {
      host.beforeList = null;
      host.editTable((table) => {
        for (const chain of table!.chains.values()) chain.rules = [];
        return table;
      });
    };
    await reconciler.reconcile(changed);
    expectConverged(host, changed);
  });
});

describe('reporting repairs', () => {
  it('names a flipped sysctl and a removed gateway when the desired state is the one the host had converged to', async () => {
    // The agent hands the reconciler the same accepted state object on every resync.
    const vpc = states().vpc!;
    const host = new MemoryHost(['eth1', 'eth2', 'eth3']);
    const reconciler = new Reconciler(host, config, silent);
    await reconciler.load();
    await reconciler.reconcile(vpc);
    expect((await reconciler.reconcile(vpc)).repaired).toEqual([]);
    const gateway = host.addresses.find((a) => a.interface === 'eth2')!;
    host.addresses = host.addresses.filter((a) => a !== gateway);
    host.sysctls.set('net/ipv6/conf/all/forwarding', '0');
    const result = await reconciler.reconcile(vpc);
    expect(result.repaired).toEqual(
      expect.arrayContaining(['sysctl net/ipv6/conf/all/forwarding was 0', `address ${gateway.address}/${gateway.prefixLength} was missing on eth2`]),
    );
    expectConverged(host, states().vpc!);
  });

  it('calls nothing a repair while it applies a new desired state', async () => {
    const { reconciler } = await converged();
    expect((await reconciler.reconcile(states().renumbered!)).repaired).toEqual([]);
  });
});
