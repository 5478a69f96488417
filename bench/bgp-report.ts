import { spawnSync } from 'node:child_process';
import { cpus, loadavg, release } from 'node:os';
import { GUEST_BLOCK } from '../test/lab/topology.js';
import type { AgentRestartRound, AnnouncementRound, PeerChangeRound } from './bgp-cases.js';
import { HOLD_SECONDS } from './bgp-lab.js';
import type { RestartFrrRound } from './bgp-restart-frr.js';
import { formatMs, median } from './stats.js';

/** Every round of every case of one run of the BGP benchmark. */
export interface BgpRounds {
  readonly announce: AnnouncementRound[];
  readonly withdraw: AnnouncementRound[];
  readonly daemonsAlone: { withdrawMs: number; announceMs: number }[];
  readonly peerChange: PeerChangeRound[];
  readonly agentRestart: AgentRestartRound[];
  readonly coldStart: number[];
  readonly restartFrr: RestartFrrRound[];
}

/** What the report needs besides the rounds. */
export interface BgpRunFacts {
  readonly runs: number;
  /** From the agent's first start in a new lab until the upstream had the /48. */
  readonly freshMs: number;
  readonly loadAtStart: string;
}

const sum = (values: readonly number[]) => values.reduce((a, b) => a + b, 0);
const roundedMedian = (values: readonly number[]) => Math.round(median(values));
const list = (values: readonly (number | string)[]) => values.join(', ');
const formatLoad = () => loadavg().map((l) => l.toFixed(2)).join(' ');

function readFrrVersion(): string {
  const out = spawnSync('/usr/lib/frr/bgpd', ['--version'], { encoding: 'utf8' }).stdout ?? '';
  return /version\s+(\S+)/.exec(out)?.[1] ?? 'unknown';
}

function renderHeader(facts: BgpRunFacts): string[] {
  return [
    '# vr6-agent BGP benchmark',
    '',
    `machine: ${cpus().length} cores; load average ${facts.loadAtStart} at start, ${formatLoad()} at the end; kernel ${release()}; FRR ${readFrrVersion()}; Node ${process.version}`,
    `timers: hold ${HOLD_SECONDS} s / keepalive ${HOLD_SECONDS / 3} s on every session; connect retry 5 s on the VR, 1 s on the peers; bgp route-map delay-timer 1 s on all three; MRAI 0 (FRR 8.4's default)`,
    `method: median (min–max) of ${facts.runs} rounds; routes read in the upstream's kernel (${GUEST_BLOCK}, proto bgp, exact) through a resident \`ip -batch\`, polled every 5 ms`,
    '',
  ];
}

function renderAnnouncements(rounds: BgpRounds): string[] {
  const lines = (name: 'announce' | 'withdraw', what: string, alone: number[]) => {
    const r = rounds[name];
    return [
      `${name} (${what}): ${formatMs(r.map((x) => x.ms))}`,
      `  context: by the agent's log, from the push: state accepted ${formatMs(r.map((x) => x.agentMs.accepted))}, frr.conf checked ${formatMs(r.map((x) => x.agentMs.checked))}, first vtysh -f done ${formatMs(r.map((x) => x.agentMs.firstPass))}`,
      `  context: the agent's reconcile of that push ${formatMs(r.map((x) => x.reconcileMs))}, in vtysh -f passes ${list(r.map((x) => x.passes.length))}`,
      `  context: the daemons alone (agent stopped, one vtysh -f of the same commands) ${formatMs(alone)}; a guest /64 missing at the upstream in ${sum(r.map((x) => x.missingPollsTiers))} polls (both stay announced throughout)`,
    ];
  };
  return [
    ...lines('announce', 'push of the state that adds the /48 → upstream kernel has it', rounds.daemonsAlone.map((r) => r.announceMs)),
    ...lines('withdraw', 'push of the state without it → upstream kernel has lost it', rounds.daemonsAlone.map((r) => r.withdrawMs)),
  ];
}

function renderSessions(rounds: BgpRounds, facts: BgpRunFacts): string[] {
  const { peerChange, agentRestart, restartFrr } = rounds;
  const n = `${facts.runs} rounds`;
  return [
    `one-peer change (peer B's TCP-MD5 password, both sides): peer A's session reset ${sum(peerChange.map((r) => r.resetsA))} times in ${n}; A's /48 missing in ${sum(peerChange.map((r) => r.missingPollsA))} polls`,
    `  context: peer B's own session reset ${sum(peerChange.map((r) => r.resetsB))} times in ${n}; B Established again ${formatMs(peerChange.map((r) => r.backMsB))} after the push`,
    `agent restart (SIGKILL, start, first applied): ${sum(agentRestart.map((r) => r.resets))} resets over both sessions in ${n}; A's /48 missing in ${sum(agentRestart.map((r) => r.missingPollsA))} polls`,
    `  context: first applied ${formatMs(agentRestart.map((r) => r.firstAppliedMs))} after the start; FRR steps in it ${list(agentRestart.map((r) => r.frrSteps))}; bgpd kept its PID in ${agentRestart.filter((r) => r.isBgpdKept).length}/${facts.runs}`,
    `restart-frr way (agent stopped; SIGTERM zebra and bgpd, start them, vtysh -b): upstream has the /48 again ${formatMs(restartFrr.map((r) => r.backMs))} after the SIGTERM`,
    `  context: the upstream lost it ${formatMs(restartFrr.map((r) => r.lostMs))} after the SIGTERM (no route for ${formatMs(restartFrr.map((r) => r.backMs - r.lostMs))}); vtysh -b done ${formatMs(restartFrr.map((r) => r.bootMs))} after it`,
    `  context: the agent started after it converged in ${restartFrr.filter((r) => r.isAgentConverged).length}/${facts.runs}; FRR steps in its first pass ${list(restartFrr.map((r) => r.agentFrrSteps))}`,
    `context: fresh start (new lab, agent started: SLAAC, zebra, bgpd, sessions) → the /48 at the upstream: ${facts.freshMs} ms (one sample)`,
    `context: agent start with its zebra and bgpd stopped → the /48 at the upstream: ${formatMs(rounds.coldStart)}`,
  ];
}

function renderPasses(rounds: BgpRounds): string[] {
  return [
    "context: the agent's vtysh passes in round 1, one line each:",
    ...(['announce', 'withdraw'] as const).flatMap((name) =>
      (rounds[name][0]?.passes ?? []).map((pass, i) => `  ${name} pass ${i + 1}: ${pass.split('\n').join('; ')}`),
    ),
  ];
}

/** The one-line summary, always the report's last line. */
export function renderSummary(rounds: BgpRounds): string {
  const ms = (values: readonly number[]) => roundedMedian(values);
  return [
    `bgp: announce ${ms(rounds.announce.map((r) => r.ms))} ms`,
    `withdraw ${ms(rounds.withdraw.map((r) => r.ms))} ms`,
    `one-peer change ${sum(rounds.peerChange.map((r) => r.resetsA))} resets`,
    `agent restart ${sum(rounds.agentRestart.map((r) => r.resets))} resets`,
    `restart-frr way ${ms(rounds.restartFrr.map((r) => r.backMs))} ms`,
  ].join(', ');
}

/** Prints the figures, with what makes them honest, and ends with the summary line. */
export function printBgpReport(rounds: BgpRounds, facts: BgpRunFacts): void {
  const lines = [...renderHeader(facts), ...renderAnnouncements(rounds), ...renderSessions(rounds, facts), ...renderPasses(rounds), '', renderSummary(rounds)];
  process.stdout.write(`${lines.join('\n')}\n`);
}
