import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canRunLab } from './lab-guard.js';
import { isPidAlive, waitFor } from './netns.js';
import { createPairLab, holdsGateway, readPairStatus, startPairAgent, startPairAgents, waitForPrimary, PAIR_LAB_COMMANDS, VRS, type PairLab } from './pair-lab.js';

/**
 * The agent's liveness in a pair: keepalived checks the agent's heartbeat
 * every second, so a primary whose agent is stopped (SIGSTOP) or dead goes to
 * FAULT once the heartbeat is older than the grace period, and the backup
 * takes over; an agent killed and started again at once, as systemd does,
 * causes no transition at all.
 */

const describeLab = canRunLab(PAIR_LAB_COMMANDS) ? describe : describe.skip;

const START_MS = 40_000;
// The grace period (6 s) and keepalived's check (every 1 s), with room for a loaded 2-core machine.
const TAKEOVER_MS = 12_000;
// How long the roles are watched after a quick restart: past the grace period and the new agent's first reconcile.
const WATCH_MS = 12_000;

describeLab('a redundant pair and its agents', () => {
  let pair: PairLab;

  /** Which VR held the gateway, every 20 ms, for `ms`. */
  async function sampleRoles(ms: number): Promise<{ vr1: boolean; vr2: boolean }[]> {
    const samples: { vr1: boolean; vr2: boolean }[] = [];
    for (const end = Date.now() + ms; Date.now() < end; ) {
      const [vr1, vr2] = await Promise.all(VRS.map((vr) => holdsGateway(pair, vr)));
      samples.push({ vr1: vr1!, vr2: vr2! });
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    return samples;
  }

  beforeAll(async () => {
    pair = await createPairLab();
    await startPairAgents(pair, START_MS);
  }, 120_000);

  afterAll(async () => {
    await pair?.lab.cleanup();
  }, 60_000);

  it('hands the role to the backup within seconds when the primary\'s agent is stopped, and takes it back when it runs again', async () => {
    const agent = pair.agents.vr1!;
    const stoppedAt = Date.now();
    process.kill(agent.pid, 'SIGSTOP');
    try {
      await waitForPrimary(pair, 'vr2', TAKEOVER_MS);
      const takeoverMs = Date.now() - stoppedAt;
      console.log(`liveness: SIGSTOP of the primary's agent -> backup primary after ${takeoverMs} ms`);
      // Not before the grace period: the heartbeat written just before the stop was still young.
      expect(takeoverMs).toBeGreaterThan(4000);
    } finally {
      process.kill(agent.pid, 'SIGCONT');
    }
    // Preempt (the lab's default): the higher priority takes the role back once its agent beats again.
    await waitForPrimary(pair, 'vr1', TAKEOVER_MS);
    // The agent, running again, read keepalived's FAULT line (this case comes first: a SIGKILLed agent's
    // orphaned FIFO reader would take that line, docs/redundancy.md "Left") and names its heartbeat as the cause.
    const transitions = (await readPairStatus(pair, 'vr1')).redundancy.transitions as { to: string; cause: string }[];
    expect(transitions.filter((t) => t.to === 'fault').at(-1)?.cause).toMatch(/agent was stopped or stuck: its heartbeat grew older than 6 s/);
  }, 60_000);

  it('keeps the roles when the primary\'s agent is SIGKILLed and started again a second later', async () => {
    const agent = pair.agents.vr1!;
    const watching = sampleRoles(WATCH_MS);
    process.kill(agent.pid, 'SIGKILL');
    await waitFor(async () => !isPidAlive(agent.pid) || undefined, { timeoutMs: 5000, what: 'the agent to die' });
    await new Promise((resolve) => setTimeout(resolve, 1000));
    await startPairAgent(pair, 'vr1');
    const samples = await watching;
    expect(samples.length).toBeGreaterThan(100);
    expect(samples.filter((s) => !s.vr1 || s.vr2)).toEqual([]);
  }, 60_000);
});
