import { afterEach, describe, expect, it } from 'vitest';
import { canRunLab } from './lab-guard.js';
import { waitFor } from './netns.js';
import { waitForPing } from './probes.js';
import { createPairLab, PAIR_INTERNET_HOST, PAIR_NS, holdsGateway, setGuestPort, startPairAgent, startTcpPush, waitForPrimary, type PairLab } from './pair-lab.js';

/**
 * An established TCP stream from upstream to a guest across a failover of
 * the pair, with conntrackd syncing conntrack over the sync link (what the
 * agent ships by default) and without it (what the docs compare it with).
 */

const describeLab = canRunLab(['ip', 'nft', 'radvd', 'keepalived', 'conntrackd', 'python3']) ? describe : describe.skip;

const START_MS = 40_000;
const TAKEOVER_MS = 15_000;
// Long enough for TCP's retransmission timer to fire a few times after the takeover.
const SURVIVAL_WINDOW_MS = 4000;

describeLab('a TCP stream across a failover of the pair', () => {
  let pair: PairLab | undefined;
  afterEach(async () => {
    await pair?.lab.cleanup();
    pair = undefined;
  }, 60_000);

  /** Runs the stream, fails vr1's guest link, and tells whether lines kept coming on the new primary. */
  async function streamAcrossFailover(stateSync: boolean): Promise<{ survived: boolean; gapMs: number }> {
    pair = await createPairLab({ stateSync });
    await startPairAgent(pair, 'vr1');
    await startPairAgent(pair, 'vr2');
    await waitForPrimary(pair, 'vr1', START_MS);
    // The guest has its SLAAC address and its default router once a ping goes through.
    await waitForPing(pair.lab, PAIR_NS.guest, PAIR_INTERNET_HOST, START_MS);
    const stream = await startTcpPush(pair);
    // The backup's conntrack has had time to learn the flow from the sync.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const downAt = Date.now();
    await setGuestPort(pair, 'vr1', false);
    await waitFor(async () => (await holdsGateway(pair!, 'vr2')) || undefined, { timeoutMs: TAKEOVER_MS, what: 'vr2 to take over' });
    const takenAt = Date.now();
    await new Promise((resolve) => setTimeout(resolve, SURVIVAL_WINDOW_MS));
    const survived = stream.linesAfter(takenAt + SURVIVAL_WINDOW_MS / 2) > 10;
    return { survived, gapMs: stream.longestGapMs(downAt, Date.now()) };
  }

  it('survives with conntrackd syncing conntrack', async () => {
    const { survived, gapMs } = await streamAcrossFailover(true);
    console.log(`tcp with state sync: ${survived ? 'survived' : 'stalled'}, gap ${gapMs} ms`);
    expect(survived).toBe(true);
  }, 120_000);

  it('stalls without state sync: the new primary takes the stream for a new inbound connection', async () => {
    const { survived, gapMs } = await streamAcrossFailover(false);
    console.log(`tcp without state sync: ${survived ? `survived, gap ${gapMs} ms` : "stalled"}`);
    expect(survived).toBe(false);
  }, 120_000);
});
