import { ExecError, type ExecOptions, type ExecResult } from '../../src/host/host.js';

/**
 * The sessions of the in-memory host's bgpd, for `vtysh -c 'show bgp
 * neighbors json'`: its neighbours are the ones in bgpd's running config (the
 * model in memory-bgpd.ts), and what each session is doing is what a test
 * says. It prints FRR 8.4.4's JSON with the field names and the omissions
 * measured on it (test/fixtures/frr-show-bgp-neighbors-*.json are real
 * answers): no uptime and no sent count unless Established, a notification
 * only while the last reset was one, and an up-since epoch that wavers by a
 * second from one answer to the next, as bgpd's does (it subtracts the
 * monotonic uptime from the wall clock, both truncated to seconds). It reads
 * nothing of the agent.
 */

/** What a test says of one session; every field optional, a neighbour nobody spoke of is Active. */
export interface MemorySession {
  readonly state?: string;
  readonly upSinceEpochSeconds?: number;
  readonly prefixesAccepted?: number;
  readonly prefixesSent?: number;
  readonly connectionsEstablished?: number;
  readonly connectionsDropped?: number;
  readonly lastResetDueTo?: string;
  /** The last NOTIFICATION: bgpd's words for code/subcode, who sent it, and an RFC 8203 message. */
  readonly notification?: { readonly reason: string; readonly isReceived: boolean; readonly shutdownMessage?: string };
}

const QUESTION = 'show bgp neighbors json';

/** Whether argv is the question this model answers. */
export function isBgpSessionsQuestion(argv: readonly string[]): boolean {
  return argv[0] === 'vtysh' && argv.includes(QUESTION);
}

export class MemoryBgpSessions {
  readonly sessions = new Map<string, MemorySession>();
  /** A stuck bgpd: vtysh gets no answer and is killed at its timeout, as execFile kills it. */
  isStuck = false;
  /** The next answer is this text instead of JSON. */
  garbage: string | null = null;
  private answers = 0;

  /** How many questions bgpd has answered: lets a test wait for polls to have happened. */
  get answered(): number {
    return this.answers;
  }

  /** vtysh's answer, given bgpd's running config (null: bgpd is not running). */
  async answer(argv: readonly string[], options: ExecOptions, runningConfig: string | null): Promise<ExecResult> {
    if (runningConfig === null) throw new ExecError(argv, 1, 'Exiting: failed to connect to any daemons.');
    if (this.isStuck) {
      await new Promise((resolve) => setTimeout(resolve, options.timeoutMs ?? 30_000));
      throw new ExecError(argv, null, 'Command failed: killed by SIGTERM');
    }
    if (this.garbage !== null) return { stdout: this.garbage, stderr: '', exitCode: 0 };
    const waver = this.answers++ % 2;
    const neighbors: Record<string, unknown> = {};
    for (const match of runningConfig.matchAll(/^ neighbor (\S+) remote-as (\d+)$/gm)) {
      const address = match[1]!;
      const description = new RegExp(`^ neighbor ${address.replace(/[.:]/g, '\\$&')} description (.+)$`, 'm').exec(runningConfig)?.[1];
      neighbors[address] = printNeighbor(Number(match[2]), description, this.sessions.get(address) ?? {}, waver);
    }
    return { stdout: `${JSON.stringify(neighbors, null, 2)}\n`, stderr: '', exitCode: 0 };
  }
}

function printNeighbor(remoteAs: number, description: string | undefined, session: MemorySession, waver: number): Record<string, unknown> {
  const state = session.state ?? 'Active';
  const isUp = state === 'Established';
  const notification = session.notification;
  const resetDueTo = notification ? (notification.isReceived ? 'BGP Notification received' : 'BGP Notification send') : session.lastResetDueTo;
  return {
    remoteAs,
    ...(description === undefined ? {} : { nbrDesc: description }),
    bgpState: state,
    ...(isUp ? { bgpTimerUpMsec: 1000, bgpTimerUpEstablishedEpoch: (session.upSinceEpochSeconds ?? 1_800_000_000) + waver } : {}),
    addressFamilyInfo: {
      ipv6Unicast: { acceptedPrefixCounter: isUp ? (session.prefixesAccepted ?? 0) : 0, ...(isUp ? { sentPrefixCounter: session.prefixesSent ?? 0 } : {}) },
    },
    connectionsEstablished: session.connectionsEstablished ?? (isUp ? 1 : 0),
    connectionsDropped: session.connectionsDropped ?? 0,
    lastResetTimerMsecs: 1000,
    ...(resetDueTo === undefined ? {} : { lastResetDueTo: resetDueTo }),
    ...(notification === undefined
      ? {}
      : {
          lastNotificationReason: notification.reason,
          ...(notification.shutdownMessage === undefined ? {} : { lastShutdownDescription: notification.shutdownMessage }),
        }),
  };
}
