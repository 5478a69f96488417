import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent } from '../../src/daemon/agent.js';
import { MemoryHost } from '../support/memory-host.js';
import type { AgentMessage } from '../../src/schema/protocol.js';
import { ManagementClient, type Disconnect } from '../../src/transport/management-client.js';
import { agentConfigIn } from '../support/agent-config.js';
import { isolatedInput } from '../support/states.js';
import { freshSeed, readSeed, seededRandom } from '../support/seed.js';
import { reportFigures, trialCount } from './campaign.js';
import { FaultServer, type ServedDesired } from './fault-server.js';

/**
 * The management server misbehaves, the agent must not (docs/reliability.md §3).
 *
 * The real Agent (generations, persistence, reconcile, reports) and the real
 * ManagementClient (websocket, heartbeat, backoff) talk over a unix socket to
 * a FaultServer; the host is the in-memory model. The properties are about
 * the protocol: which generation the agent holds and applies, and when it
 * gives up on a peer. The kernel adds nothing to them; the lab test
 * test/lab/control-path.test.ts shows the real agent keeping its real host
 * through a simulator that restarts with an older generation.
 *
 * Each trial starts converged on generation G and ends when the agent holds,
 * has persisted and has applied the server's current generation, with a plan
 * that is empty. `SOAK_TRIALS=100` is the documented manual run; `SEED`
 * repeats a run.
 */

const FAULTS = ['drop-mid-message', 'drop-before-ack', 'restart-older', 'duplicate', 'out-of-order', 'slow', 'ignore-hello', 'dead-peer'] as const;
type Fault = (typeof FAULTS)[number];

const HEARTBEAT_MS = 1000;
const BACKOFF_MAX_MS = 1000;
const CONVERGE_MS = 30_000;

/** Every generation has its own spec: the allowed ingress port is 1000 + generation. */
function desiredOf(generation: number): ServedDesired {
  const spec = isolatedInput();
  spec.guestNetworks[0].firewall.ingress[0].ports = { start: 1000 + generation, end: 1000 + generation };
  return { generation, spec };
}

async function waitUntil(what: string, probe: () => boolean | Promise<boolean>, timeoutMs = CONVERGE_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('management server faults', () => {
  const seed = readSeed(freshSeed);
  const random = seededRandom(seed);
  const trials = trialCount(24);
  let dir = '';
  let server: FaultServer;
  let host: MemoryHost;
  let agent: Agent;
  let client: ManagementClient;
  /** Every message the agent sent or tried to send: an ack is recorded even when the link was gone. */
  const sent: AgentMessage[] = [];
  const disconnects: { at: number; disconnect: Disconnect }[] = [];
  const reconnectGapsMs: number[] = [];
  const deadPeerMs: number[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vr6-soak-mgmt-'));
    server = new FaultServer(join(dir, 'mgmt.sock'));
    await server.start();
    host = new MemoryHost(['eth1', 'eth2', 'eth3']);
    const config = agentConfigIn('/vr', { routerId: 'r-1-VM' });
    agent = new Agent({ host, config, log: pino({ level: 'silent' }), version: 'soak', send: (m) => (sent.push(m), client.send(m)) });
    await agent.start();
    client = new ManagementClient({
      urls: [`ws+unix://${join(dir, 'mgmt.sock')}:/`],
      heartbeatMs: HEARTBEAT_MS,
      maxMessageBytes: 4 * 1024 * 1024,
      backoffInitialMs: 50,
      backoffMaxMs: BACKOFF_MAX_MS,
      hello: () => agent.hello(),
    });
    client.on('message', (message, sourceOf) => void agent.handleMessage(message, sourceOf));
    client.on('connected', () => {
      agent.onConnected();
      const last = disconnects.at(-1);
      if (last) reconnectGapsMs.push(Date.now() - last.at);
    });
    client.on('disconnected', (disconnect) => disconnects.push({ at: Date.now(), disconnect }));
    client.start();
  });

  afterAll(async () => {
    await client?.stop();
    agent?.stop();
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const heldGeneration = () => agent.snapshot().accepted?.generation ?? null;
  const acceptedCount = (generation: number) => sent.filter((m) => m.type === 'ack' && m.generation === generation && m.status === 'accepted').length;
  const acksAfter = (index: number) => sent.slice(index).flatMap((m) => (m.type === 'ack' ? [m] : []));
  /** What a stale or duplicate generation must not touch. */
  const hostSnapshot = () => JSON.stringify({ table: host.listTable(), files: [...host.files], addresses: host.addresses, writes: host.writes.length });

  /** The agent holds, has persisted and has applied the server's current generation, and plans nothing more. */
  async function waitConverged(): Promise<void> {
    const target = server.current?.generation;
    await waitUntil(`the agent to converge on generation ${target}`, () => {
      const { accepted, lastApplied } = agent.snapshot();
      return accepted?.generation === target && lastApplied?.generation === target && lastApplied?.ok === true;
    });
    const persisted = JSON.parse(host.files.get('/vr/state/desired.json') ?? 'null') as { generation: number } | null;
    expect(persisted?.generation).toBe(target);
    const plan = await agent.dryRun();
    expect(plan.ok && plan.value.plan.steps).toEqual([]);
  }

  /** The agent is connected, and has acked the server's answer to its hello, so no old frame is still in flight. */
  async function waitReconnected(): Promise<void> {
    await waitUntil('the agent to say hello again', () => server.isLatestSettled);
  }

  /** Runs one fault starting from generation `g`, converged; returns the stale acks it provoked. */
  async function runFault(fault: Fault, g: number): Promise<number> {
    // A trial may end converged while the agent is still redialling; faults need a live link.
    await waitReconnected();
    const sentBefore = sent.length;
    const before = hostSnapshot();
    switch (fault) {
      case 'drop-mid-message':
        server.pushMidMessageAndHangUp(desiredOf(g + 1), random());
        break;
      case 'drop-before-ack':
        server.pushAndHangUp(desiredOf(g + 1));
        break;
      case 'restart-older': {
        // The server lost its latest writes: it comes back, after a while down, serving an older generation.
        const older = desiredOf(Math.max(1, g - 1 - Math.floor(random() * 3)));
        server.current = older;
        await server.restart(Math.floor(random() * 4 * BACKOFF_MAX_MS));
        await waitUntil('a stale ack', () => acksAfter(sentBefore).some((a) => a.status === 'stale' && a.generation === older.generation));
        await agent.idle();
        expect(hostSnapshot()).toBe(before);
        expect(heldGeneration()).toBe(g);
        // Then it does what docs/protocol.md asks: numbers above the hello's lastAcceptedGeneration.
        const floor = Math.max(...server.hellos.slice(-1).map((h) => h.lastAcceptedGeneration ?? 0));
        server.push(desiredOf(floor + 1));
        break;
      }
      case 'duplicate':
        server.sendDesired(desiredOf(g));
        server.sendDesired(desiredOf(g - 1));
        server.sendDesired(desiredOf(g));
        await waitUntil('three acks', () => acksAfter(sentBefore).length >= 3);
        await agent.idle();
        expect(acksAfter(sentBefore).map((a) => a.status)).toEqual(['duplicate', 'stale', 'duplicate']);
        expect(hostSnapshot()).toBe(before);
        break;
      case 'out-of-order':
        server.current = desiredOf(g + 2);
        server.sendDesired(desiredOf(g + 2));
        server.sendDesired(desiredOf(g + 1));
        await waitUntil('two acks', () => acksAfter(sentBefore).length >= 2);
        expect(acksAfter(sentBefore).map((a) => [a.generation, a.status])).toEqual([[g + 2, 'accepted'], [g + 1, 'stale']]);
        break;
      case 'slow':
        // Slower than a heartbeat, within the handshake budget; pongs keep flowing, so the link must hold.
        server.upgradeDelayMs = Math.floor(random() * HEARTBEAT_MS);
        server.helloDelayMs = Math.floor(random() * 3 * HEARTBEAT_MS);
        server.current = desiredOf(g + 1);
        server.dropAll();
        await waitConverged();
        server.upgradeDelayMs = 0;
        server.helloDelayMs = 0;
        break;
      case 'ignore-hello': {
        server.isAnsweringHello = false;
        server.current = desiredOf(g + 1);
        server.dropAll();
        await waitReconnected();
        await sleep(Math.floor(random() * 3 * HEARTBEAT_MS));
        // Connected, told nothing: the agent keeps what it has.
        expect(heldGeneration()).toBe(g);
        expect(hostSnapshot()).toBe(before);
        server.isAnsweringHello = true;
        server.push(desiredOf(g + 1));
        break;
      }
      case 'dead-peer': {
        const from = disconnects.length;
        const frozenAt = Date.now();
        server.freeze();
        server.current = desiredOf(g + 1);
        await waitUntil('the agent to give up on the dead peer', () => disconnects.length > from, 10 * HEARTBEAT_MS);
        deadPeerMs.push((disconnects[from]?.at ?? 0) - frozenAt);
        expect(disconnects[from]?.disconnect.kind).toBe('heartbeat-timeout');
        server.dropAll();
        break;
      }
    }
    await waitConverged();
    return acksAfter(sentBefore).filter((a) => a.status === 'stale').length;
  }

  it('converges on the current generation after every fault, applying each generation once', async () => {
    console.log(`management-faults: seed ${seed} (SEED=${seed} repeats this run)`);
    server.push(desiredOf(3));
    await waitReconnected();
    await waitConverged();
    const startedAt = Date.now();
    const counts = { converged: 0, stale: 0 };
    const faultsSeen = new Map<Fault, number>();
    const order = [...FAULTS];
    for (let trial = 0; trial < trials; trial += 1) {
      // Every fault once per round, in a seeded order.
      if (trial % FAULTS.length === 0) order.sort(() => random() - 0.5);
      const fault = order[trial % FAULTS.length] as Fault;
      const g = heldGeneration() ?? 0;
      counts.stale += await runFault(fault, g);
      counts.converged += 1;
      faultsSeen.set(fault, (faultsSeen.get(fault) ?? 0) + 1);
    }

    const finalGeneration = server.current?.generation ?? 0;
    const acceptedGenerations = new Set(sent.flatMap((m) => (m.type === 'ack' && m.status === 'accepted' ? [m.generation] : [])));
    const duplicateApplies = [...acceptedGenerations].filter((generation) => acceptedCount(generation) > 1).length;
    const retries = disconnects.map(({ disconnect }) => disconnect.retryInMs ?? 0);
    reportFigures(
      'management-faults',
      {
        trials,
        converged: counts.converged,
        'duplicate applies': duplicateApplies,
        'lost generations': heldGeneration() === finalGeneration ? 0 : 1,
        'stale generations ignored': counts.stale,
        reconnects: reconnectGapsMs.length,
        'ms max reconnect gap': Math.max(0, ...reconnectGapsMs),
        'ms max backoff drawn': Math.max(0, ...retries),
        [`ms max dead-peer detection (heartbeat ${HEARTBEAT_MS} ms)`]: Math.max(0, ...deadPeerMs),
      },
      `seed ${seed}, ${[...faultsSeen].map(([f, n]) => `${f} ×${n}`).join(', ')}, ${Math.round((Date.now() - startedAt) / 1000)} s`,
    );
    expect(duplicateApplies).toBe(0);
    expect(heldGeneration()).toBe(finalGeneration);
    expect(Math.max(...retries)).toBeLessThanOrEqual(BACKOFF_MAX_MS);
    expect(disconnects.filter(({ disconnect }) => disconnect.kind === 'heartbeat-timeout').length).toBeGreaterThanOrEqual(faultsSeen.get('dead-peer') ?? 0);
  });
});
