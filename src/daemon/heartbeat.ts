import type { Logger } from 'pino';
import type { Host } from '../host/host.js';
import { HEARTBEAT_INTERVAL_MS } from '../render/keepalived-conf.js';
import { isLoopHealthy } from './systemd-notify.js';

/** What the heartbeat asks of the agent: when its reconcile loop last ran. */
interface LoopClock {
  readonly lastLoopAt: number;
}

/**
 * The agent's heartbeat for keepalived (docs/redundancy.md, "The agent's
 * liveness"): the file is rewritten every second while the reconcile loop
 * runs, on the same terms as systemd's watchdog ping (a loop that missed two
 * resyncs is stuck). A dead, stopped or stuck agent stops writing it, and
 * keepalived's check puts the pair's instances in FAULT once it is older
 * than the grace period; a restarted agent writes it again at once, before
 * its first reconcile. Returns the timer, after the first write.
 */
export async function startHeartbeat(host: Host, path: string, agent: LoopClock, watchdogMs: number | null, resyncSeconds: number, log: Logger): Promise<NodeJS.Timeout> {
  let isFailing = false;
  const beat = async () => {
    if (!isLoopHealthy(Date.now(), agent.lastLoopAt, watchdogMs ?? 0, resyncSeconds)) return;
    try {
      await host.writeFileAtomic(path, `${Date.now()}\n`, 0o644);
      if (isFailing) log.info({ path }, 'heartbeat written again');
      isFailing = false;
    } catch (error) {
      // A full runtime directory: keepalived will fault this VR's roles, which is right for a VR this broken.
      if (!isFailing) log.warn({ err: error, path }, 'cannot write the heartbeat, going on');
      isFailing = true;
    }
  };
  await beat();
  return setInterval(() => void beat(), HEARTBEAT_INTERVAL_MS);
}
