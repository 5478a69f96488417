import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canRunLab } from '../lab/lab-guard.js';
import { waitFor } from '../lab/netns.js';
import {
  createPairLab,
  holdsGateway,
  killEverythingIn,
  killKeepalived,
  readGuestRouter,
  startGuestPing,
  startPairAgent,
  startPairAgents,
  startRaCapture,
  waitForPrimary,
  type PairLab,
  type PortRa,
  type VrName,
} from '../lab/pair-lab.js';
import { reportFigures, trialCount } from './campaign.js';

/**
 * Faults of a redundant pair's primary (docs/redundancy.md, docs/reliability.md):
 * each trial SIGKILLs the primary's keepalived alone (its agent running on)
 * or every process of the primary, by PID, and the pair must come back to
 * one primary, vr1 by preemption, with the guest's router unchanged, the
 * guest's traffic flowing and no RA from a VR that was not primary.
 */

const describeLab = canRunLab(['ip', 'nft', 'radvd', 'keepalived', 'conntrackd', 'ping', 'python3']) ? describe : describe.skip;
const RECOVERY_MS = 40_000;

describeLab('faults of a redundant pair', () => {
  let pair: PairLab;
  let readRas: () => Record<VrName, PortRa[]>;

  beforeAll(async () => {
    pair = await createPairLab({ stateSync: true });
    readRas = await startRaCapture(pair);
    await startPairAgents(pair, RECOVERY_MS);
  }, 120_000);

  afterAll(async () => {
    await pair?.lab.cleanup();
  }, 60_000);

  it('comes back to one primary with the same router after every SIGKILL', async () => {
    const trials = trialCount(4);
    await waitFor(async () => (await readGuestRouter(pair)).mac ?? undefined, { timeoutMs: RECOVERY_MS, what: 'the guest to learn its router' });
    const ping = await startGuestPing(pair);
    const router = await readGuestRouter(pair);
    let recovered = 0;
    let routerChanged = 0;
    const failures: string[] = [];
    const started = Date.now();
    for (let trial = 0; trial < trials; trial++) {
      const isWhole = trial % 2 === 1;
      try {
        if (isWhole) await killEverythingIn(pair, 'vr1');
        else await killKeepalived(pair, 'vr1');
        await waitFor(async () => (await holdsGateway(pair, 'vr2')) || undefined, { timeoutMs: RECOVERY_MS, what: 'vr2 to take over' });
        if (isWhole) await startPairAgent(pair, 'vr1');
        await waitForPrimary(pair, 'vr1', RECOVERY_MS);
        await waitFor(async () => ping.repliesAfter(Date.now() - 300) > 5 || undefined, { timeoutMs: RECOVERY_MS, what: 'the guest pings to flow' });
        recovered++;
      } catch (error) {
        failures.push(`trial ${trial} (${isWhole ? 'whole VR' : 'keepalived'}): ${(error as Error).message}`);
      }
      if (JSON.stringify(await readGuestRouter(pair)) !== JSON.stringify(router)) routerChanged++;
    }
    const ras = readRas();
    const lifetimeZero = [...ras.vr1, ...ras.vr2].filter((ra) => ra.routerLifetime === 0).length;
    reportFigures('pair-faults', { trials, recovered, 'router changed': routerChanged, 'lifetime-0 RAs': lifetimeZero }, `${Math.round((Date.now() - started) / 1000)} s`);
    expect(failures).toEqual([]);
    expect(routerChanged).toBe(0);
    expect(lifetimeZero).toBe(0);
  }, 60 * 60_000);
});
