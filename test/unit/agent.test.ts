import pino from 'pino';
import { beforeEach, describe, expect, it } from 'vitest';
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
