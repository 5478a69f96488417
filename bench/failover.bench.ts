import { loadavg } from 'node:os';
import { findLabObstacle } from '../test/lab/lab-guard.js';
import { waitFor } from '../test/lab/netns.js';
import { createPairLab, holdsGateway, readGuestRouter, startGuestPing, startPairAgent, startRaCapture, VRS, waitForPrimary, type VrName } from '../test/lab/pair-lab.js';
import { measureCloudStackWay, runTrial, type FailureKind, type TrialResult } from './failover-trials.js';
import { median } from './stats.js';

/**
 * `make bench-failover`: what a failover of a redundant pair costs a guest,
 * on a real kernel with real keepalived, radvd and conntrackd under their
 * agents, in lab namespaces (root). Each round fails the primary three ways
 * (every process SIGKILLed, its guest link down, its agent unable to apply)
 * and fails back by preemption. Prints figures and never asserts them; the
 * last line is the summary. bench/README.md says what each figure means.
 */

const TOOLS = ['ip', 'nft', 'radvd', 'keepalived', 'conntrackd', 'ping', 'python3'];
const KINDS: readonly FailureKind[] = ['sigkill', 'link-down', 'agent-fault'];
const START_MS = 60_000;

function parseArgs(argv: readonly string[]): { rounds: number; smallestCs: number } {
  let rounds = 3;
  let smallestCs = 1;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--rounds' && /^[1-9]\d*$/.test(argv[i + 1] ?? '')) rounds = Number(argv[++i]);
    else if (arg === '--smallest-cs' && /^[1-9]\d*$/.test(argv[i + 1] ?? '')) smallestCs = Number(argv[++i]);
    else throw new Error(`unknown argument ${JSON.stringify(arg)}; usage: failover-bench [--rounds N] [--smallest-cs N]`);
  }
  return { rounds, smallestCs };
}

/** A pair at one advertisement interval, started and settled: vr1 primary, the guest pinging out. */
async function startPair(intervalCs: number) {
  const pair = await createPairLab({ intervalCs, stateSync: true });
  const readRas = await startRaCapture(pair);
  const roles: { atMs: number; vr1: boolean; vr2: boolean }[] = [];
  let isSampling = true;
  const sampler = (async () => {
    while (isSampling) {
      const [vr1, vr2] = await Promise.all(VRS.map((vr) => holdsGateway(pair, vr)));
      roles.push({ atMs: Date.now(), vr1: vr1!, vr2: vr2! });
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  })();
  await startPairAgent(pair, 'vr1');
  await startPairAgent(pair, 'vr2');
  await waitForPrimary(pair, 'vr1', START_MS);
  await waitFor(async () => (await readGuestRouter(pair)).mac ?? undefined, { timeoutMs: START_MS, what: 'the guest to learn its router' });
  const ping = await startGuestPing(pair);
  await waitFor(async () => ping.repliesAfter(Date.now() - 500) > 10 || undefined, { timeoutMs: START_MS, what: 'the guest to reach out' });
  const stopSampling = async () => {
    isSampling = false;
    await sampler;
  };
  return { pair, ping, readRas, roles, stopSampling };
}

/** RAs each VR sent while it did not hold the gateway (±250 ms of a sample), and RAs with router lifetime 0. */
function countBadRas(pair: Awaited<ReturnType<typeof startPair>>): { fromBackup: number; lifetimeZero: number } {
  const ras = pair.readRas();
  const wasPrimary = (vr: VrName, atMs: number) => pair.roles.some((sample) => sample[vr] && Math.abs(sample.atMs - atMs) <= 250);
  return {
    fromBackup: VRS.reduce((n, vr) => n + ras[vr].filter((ra) => !wasPrimary(vr, ra.atMs)).length, 0),
    lifetimeZero: VRS.reduce((n, vr) => n + ras[vr].filter((ra) => ra.routerLifetime === 0).length, 0),
  };
}

async function runTrials(run: Awaited<ReturnType<typeof startPair>>, rounds: number, kinds: readonly FailureKind[]): Promise<TrialResult[]> {
  const { pair, ping, readRas } = run;
  const results: TrialResult[] = [];
  let port = 5000;
  for (let round = 0; round < rounds; round++) {
    for (const kind of kinds) {
      const result = await runTrial(pair, ping, kind, port++, readRas);
      results.push(result);
      process.stderr.write(`round ${round + 1}/${rounds} ${kind}: gap ${result.gapMs} ms, first RA from the new primary after ${result.firstRaMs ?? 'none'} ms, tcp ${result.isTcpSurviving ? 'survived' : 'STALLED'}${result.isRouterChanged ? ', ROUTER CHANGED' : ''}\n`);
    }
  }
  return results;
}

async function main(): Promise<void> {
  const { rounds, smallestCs } = parseArgs(process.argv.slice(2));
  const obstacle = findLabObstacle(TOOLS);
  if (obstacle !== undefined) throw new Error(`bench-failover cannot run: ${obstacle}`);
  process.stdout.write(`load at start: ${loadavg().map((l) => l.toFixed(2)).join(' ')}\n`);
  const main = await startPair(10);
  let results: TrialResult[];
  let cloudStackGap: number;
  let bad: { fromBackup: number; lifetimeZero: number };
  try {
    results = await runTrials(main, rounds, KINDS);
    await main.stopSampling();
    bad = countBadRas(main);
    const takeover = median(results.filter((r) => r.kind === 'link-down').map((r) => r.gapMs));
    cloudStackGap = await measureCloudStackWay(main.pair, main.ping, Number.isNaN(takeover) ? 350 : takeover);
  } finally {
    await main.stopSampling();
    await main.pair.lab.cleanup();
  }
  for (const kind of KINDS) {
    const gaps = results.filter((r) => r.kind === kind).map((r) => r.gapMs);
    const firstRas = results.filter((r) => r.kind === kind && r.firstRaMs !== null).map((r) => r.firstRaMs!);
    process.stdout.write(`${kind}: gap median ${median(gaps)} ms, max ${Math.max(...gaps)} ms over ${gaps.length} trials; first RA from the new primary after median ${median(firstRas)} ms\n`);
  }
  const small = await startPair(smallestCs);
  try {
    const gaps = (await runTrials(small, 1, ['link-down', 'link-down', 'link-down'])).map((r) => r.gapMs);
    process.stdout.write(`smallest interval ${smallestCs} cs (${smallestCs * 10} ms): link-down gap median ${median(gaps)} ms, max ${Math.max(...gaps)} ms over ${gaps.length} trials\n`);
  } finally {
    await small.stopSampling();
    await small.pair.lab.cleanup();
  }
  const gaps = results.map((r) => r.gapMs);
  const changed = results.filter((r) => r.isRouterChanged).length;
  const survived = results.filter((r) => r.isTcpSurviving).length;
  process.stdout.write(
    `failover: gap median ${Math.round(median(gaps))} ms max ${Math.max(...gaps)} ms over ${gaps.length} trials, RAs from backup ${bad.fromBackup}, lifetime-0 RAs ${bad.lifetimeZero}, default router changed ${changed}, tcp survived ${survived} of ${results.length}, cloudstack way gap ${cloudStackGap} ms\n`,
  );
}

main().catch((error: unknown) => {
  process.stderr.write(`bench-failover failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
