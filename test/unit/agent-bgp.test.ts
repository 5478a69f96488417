import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Agent } from '../../src/daemon/agent.js';
import type { AgentMessage, ObservedMessage } from '../../src/schema/protocol.js';
import { agentConfigIn } from '../support/agent-config.js';
import { MemoryHost } from '../support/memory-host.js';
import { bgpInput, isolatedInput } from '../support/states.js';

/**
 * The agent's BGP report on the in-memory host, whose bgpd answers `show bgp
 * neighbors json` from its own model (test/support/memory-bgp-sessions.ts):
 * sent when a session changes, not on every poll, and a bgpd that is gone,
 * stuck or talking nonsense never stops the loop.
 */

const config = agentConfigIn('/vr', { routerId: 'r-1-VM' });
const PEER = '2001:db8:100::1';
const POLL_MS = 20;

describe('the agent reporting BGP', () => {
  let host: MemoryHost;
  let sent: AgentMessage[];
  let agent: Agent;
  const observed = () => sent.filter((m): m is ObservedMessage => m.type === 'observed');
  const lastBgp = () => observed().at(-1)?.bgp;
  const waitForObserved = (what: string, test: (m: ObservedMessage) => boolean, timeout = 2000) =>
    vi.waitFor(
      () => {
        const found = [...observed()].reverse().find(test);
        if (found === undefined) throw new Error(`no observed message with ${what}`);
        return found;
      },
      { timeout, interval: 5 },
    );
  // A few polls' worth of answers from bgpd, with the deadline as the limit: what a steady session sends meanwhile.
  const waitForPolls = async (count: number) => {
    const until = host.bgpSessions.answered + count;
    await vi.waitFor(() => expect(host.bgpSessions.answered).toBeGreaterThanOrEqual(until), { timeout: 2000, interval: 5 });
  };
  const bgpdPid = () => host.daemonPids('bgpd')[0]!;

  beforeEach(async () => {
    host = new MemoryHost(['eth1', 'eth2', 'eth3']);
    sent = [];
    agent = new Agent({ host, config, log: pino({ level: 'silent' }), version: 'test', send: (m) => (sent.push(m), true), bgpPollMs: POLL_MS });
    await agent.start();
    const input = bgpInput();
    input.routing.bgp.peers[0].description = 'upstream-a';
    await agent.handleMessage({ type: 'desired', generation: 1, spec: input });
    await agent.idle();
  });

  afterEach(() => agent.stop());

  it('reports the peer as bgpd has it, and again when its session comes up and the default route arrives', async () => {
    expect(lastBgp()).toEqual({
      isBgpdAnswering: true,
      peers: [{ address: PEER, description: 'upstream-a', state: 'Active', upSinceEpochSeconds: null, prefixesReceived: null, prefixesSent: null, resets: 0, lastError: null }],
      defaultRouteInKernel: false,
      defaultRouteGateway: null,
    });
    host.bgpSessions.sessions.set(PEER, { state: 'Established', upSinceEpochSeconds: 1_000, prefixesAccepted: 1, prefixesSent: 1 });
    host.routes.push({ gateway: 'fe80::1', interface: 'eth1', protocol: 'bgp' });
    const up = await waitForObserved('the session up', (m) => m.bgp?.peers[0]?.state === 'Established' && m.bgp.defaultRouteInKernel);
    expect(up.bgp).toMatchObject({ defaultRouteGateway: 'fe80::1', peers: [{ prefixesReceived: 1, prefixesSent: 1, resets: 0, lastError: null }] });
    expect([1_000, 1_001]).toContain(up.bgp!.peers[0]!.upSinceEpochSeconds);
  });

  it('sends nothing more while the session stays as it is, though bgpd’s up-since wavers between answers', async () => {
    host.bgpSessions.sessions.set(PEER, { state: 'Established', upSinceEpochSeconds: 1_000, prefixesAccepted: 1, prefixesSent: 1 });
    await waitForObserved('the session up', (m) => m.bgp?.peers[0]?.state === 'Established');
    const count = observed().length;
    await waitForPolls(10);
    expect(observed()).toHaveLength(count);
    host.bgpSessions.sessions.set(PEER, { state: 'Active', connectionsDropped: 1, notification: { reason: 'Hold Timer Expired', isReceived: false } });
    const down = await waitForObserved('the session down', (m) => m.bgp?.peers[0]?.resets === 1);
    expect(down.bgp!.peers[0]).toMatchObject({ resets: 1, lastError: 'Hold Timer Expired (sent)', upSinceEpochSeconds: null });
  });

  it('says bgpd is not answering once it is gone, and recovers when a reconcile has started it again', async () => {
    host.signal(bgpdPid(), 'SIGKILL');
    const gone = await waitForObserved('bgpd not answering', (m) => m.bgp?.isBgpdAnswering === false);
    expect(gone.bgp!.peers[0]).toMatchObject({ address: PEER, state: null, resets: null });
    expect(gone.warnings).toContain('bgpd is not answering: no BGP session is known');
    await agent.reconcileNow();
    expect(host.daemonPids('bgpd')).toHaveLength(1);
    const back = await waitForObserved('bgpd answering again', (m) => m.bgp?.isBgpdAnswering === true && m === observed().at(-1));
    expect(back.warnings).toEqual([]);
  });

  it('goes on reconciling while bgpd is stuck, and reports it as not answering after the timeout', async () => {
    host.bgpSessions.isStuck = true;
    const started = Date.now();
    const spec = bgpInput();
    spec.routing.bgp.peers[0].description = 'renamed';
    await agent.handleMessage({ type: 'desired', generation: 2, spec });
    await vi.waitFor(() => expect(sent.find((m) => m.type === 'applied' && m.generation === 2)).toMatchObject({ ok: true }), { timeout: 2000, interval: 5 });
    // The reconcile did not wait for bgpd: its report came before vtysh's timeout could end the question.
    expect(Date.now() - started).toBeLessThan(2500);
    await waitForObserved('bgpd not answering', (m) => m.bgp?.isBgpdAnswering === false, 8000);
    host.bgpSessions.isStuck = false;
    const back = await waitForObserved('bgpd answering', (m) => m.bgp?.isBgpdAnswering === true && m === observed().at(-1), 8000);
    expect(back.bgp!.peers[0]!.description).toBe('renamed');
  });

  it('takes an answer that is not bgpd’s JSON as bgpd not answering, and keeps going', async () => {
    host.bgpSessions.garbage = '% Unknown command: show bgp neighbors json';
    await waitForObserved('bgpd not answering', (m) => m.bgp?.isBgpdAnswering === false);
    host.bgpSessions.garbage = null;
    await waitForObserved('bgpd answering', (m) => m.bgp?.isBgpdAnswering === true && m === observed().at(-1));
  });

  it('answers `show bgp` from bgpd now, and reports no BGP once routing is static again', async () => {
    host.bgpSessions.sessions.set(PEER, { state: 'OpenSent' });
    expect((await agent.observeNow())?.bgp?.peers[0]?.state).toBe('OpenSent');
    await agent.handleMessage({ type: 'desired', generation: 2, spec: isolatedInput() });
    await agent.idle();
    expect(agent.snapshot().lastObserved?.bgp).toBeNull();
    expect(host.daemonPids('bgpd')).toEqual([]);
  });
});
