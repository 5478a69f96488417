import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { findLabObstacle } from '../test/lab/lab-guard.js';
import { waitFor } from '../test/lab/netns.js';
import { FAR_HOST, NS, UPSTREAM_ADDRESS } from '../test/lab/topology.js';
import {
  measureAgentRestart,
  measureAgentStart,
  measureAnnouncement,
  measureColdFrrStart,
  measureDaemonsAlone,
  measurePeerChange,
  type BenchCursor,
} from './bgp-cases.js';
import { readVrNeighbor, renderBenchState, startBgpLab, type BgpLab } from './bgp-lab.js';
import { pushDesired, stopAgent } from '../test/lab/vr-lab.js';
import { measureRestartFrr } from './bgp-restart-frr.js';
import { printBgpReport, type BgpRounds } from './bgp-report.js';

/**
 * `make bench-bgp`: what a routing change costs with the agent's BGP, on a
 * real kernel with real FRR daemons, in the lab's namespaces (root). Prints
 * medians and ranges over N rounds and never asserts them; the last line is
 * the summary. bench/README.md says what each figure means.
 */

const TOOLS = ['ip', 'nft', 'radvd', 'vtysh', '/usr/lib/frr/zebra', '/usr/lib/frr/bgpd'];

function parseRuns(argv: readonly string[]): number {
  let runs = 5;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--runs' && /^[1-9]\d*$/.test(argv[i + 1] ?? '')) runs = Number(argv[++i]);
    else throw new Error(`unknown argument ${JSON.stringify(arg)}; usage: bgp-bench [--runs N]`);
  }
  return runs;
}

/** Waits until the VR has both sessions Established, as every case leaves them. */
async function waitForSessions(bgpLab: BgpLab): Promise<void> {
  await waitFor(
    async (note) => {
      const states = await Promise.all([UPSTREAM_ADDRESS, FAR_HOST].map(async (address) => (await readVrNeighbor(bgpLab, address)).bgpState));
      note(states);
      return states.every((state) => state === 'Established');
    },
    { timeoutMs: 30_000, what: 'both sessions to be Established', intervalMs: 20 },
  );
}

/** One round of every case, in a fixed order; each case leaves both sessions up and the /48 announced. */
async function runRound(bgpLab: BgpLab, cursor: BenchCursor, round: number, rounds: BgpRounds): Promise<void> {
  const withdraw = await measureAnnouncement(bgpLab, cursor, false);
  const announce = await measureAnnouncement(bgpLab, cursor, true);
  rounds.withdraw.push(withdraw);
  rounds.announce.push(announce);
  rounds.peerChange.push(await measurePeerChange(bgpLab, cursor, round));
  rounds.agentRestart.push(await measureAgentRestart(bgpLab));
  await stopAgent(bgpLab.vrLab);
  rounds.daemonsAlone.push(await measureDaemonsAlone(bgpLab, { withdraw, announce }));
  rounds.coldStart.push(await measureColdFrrStart(bgpLab));
  await waitForSessions(bgpLab);
  rounds.restartFrr.push(await measureRestartFrr(bgpLab));
  await waitForSessions(bgpLab);
}

/** What a failed run leaves to read, before cleanup removes the lab: both ends' view of the sessions and the agent's last words. */
async function printDiagnostics(bgpLab: BgpLab): Promise<void> {
  const { vrLab, frrDir } = bgpLab;
  const show = (ns: string, socket: string) =>
    vrLab.lab.exec(ns, ['vtysh', '--vty_socket', socket, '-c', 'show bgp summary'], { allowFailure: true }).then((r) => r.stdout + r.stderr, (e) => String(e));
  process.stderr.write(`--- the VR's bgpd\n${await show(NS.vr, frrDir)}\n--- peer A\n${await show(NS.upstream, join(vrLab.lab.tempDir, `frr-peer-${NS.upstream}`))}\n`);
  const log = vrLab.agent === null ? '' : readFileSync(vrLab.agent.logPath, 'utf8');
  process.stderr.write(`--- the agent's log, last lines\n${log.split('\n').slice(-25).join('\n')}\n`);
}

async function main(): Promise<void> {
  const runs = parseRuns(process.argv.slice(2));
  const obstacle = findLabObstacle(TOOLS);
  if (obstacle !== undefined) throw new Error(`bench-bgp cannot run: ${obstacle}`);
  const loadAtStart = loadavg().map((l) => l.toFixed(2)).join(' ');
  const cursor: BenchCursor = { current: { hasAggregate: true, passwordB: 'lab-md5-key-0' } };
  const bgpLab = await startBgpLab(cursor.current);
  try {
    // The simulator holds the state for the agent, as a management server does: the agent gets it after its hello.
    await pushDesired(bgpLab.vrLab, renderBenchState(cursor.current));
    const freshMs = await measureAgentStart(bgpLab);
    await waitForSessions(bgpLab);
    const rounds: BgpRounds = { announce: [], withdraw: [], daemonsAlone: [], peerChange: [], agentRestart: [], coldStart: [], restartFrr: [] };
    for (let round = 0; round < runs; round++) {
      await runRound(bgpLab, cursor, round, rounds);
      process.stderr.write(`round ${round + 1}/${runs} done\n`);
    }
    printBgpReport(rounds, { runs, freshMs, loadAtStart });
  } catch (error) {
    await printDiagnostics(bgpLab);
    throw error;
  } finally {
    bgpLab.upstreamRoutes.close();
    await bgpLab.vrLab.lab.cleanup();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench-bgp failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
