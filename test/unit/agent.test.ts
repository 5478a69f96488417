import pino from 'pino';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { Agent } from '../../src/daemon/agent.js';
import { MemoryHost } from '../support/memory-host.js';
import type { AgentMessage } from '../../src/schema/protocol.js';
import { agentConfigIn } from '../support/agent-config.js';
import { isolatedInput, vpcInput } from '../support/states.js';

const config = agentConfigIn('/vr', { routerId: 'r-1-VM' });

describe('Agent on the in-memory host', () => {
  let host: MemoryHost;
  let sent: AgentMessage[];
  let agent: Agent;
  const acks = () => sent.filter((m) => m.type === 'ack');

  beforeEach(async () => {
    host = new MemoryHost(['eth1', 'eth2', 'eth3']);
    sent = [];
    agent = new Agent({ host, config, log: pino({ level: 'silent' }), version: 'test', send: (m) => (sent.push(m), true) });
    await agent.start();
  });

  it('accepts, persists and applies a new generation, then reports it', async () => {
    await agent.handleMessage({ type: 'desired', generation: 3, spec: isolatedInput() });
    await agent.idle();
    expect(acks()).toEqual([{ type: 'ack', generation: 3, status: 'accepted', errors: [] }]);
    expect(JSON.parse(host.files.get('/vr/state/desired.json')!)).toEqual({ generation: 3, spec: isolatedInput() });
    expect(host.addresses).toContainEqual({ interface: 'eth2', address: '2001:db8:200:1::1', prefixLength: 64 });
    expect(sent.find((m) => m.type === 'applied')).toMatchObject({ generation: 3, ok: true });
    expect(agent.hello()).toMatchObject({ lastAppliedGeneration: 3, lastAcceptedGeneration: 3 });
  });

  it('reports a reconcile that did not converge as such, and tries again', async () => {
    const writeSysctl = host.writeSysctl.bind(host);
    host.writeSysctl = async (key, value) => (key === 'net/ipv6/conf/eth2/accept_ra' ? undefined : writeSysctl(key, value));
    await agent.handleMessage({ type: 'desired', generation: 3, spec: isolatedInput() });
    await agent.idle();
    expect(sent.find((m) => m.type === 'applied')).toMatchObject({
      generation: 3,
      ok: false,
      isConverged: false,
      remaining: ['sysctl net/ipv6/conf/eth2/accept_ra: 1 -> 0'],
    });
    expect(agent.snapshot().lastApplied).toMatchObject({ ok: false, isConverged: false });
  });

  it('acknowledges stale, duplicate and reused generations without applying them', async () => {
    await agent.handleMessage({ type: 'desired', generation: 5, spec: isolatedInput() });
    await agent.idle();
    const writes = host.writes.length;
    const other = isolatedInput();
    other.guestNetworks[0].prefix = '2001:db8:200:7::/64';
    await agent.handleMessage({ type: 'desired', generation: 4, spec: other });
    await agent.handleMessage({ type: 'desired', generation: 5, spec: isolatedInput() });
    await agent.handleMessage({ type: 'desired', generation: 5, spec: other });
    await agent.idle();
    expect(acks().map((a) => a.status)).toEqual(['accepted', 'stale', 'duplicate', 'rejected']);
    expect(acks()[3]!.errors).toEqual([{ path: '$.generation', message: 'was already accepted with a different spec' }]);
    expect(host.writes.length).toBe(writes);
  });

  it('handles generations pushed back to back in order, ending on the newest', async () => {
    const other = isolatedInput();
    other.guestNetworks[0].prefix = '2001:db8:200:7::/64';
    void agent.handleMessage({ type: 'desired', generation: 6, spec: isolatedInput() });
    await agent.handleMessage({ type: 'desired', generation: 7, spec: other });
    await agent.idle();
    expect(acks().map((a) => [a.generation, a.status])).toEqual([[6, 'accepted'], [7, 'accepted']]);
    // The old prefix is deprecated (RFC 9096), its gateway kept for the window.
    expect(host.addresses.map((a) => a.address).sort()).toEqual(['2001:db8:200:1::1', '2001:db8:200:7::1']);
    expect(host.files.get('/vr/run/radvd.conf')).toMatch(/prefix 2001:db8:200:1::\/64\n    \{\n[^}]*AdvValidLifetime 0;\n        AdvPreferredLifetime 0;/);
  });

  it('rejects a bad spec with JSON paths and keeps the host as it was', async () => {
    await agent.handleMessage({ type: 'desired', generation: 1, spec: isolatedInput() });
    await agent.idle();
    const before = JSON.stringify({ a: host.addresses, t: host.listTable(), f: [...host.files] });
    const bad = isolatedInput();
    bad.guestNetworks[0].interface = 'eth2\n}';
    await agent.handleMessage({ type: 'desired', generation: 2, spec: bad });
    await agent.idle();
    expect(acks()[1]).toMatchObject({ status: 'rejected', errors: [{ path: '$.spec.guestNetworks[0].interface' }] });
    expect(JSON.stringify({ a: host.addresses, t: host.listTable(), f: [...host.files] })).toBe(before);
  });

  it('refuses a PREF64 that no backend of it can send, naming the field', async () => {
    const input = isolatedInput();
    input.guestNetworks[0].ra = { pref64: '64:ff9b::/96' };
    await agent.handleMessage({ type: 'desired', generation: 1, spec: input });
    expect(acks()[0]).toMatchObject({ status: 'rejected', errors: [{ path: '$.spec.guestNetworks[0].ra.pref64' }] });
    expect(host.writes).toEqual([]);
  });

  it("refuses another router's state, and route information options FRR cannot send", async () => {
    const other = vpcInput();
    const frr = vpcInput();
    frr.router.id = 'r-1-VM';
    frr.raBackend = 'frr';
    frr.guestNetworks[1].ra = { routes: [{ prefix: '2001:db8:ffff::/48' }] };
    await agent.handleMessage({ type: 'desired', generation: 1, spec: other });
    await agent.handleMessage({ type: 'desired', generation: 2, spec: frr });
    expect(acks().map((a) => a.errors[0]?.path)).toEqual(['$.spec.router.id', '$.spec.guestNetworks[1].ra.routes']);
    expect(host.writes).toEqual([]);
  });

  it('reports what a resync that changed nothing observed, reading the host once', async () => {
    await agent.handleMessage({ type: 'desired', generation: 2, spec: isolatedInput() });
    await agent.idle();
    host.addresses.push({ interface: 'eth1', address: '2001:db8:100::5', prefixLength: 64 });
    const observations = host.observations;
    await agent.reconcileNow();
    expect(host.observations).toBe(observations + 1);
    expect(agent.snapshot().lastObserved?.publicAddress?.address).toBe('2001:db8:100::5');
  });

  it('reads the host again for its report when an address event came during the reconcile', async () => {
    await agent.handleMessage({ type: 'desired', generation: 2, spec: isolatedInput() });
    await agent.idle();
    // The event arrives while the reconcile runs (here: as it reads the host), with an address the run did not see.
    host.afterObservation = () => {
      host.afterObservation = null;
      host.addresses.push({ interface: 'eth1', address: '2001:db8:100::5', prefixLength: 64 });
      agent.onMonitorEvent({ kind: 'link', interface: 'eth9', isDeleted: false });
    };
    await agent.reconcileNow();
    expect(agent.snapshot().lastObserved?.publicAddress?.address).toBe('2001:db8:100::5');
  });

  describe('writing the accepted state beside its reconcile', () => {
    const STATE = '/vr/state/desired.json';
    const RADVD = '/vr/run/radvd.conf';
    const withPrefix = (prefix: string) => {
      const spec = isolatedInput();
      spec.guestNetworks[0].prefix = prefix;
      return spec;
    };
    const gateways = () => host.addresses.filter((a) => a.interface === 'eth2').map((a) => a.address);
    /** The host outside the state directory: what a push may change only once it is written down. */
    const world = () => JSON.stringify({ a: host.addresses, r: host.routes, p: host.prefixRoutes, t: host.listTable(), f: [...host.files].filter(([path]) => !path.startsWith('/vr/state/')) });
    /** Holds each write of the accepted state for `delayOf(n)` (the n-th write, from 0), a promise of the test's. */
    const delayStateWrites = (delayOf: (index: number) => Promise<void>) => {
      const write = host.writeFileAtomic.bind(host);
      let count = 0;
      host.writeFileAtomic = async (path, content) => {
        if (path === STATE) await delayOf(count++);
        return write(path, content);
      };
    };

    beforeEach(async () => {
      await agent.handleMessage({ type: 'desired', generation: 1, spec: isolatedInput() });
      await agent.idle();
    });

    it('rejects a push it cannot write, leaves the host on the last good state, and applies the next good one', async () => {
      const before = world();
      const persisted = host.files.get(STATE);
      host.fullPaths = /\/desired\.json$/;
      await agent.handleMessage({ type: 'desired', generation: 2, spec: withPrefix('2001:db8:200:7::/64') });
      await agent.idle();
      expect(acks()[1]).toEqual({ type: 'ack', generation: 2, status: 'rejected', errors: [{ path: '$', message: expect.stringMatching(/^cannot persist: ENOSPC/) }] });
      expect(world()).toBe(before);
      expect(host.files.get(STATE)).toBe(persisted);
      expect(sent.filter((m) => m.type === 'applied').map((m) => m.generation)).toEqual([1]);
      expect(agent.hello()).toMatchObject({ lastAcceptedGeneration: 1, lastAppliedGeneration: 1 });

      host.fullPaths = null;
      await agent.handleMessage({ type: 'desired', generation: 3, spec: withPrefix('2001:db8:200:7::/64') });
      await agent.idle();
      expect(acks()[2]).toMatchObject({ generation: 3, status: 'accepted' });
      expect(gateways()).toContain('2001:db8:200:7::1');
      expect(JSON.parse(host.files.get(STATE)!).generation).toBe(3);
    });

    it('observes and plans while the state is written, and changes the host only once it is', async () => {
      let release!: () => void;
      const released = new Promise<void>((resolve) => (release = resolve));
      delayStateWrites(() => released);
      const writeFile = host.writeFileAtomic.bind(host);
      let observationsAtApply: number | null = null;
      host.writeFileAtomic = async (path, content) => {
        if (path === RADVD) observationsAtApply ??= host.observations;
        return writeFile(path, content);
      };
      const before = world();
      const observations = host.observations;
      const handled = agent.handleMessage({ type: 'desired', generation: 2, spec: withPrefix('2001:db8:200:7::/64') });
      await vi.waitFor(() => expect(host.observations).toBeGreaterThan(observations));
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(world()).toBe(before);
      expect(acks()).toHaveLength(1);

      const observationsAtRelease = host.observations;
      release();
      await handled;
      await agent.idle();
      expect(acks()[1]).toMatchObject({ generation: 2, status: 'accepted' });
      expect(gateways()).toContain('2001:db8:200:7::1');
      // The steps came of the observation made before the release: the host was not read again in between.
      expect(observationsAtApply).toBe(observationsAtRelease);
    });

    it('ends two quick pushes on the second, on the host and on disk, never applying a state before it is written', async () => {
      // The first write is the slower: the second push must still not overtake it.
      delayStateWrites((index) => new Promise((resolve) => setTimeout(resolve, index === 0 ? 30 : 1)));
      const writeFile = host.writeFileAtomic.bind(host);
      const aheadOfDisk: string[] = [];
      host.writeFileAtomic = async (path, content) => {
        const generation = JSON.parse(host.files.get(STATE)!).generation as number;
        const written = content.includes('prefix 2001:db8:200:8::/64') ? 3 : content.includes('prefix 2001:db8:200:7::/64') ? 2 : 1;
        if (path === RADVD && written > generation) aheadOfDisk.push(`radvd.conf of generation ${written} over ${generation} on disk`);
        return writeFile(path, content);
      };
      void agent.handleMessage({ type: 'desired', generation: 2, spec: withPrefix('2001:db8:200:7::/64') });
      await agent.handleMessage({ type: 'desired', generation: 3, spec: withPrefix('2001:db8:200:8::/64') });
      await agent.idle();
      expect(acks().map((a) => [a.generation, a.status])).toEqual([[1, 'accepted'], [2, 'accepted'], [3, 'accepted']]);
      expect(JSON.parse(host.files.get(STATE)!)).toEqual({ generation: 3, spec: withPrefix('2001:db8:200:8::/64') });
      expect(gateways()).toContain('2001:db8:200:8::1');
      expect(host.files.get(RADVD)).toMatch(/prefix 2001:db8:200:8::\/64\n    \{\n        AdvOnLink on;/);
      expect(aheadOfDisk).toEqual([]);
    });

    it('applies only the newest of the pushes queued behind a run in flight, never one already superseded', async () => {
      // Generation 2's run holds at its radvd.conf while 3 and 4 are written, acked and queued behind it.
      let release!: () => void;
      const released = new Promise<void>((resolve) => (release = resolve));
      const writeFile = host.writeFileAtomic.bind(host);
      let isHeld = false;
      const radvdConfigs: string[] = [];
      host.writeFileAtomic = async (path, content) => {
        if (path === RADVD && content.includes('prefix 2001:db8:200:7::/64') && !isHeld) {
          isHeld = true;
          await released;
        }
        if (path === RADVD) radvdConfigs.push(content);
        return writeFile(path, content);
      };
      await agent.handleMessage({ type: 'desired', generation: 2, spec: withPrefix('2001:db8:200:7::/64') });
      await vi.waitFor(() => expect(isHeld).toBe(true));
      await agent.handleMessage({ type: 'desired', generation: 3, spec: withPrefix('2001:db8:200:8::/64') });
      await agent.handleMessage({ type: 'desired', generation: 4, spec: withPrefix('2001:db8:200:9::/64') });
      release();
      await agent.idle();
      expect(acks().map((a) => [a.generation, a.status])).toEqual([[1, 'accepted'], [2, 'accepted'], [3, 'accepted'], [4, 'accepted']]);
      expect(sent.filter((m) => m.type === 'applied').map((m) => m.generation)).toEqual([1, 2, 4]);
      // Generation 3's prefix was never advertised as a live one: only as deprecated (lifetime 0), since it was accepted.
      const advertised = radvdConfigs.flatMap((config) => [...config.matchAll(/prefix 2001:db8:200:8::\/64\s*\{[^}]*\}/g)].map((block) => block[0]));
      expect(advertised.filter((block) => !/AdvPreferredLifetime 0;/.test(block))).toEqual([]);
      expect(gateways()).toContain('2001:db8:200:9::1');
    });
  });

  it('re-applies the persisted state on start, before any server speaks', async () => {
    await agent.handleMessage({ type: 'desired', generation: 9, spec: isolatedInput() });
    await agent.idle();
    host.addresses = [];
    host.editTable(() => null);
    const restarted = new Agent({ host, config, log: pino({ level: 'silent' }), version: 'test', send: () => false });
    await restarted.start();
    expect(host.addresses).toContainEqual({ interface: 'eth2', address: '2001:db8:200:1::1', prefixLength: 64 });
    expect(host.table).not.toBeNull();
    expect(restarted.hello().lastAcceptedGeneration).toBe(9);
  });
});
