import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canRunLab } from '../lab/lab-guard.js';
import { WaitTimeoutError } from '../lab/netns.js';
import {
  pushDesired,
  readSimEvents,
  simEventCount,
  startAgent,
  startVrLab,
  waitForMessage,
  waitForSimEvent,
  type VrLab,
} from '../lab/vr-lab.js';
import { freshSeed, readSeed, seededRandom } from '../support/seed.js';
import { reportFigures, trialCount } from './campaign.js';
import { startForwardingSampler, type ForwardingSampler } from './forwarding-sampler.js';
import {
  checkAgentFiles,
  checkWorldMatches,
  findLeftoverFiles,
  isPlanEmpty,
  randomDesiredState,
  readPersistedGeneration,
} from './vr-world.js';

/**
 * Crash safety (docs/reliability.md §1): SIGKILL the agent (by PID) at a
 * random moment while a stream of random desired states arrives, restart it,
 * and check the world:
 * no accepted generation lost, no half-written file, convergence to the last
 * generation, nothing left over; a sampler in the VR namespace watches for
 * forwarding without the filter during the whole campaign.
 */

const TOOLS = ['ip', 'nft', 'radvd', 'vtysh', '/usr/lib/frr/zebra'];
const describeLab = canRunLab(TOOLS) ? describe : describe.skip;
const CONVERGE_MS = 60_000;

interface TrialFigures { converged: number; lost: number; halfWritten: number; leftovers: number }

describeLab('crash safety: SIGKILL while applying', () => {
  const seed = readSeed(freshSeed);
  const random = seededRandom(seed);
  let vrLab: VrLab;
  let sampler: ForwardingSampler | null = null;
  let agentId = 0;

  /** Starts an agent and returns its hello, and the simulator's number for its connection. */
  async function startAndHello() {
    const from = simEventCount(vrLab);
    await startAgent(vrLab);
    const event = await waitForSimEvent(vrLab, (e) => e.event === 'hello', 'the agent to say hello', 20_000, from);
    agentId = Number(event.agent);
    return event.message as { lastAcceptedGeneration: number | null };
  }

  beforeAll(async () => {
    vrLab = await startVrLab({}, { tiers: 3 });
    sampler = await startForwardingSampler(vrLab.lab);
    await startAndHello();
    const { generation } = await pushDesired(vrLab, randomDesiredState(random));
    await waitForMessage(vrLab, 'applied', (m) => m.generation === generation && m.ok, CONVERGE_MS);
  }, 120_000);

  afterAll(async () => {
    await vrLab?.lab.cleanup();
  });

  it('never loses an accepted generation, never fails open, never half-writes a file, always converges', async () => {
    const trials = trialCount(6);
    const startedAt = Date.now();
    const figures: TrialFigures = { converged: 0, lost: 0, halfWritten: 0, leftovers: 0 };
    const failures: string[] = [];
    for (let trial = 1; trial <= trials; trial++) await runTrial(trial, figures, failures);
    const sampled = await sampler!.stop();
    sampler = null;
    const seconds = Math.round((Date.now() - startedAt) / 1000);
    reportFigures(
      'crash-safety',
      { trials, converged: figures.converged, lost: figures.lost, 'fail-open': sampled.failOpen, 'half-written': figures.halfWritten, 'left over': figures.leftovers },
      `seed ${seed}, ${sampled.samples} samples of forwarding + table, ${sampled.forwardingOn} with forwarding on, ${seconds} s`,
    );
    for (const failure of [...failures, ...sampled.failOpenLines]) console.log(`  ${failure}`);
    expect(failures).toEqual([]);
    expect(sampled.failOpen).toBe(0);
    expect(sampled.forwardingOn).toBeGreaterThan(0);
    expect(figures.converged).toBe(trials);
  });

  /**
   * One trial: a stream of 1–4 states, 0–600 ms apart, and a SIGKILL
   * anywhere in its first 2.5 s; the files after the kill, then the world
   * after the restart. Adds to `figures`, and a line per problem to `failures`.
   */
  async function runTrial(trial: number, figures: TrialFigures, failures: string[]): Promise<void> {
    const killedId = agentId;
    const agent = vrLab.agent!;
    const killAfterMs = Math.floor(random() * 2500);
    const pushes = Array.from({ length: 1 + Math.floor(random() * 4) }, () => ({ spec: randomDesiredState(random), gapMs: Math.floor(random() * 600) }));
    const kill = new Promise<void>((resolve) => setTimeout(() => (process.kill(agent.pid, 'SIGKILL'), resolve()), killAfterMs));
    let last = { generation: 0, spec: {} as Record<string, any> };
    for (const push of pushes) {
      last = { generation: (await pushDesired(vrLab, push.spec)).generation, spec: push.spec };
      await new Promise((resolve) => setTimeout(resolve, push.gapMs));
    }
    await kill;
    await agent.exited;
    const note = (what: string) => failures.push(`trial ${trial} (kill after ${killAfterMs} ms): ${what}`);
    const { persisted, lastAcked } = await checkAfterKill(killedId, figures, note);
    const restartAt = Date.now();
    const hello = await startAndHello();
    const helloMs = Date.now() - restartAt;
    if (hello.lastAcceptedGeneration !== persisted) note(`hello says ${hello.lastAcceptedGeneration} accepted, ${persisted} persisted`);
    const problems = await convergedProblems(last.generation, last.spec);
    console.log(`trial ${trial}: ${pushes.length} pushes, kill after ${killAfterMs} ms, acked ${lastAcked}, persisted ${persisted}, ` +
      `hello after ${helloMs} ms, generation ${last.generation} converged after ${Date.now() - restartAt} ms`);
    if (problems.length === 0) figures.converged++;
    else note(`generation ${last.generation}: ${problems.join('; ')}`);
    const leftovers = findLeftoverFiles(vrLab);
    if (leftovers.length > 0) (figures.leftovers++, note(`left over: ${leftovers.join(', ')}`));
  }

  /** The dead agent's files: whole, and holding at least the last generation it acked. */
  async function checkAfterKill(killedId: number, figures: TrialFigures, note: (what: string) => void) {
    // Everything the dead agent sent has been read once its connection is seen closed.
    await waitForSimEvent(vrLab, (e) => e.event === 'disconnected' && e.agent === killedId, 'the killed agent to disconnect', 20_000);
    const acked = readSimEvents(vrLab).filter((e: any) => e.event === 'ack' && e.agent === killedId && e.message.status === 'accepted');
    const lastAcked = Math.max(0, ...acked.map((e: any) => Number(e.message.generation)));
    const broken = await checkAgentFiles(vrLab);
    if (broken.length > 0) (figures.halfWritten++, note(`files after the kill: ${broken.join('; ')}`));
    const persisted = broken.length > 0 ? null : readPersistedGeneration(vrLab);
    if ((persisted ?? 0) < lastAcked) (figures.lost++, note(`generation ${lastAcked} was acked, ${persisted} persisted`));
    return { persisted, lastAcked };
  }

  /** Waits for the restarted agent to report `generation` applied, then checks the world; returns what is wrong. */
  async function convergedProblems(generation: number, spec: Record<string, any>): Promise<string[]> {
    try {
      const isApplied = (e: any) => e.event === 'applied' && e.agent === agentId && e.message.generation === generation && e.message.ok;
      await waitForSimEvent(vrLab, isApplied, `the restarted agent to apply generation ${generation}`, CONVERGE_MS);
    } catch (error) {
      if (error instanceof WaitTimeoutError) return [`no ok applied: ${error.message.slice(0, 400)}`];
      throw error;
    }
    const persisted = readPersistedGeneration(vrLab);
    const problems = persisted === generation ? [] : [`persisted generation ${persisted}`];
    if (!(await isPlanEmpty(vrLab))) problems.push('vr6ctl plan is not empty');
    return [...problems, ...(await checkWorldMatches(vrLab, spec))];
  }
});
