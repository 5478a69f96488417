import type { Logger } from 'pino';
import type { Host } from '../host/host.js';
import { HEARTBEAT_GRACE_SECONDS, HEARTBEAT_INTERVAL_MS } from '../render/keepalived-conf.js';
import { isLoopHealthy } from './systemd-notify.js';

/** What the heartbeat asks of the agent: when its reconcile loop last ran, on the monotonic clock (performance.now()). */
interface LoopClock {
  readonly lastLoopMonotonicMs: number;
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
  // A restarted agent continues the file's record: its first beat then tells how long the agent was away.
  let previousMs = parseHeartbeat(await host.readFile(path).catch(() => null))?.beatMs ?? null;
  // One beat at a time: beats share the atomic write's temp file, and a slow write overlapped by the next fails one rename.
  let isBeating = false;
  const beat = async () => {
    const nowMs = Date.now();
    // The loop's age on the monotonic clock: a wall-clock step must not stop the beats of a running loop.
    if (isBeating || !isLoopHealthy(performance.now(), agent.lastLoopMonotonicMs, watchdogMs ?? 0, resyncSeconds)) return;
    isBeating = true;
    try {
      await host.writeFileAtomic(path, `${nowMs} ${previousMs ?? nowMs}\n`, 0o644);
      previousMs = nowMs;
      if (isFailing) log.info({ path }, 'heartbeat written again');
      isFailing = false;
    } catch (error) {
      // A full runtime directory: keepalived will fault this VR's roles, which is right for a VR this broken.
      if (!isFailing) log.warn({ err: error, path }, 'cannot write the heartbeat, going on');
      isFailing = true;
    } finally {
      isBeating = false;
    }
  };
  await beat();
  return setInterval(() => void beat(), HEARTBEAT_INTERVAL_MS);
}

/** The heartbeat file's record: this beat, and the one before it (epoch ms). */
interface Heartbeat {
  readonly beatMs: number;
  readonly previousMs: number;
}

function parseHeartbeat(text: string | null): Heartbeat | null {
  const match = /^(\d+)(?: (\d+))?\n?$/.exec(text ?? '');
  if (match === null) return null;
  const beatMs = Number(match[1]);
  return { beatMs, previousMs: match[2] === undefined ? beatMs : Number(match[2]) };
}

/** How far back a gap in the beats still explains a fault the agent hears of only now. */
const RECENT_GAP_MS = 30_000;

/**
 * Whether the heartbeat file says the agent was away long enough for
 * keepalived's check to fail: the last beat is older than the grace period
 * now, or the last beat came recently after a gap longer than it (the agent
 * ran again, and wrote, before it read keepalived's FAULT line). Pure.
 */
export function isHeartbeatLapsed(text: string | null, nowMs: number): boolean {
  const heartbeat = parseHeartbeat(text);
  if (heartbeat === null) return false;
  const graceMs = HEARTBEAT_GRACE_SECONDS * 1000;
  return nowMs - heartbeat.beatMs > graceMs || (heartbeat.beatMs - heartbeat.previousMs > graceMs && nowMs - heartbeat.beatMs < RECENT_GAP_MS);
}
