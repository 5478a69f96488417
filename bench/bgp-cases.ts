import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FAR_HOST, GUEST_BLOCK, NS, TIER1, TIER2 } from '../test/lab/topology.js';
import { isPidAlive, waitFor } from '../test/lab/netns.js';
import { pushDesired, simEventCount, startAgent, waitForMessage } from '../test/lab/vr-lab.js';
import { readAgentTimeline } from './bgp-agent-log.js';
import { AS, applyBenchState, countResets, readDrops, readFrrPid, readVrNeighbor, renderBenchState, type BenchState, type BgpLab } from './bgp-lab.js';

/**
 * The cases of the BGP benchmark, each one round: the caller repeats them
 * and takes medians. Each case says whether it wants the agent running or
 * stopped; every one leaves the /48 announced, the state `current` names
 * applied, and the agent as it found it (measureAgentStart starts it).
 */

/** The state the lab holds between cases; the one-peer change moves B's password on. */
export interface BenchCursor {
  current: BenchState;
}

/** One announcement or withdrawal by the agent. */
export interface AnnouncementRound {
  /** From the push until the upstream's kernel had the route (or had lost it). */
  readonly ms: number;
  /** The agent's reconcile of the push (`applied.durationMs`), which ends after it has observed the result. */
  readonly reconcileMs: number;
  /** The vtysh commands the agent sent for it, one entry per `vtysh -f` pass, in order (from its debug log). */
  readonly passes: readonly string[];
  /** From the push until, by the agent's log: it accepted the state, frr.conf passed `vtysh -C`, its first `vtysh -f` returned. */
  readonly agentMs: { readonly accepted: number; readonly checked: number; readonly firstPass: number };
  /** Polls (every 10 ms) that found one of the guest /64s missing at the upstream meanwhile: they are announced throughout. */
  readonly missingPollsTiers: number;
}

/**
 * Pushes the state that adds (or removes) the /48 and times it from the push
 * until the upstream's kernel has the route (or has lost it), polled every
 * 5 ms. The agent's `applied` for it must then report convergence.
 */
export async function measureAnnouncement(bgpLab: BgpLab, cursor: BenchCursor, hasAggregate: boolean): Promise<AnnouncementRound> {
  const { vrLab, upstreamRoutes } = bgpLab;
  const next = { ...cursor.current, hasAggregate };
  if ((await upstreamRoutes.has(GUEST_BLOCK)) === hasAggregate) throw new Error(`the upstream already ${hasAggregate ? 'has' : 'lacks'} ${GUEST_BLOCK}`);
  const from = simEventCount(vrLab);
  const tiers = upstreamRoutes.watch([TIER1, TIER2]);
  // The poll starts as the push does: pushDesired takes its time stamp before its first await.
  const [{ generation, pushedAt }, seenAt] = await Promise.all([
    pushDesired(vrLab, renderBenchState(next)),
    upstreamRoutes.waitFor(GUEST_BLOCK, hasAggregate, 10_000),
  ]);
  const applied = await waitForMessage(vrLab, 'applied', (m) => m.generation === generation, 30_000, from);
  if (!applied.isConverged || applied.errors.length > 0) throw new Error(`generation ${generation} did not converge: ${JSON.stringify(applied.errors)}`);
  const missingPollsTiers = await tiers.stop();
  cursor.current = next;
  const timeline = readAgentTimeline(vrLab.agent!.logPath, pushedAt, generation);
  return {
    ms: seenAt - pushedAt,
    reconcileMs: applied.durationMs,
    passes: timeline.passes.map((pass) => pass.commands),
    agentMs: { accepted: timeline.acceptedAt - pushedAt, checked: timeline.checkedAt - pushedAt, firstPass: (timeline.passes[0]?.doneAt ?? Number.NaN) - pushedAt },
    missingPollsTiers,
  };
}

/**
 * The daemons alone, for comparison: with the agent stopped, one `vtysh -f`
 * of the very commands the agent sent for a withdrawal (every pass's, in
 * order) and then for an announcement, each timed from the spawn of vtysh until the upstream's kernel shows it.
 */
export async function measureDaemonsAlone(bgpLab: BgpLab, rounds: { withdraw: AnnouncementRound; announce: AnnouncementRound }): Promise<{ withdrawMs: number; announceMs: number }> {
  const { vrLab, frrDir, upstreamRoutes } = bgpLab;
  if (vrLab.agent !== null) throw new Error('the agent must be stopped, or it would undo the commands');
  const send = async (name: string, round: AnnouncementRound, isPresent: boolean) => {
    const path = join(vrLab.lab.tempDir, `bench-${name}.conf`);
    writeFileSync(path, `${round.passes.join('\n')}\n`);
    const startedAt = Date.now();
    const [seenAt] = await Promise.all([
      upstreamRoutes.waitFor(GUEST_BLOCK, isPresent, 10_000),
      vrLab.lab.exec(NS.vr, ['vtysh', '--vty_socket', frrDir, '-f', path]),
    ]);
    return seenAt - startedAt;
  };
  const withdrawMs = await send('withdraw', rounds.withdraw, false);
  return { withdrawMs, announceMs: await send('announce', rounds.announce, true) };
}

/** One round of the one-peer change: what it cost A, and B's own resets and return. */
export interface PeerChangeRound {
  readonly resetsA: number;
  readonly resetsB: number;
  /** Polls (every 10 ms) that found A's route to the /48 missing at the upstream. */
  readonly missingPollsA: number;
  /** From the push until the VR has B Established again. */
  readonly backMsB: number;
}

/**
 * Changes peer B's TCP-MD5 password on both sides (the VR by a push, then B
 * by vtysh): a change that must reset B, since bgpd reopens the TCP session.
 * Counts resets of A's session meanwhile, at both ends, and B's.
 */
export async function measurePeerChange(bgpLab: BgpLab, cursor: BenchCursor, round: number): Promise<PeerChangeRound> {
  const { peerB, vrAddress, upstreamRoutes } = bgpLab;
  const next = { ...cursor.current, passwordB: `lab-md5-key-${round + 1}` };
  const [beforeA, beforeB] = await Promise.all([readDrops(bgpLab, 'a'), readDrops(bgpLab, 'b')]);
  const watch = upstreamRoutes.watch([GUEST_BLOCK]);
  const { pushedAt } = await applyBenchState(bgpLab, next);
  await peerB.configure([`router bgp ${AS.b}`, ` neighbor ${vrAddress} password ${next.passwordB}`, 'exit']);
  const backAt = await waitFor(
    async () => {
      const b = await readVrNeighbor(bgpLab, FAR_HOST);
      return Number(b.connectionsDropped) > beforeB.vrEnd && b.bgpState === 'Established' ? Date.now() : undefined;
    },
    { timeoutMs: 30_000, what: 'peer B to come back after its reset', intervalMs: 20 },
  );
  const missingPollsA = await watch.stop();
  const [afterA, afterB] = await Promise.all([readDrops(bgpLab, 'a'), readDrops(bgpLab, 'b')]);
  cursor.current = next;
  return { resetsA: countResets(beforeA, afterA), resetsB: countResets(beforeB, afterB), missingPollsA, backMsB: backAt - pushedAt };
}

/** One round of the agent's restart. */
export interface AgentRestartRound {
  /** Over both sessions, A's and B's. */
  readonly resets: number;
  readonly missingPollsA: number;
  /** From the start of the new agent to its first `applied`. */
  readonly firstAppliedMs: number;
  readonly frrSteps: number;
  readonly isBgpdKept: boolean;
}

/** SIGKILLs the agent, starts it again and waits for its first `applied`; counts resets of both sessions meanwhile. */
export async function measureAgentRestart(bgpLab: BgpLab): Promise<AgentRestartRound> {
  const { vrLab, upstreamRoutes } = bgpLab;
  const agent = vrLab.agent;
  if (agent === null) throw new Error('the agent is not running');
  const bgpd = readFrrPid(bgpLab, 'bgpd');
  const before = await Promise.all([readDrops(bgpLab, 'a'), readDrops(bgpLab, 'b')]);
  const watch = upstreamRoutes.watch([GUEST_BLOCK]);
  process.kill(agent.pid, 'SIGKILL');
  await agent.exited;
  vrLab.agent = null;
  const from = simEventCount(vrLab);
  const startedAt = Date.now();
  await startAgent(vrLab);
  const applied = await waitForMessage(vrLab, 'applied', () => true, 30_000, from);
  const firstAppliedMs = Date.now() - startedAt;
  if (!applied.isConverged || applied.errors.length > 0) throw new Error(`the restarted agent did not converge: ${JSON.stringify(applied.errors)}`);
  const missingPollsA = await watch.stop();
  const after = await Promise.all([readDrops(bgpLab, 'a'), readDrops(bgpLab, 'b')]);
  return {
    resets: countResets(before[0], after[0]) + countResets(before[1], after[1]),
    missingPollsA,
    firstAppliedMs,
    frrSteps: applied.components.frr?.steps ?? 0,
    isBgpdKept: bgpd !== null && readFrrPid(bgpLab, 'bgpd') === bgpd && isPidAlive(bgpd),
  };
}

/** Starts the agent and times it until the upstream's kernel has the /48; waits for its first `applied` too. */
export async function measureAgentStart(bgpLab: BgpLab): Promise<number> {
  const { vrLab, upstreamRoutes } = bgpLab;
  const from = simEventCount(vrLab);
  const startedAt = Date.now();
  await startAgent(vrLab);
  const seenAt = await upstreamRoutes.waitFor(GUEST_BLOCK, true, 60_000);
  const applied = await waitForMessage(vrLab, 'applied', (m) => m.isConverged, 60_000, from);
  if (applied.errors.length > 0) throw new Error(`the agent did not converge: ${JSON.stringify(applied.errors)}`);
  return seenAt - startedAt;
}

/**
 * Ends the agent's zebra and bgpd with SIGTERM, by their pid files, bgpd
 * first as FRR's own stop does, and waits until both have exited and the
 * upstream has lost the /48. Returns the epoch ms of the first signal.
 */
export async function stopVrFrr(bgpLab: BgpLab): Promise<{ stoppedAt: number; lostAt: number }> {
  const pids = (['bgpd', 'zebra'] as const).map((daemon) => {
    const pid = readFrrPid(bgpLab, daemon);
    if (pid === null || !isPidAlive(pid)) throw new Error(`the VR's ${daemon} is not running`);
    return pid;
  });
  const stoppedAt = Date.now();
  for (const pid of pids) process.kill(pid, 'SIGTERM');
  const lost = bgpLab.upstreamRoutes.waitFor(GUEST_BLOCK, false, 20_000);
  await waitFor(async () => pids.every((pid) => !isPidAlive(pid)), { timeoutMs: 10_000, what: "the VR's zebra and bgpd to exit", intervalMs: 10 });
  return { stoppedAt, lostAt: await lost };
}

/** Starts the agent, its zebra and bgpd stopped, and times the route's return at the upstream; the agent must be stopped. */
export async function measureColdFrrStart(bgpLab: BgpLab): Promise<number> {
  if (bgpLab.vrLab.agent !== null) throw new Error('the agent must be stopped first');
  await stopVrFrr(bgpLab);
  return measureAgentStart(bgpLab);
}
