import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { waitFor, WaitAbortedError } from '../test/lab/netns.js';
import { GUEST_BLOCK, NS } from '../test/lab/topology.js';
import { simEventCount, startAgent, stopAgent, waitForMessage } from '../test/lab/vr-lab.js';
import type { BgpLab } from './bgp-lab.js';
import { stopVrFrr } from './bgp-cases.js';

/**
 * CloudStack's way of changing routing, measured as the agent's is: restart
 * FRR and let it read the whole configuration again. With the agent
 * stopped, the VR's zebra and bgpd get SIGTERM and are started the way FRR's
 * own boot starts them (each daemon with an empty config, then `vtysh -b`
 * sends each daemon its share of frr.conf), on the agent's private paths and
 * with the agent's frr.conf, so that the agent adopts them afterwards.
 */

const FRR = '/usr/lib/frr';

/** One round: when the upstream lost the /48 and had it back, from the first SIGTERM; then the agent's verdict on what it found. */
export interface RestartFrrRound {
  readonly lostMs: number;
  /** Until `vtysh -b` had configured both daemons. */
  readonly bootMs: number;
  readonly backMs: number;
  readonly isAgentConverged: boolean;
  /** The FRR steps the agent's first pass took after it: 0 when the restarted FRR was what the agent wants. */
  readonly agentFrrSteps: number;
}

/** Starts one daemon with the agent's own arguments (src/apply/executors.ts) and waits until it answers on its vty socket. */
async function startDaemon(bgpLab: BgpLab, daemon: 'zebra' | 'bgpd'): Promise<void> {
  const dir = bgpLab.frrDir;
  const argv = [`${FRR}/${daemon}`, '-f', '/dev/null', '-P', '0', '--vty_socket', dir, '-z', join(dir, 'zserv.api'), '-i', join(dir, `${daemon}.pid`)];
  const proc = await bgpLab.vrLab.lab.spawn(NS.vr, [...argv, '--log', 'syslog', '--log-level', 'informational']);
  await waitFor(
    async () => {
      if (proc.hasExited()) throw new WaitAbortedError(`${daemon} exited at start; see ${proc.logPath}`);
      return bgpLab.vrLab.lab.exec(NS.vr, ['vtysh', '--vty_socket', dir, '-d', daemon, '-c', 'show version']).then(() => true, () => false);
    },
    { timeoutMs: 10_000, what: `the VR's ${daemon} to answer`, intervalMs: 10 },
  );
}

/** Restarts the VR's FRR the CloudStack way, with the agent stopped, and times the route's return at the upstream. */
export async function measureRestartFrr(bgpLab: BgpLab): Promise<RestartFrrRound> {
  const { vrLab, frrDir, upstreamRoutes } = bgpLab;
  await stopAgent(vrLab);
  // vtysh reads vtysh.conf from the config dir before frr.conf; an empty one is what the package's holds but for comments.
  writeFileSync(join(frrDir, 'vtysh.conf'), '');
  const { stoppedAt, lostAt } = await stopVrFrr(bgpLab);
  await startDaemon(bgpLab, 'zebra');
  await startDaemon(bgpLab, 'bgpd');
  await vrLab.lab.exec(NS.vr, ['vtysh', '--vty_socket', frrDir, '--config_dir', frrDir, '-b'], { timeoutMs: 30_000 });
  const bootedAt = Date.now();
  const backAt = await upstreamRoutes.waitFor(GUEST_BLOCK, true, 60_000);
  const from = simEventCount(vrLab);
  await startAgent(vrLab);
  const applied = await waitForMessage(vrLab, 'applied', () => true, 30_000, from);
  return {
    lostMs: lostAt - stoppedAt,
    bootMs: bootedAt - stoppedAt,
    backMs: backAt - stoppedAt,
    isAgentConverged: applied.isConverged && applied.errors.length === 0,
    agentFrrSteps: applied.components.frr?.steps ?? 0,
  };
}
