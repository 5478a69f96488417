import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { waitFor } from '../test/lab/netns.js';
import {
  holdsGateway,
  killEverythingIn,
  PAIR_GATEWAY,
  PAIR_GUEST_PREFIX,
  PAIR_IF,
  PAIR_NS,
  PAIR_PUBLIC_VIP,
  readGuestRouter,
  setGuestPort,
  startGuestPing,
  startPairAgent,
  startTcpPush,
  waitForPrimary,
  type PairLab,
  type PortRa,
  type VrName,
} from '../test/lab/pair-lab.js';

/** How the primary dies in a trial. */
export type FailureKind = 'sigkill' | 'link-down' | 'agent-fault';

/** What one failover did. */
export interface TrialResult {
  readonly kind: FailureKind;
  /** The longest silence between the guest's ping replies (every 10 ms), from the failure until they flowed again. */
  readonly gapMs: number;
  readonly isRouterChanged: boolean;
  readonly isTcpSurviving: boolean;
  /** From the failure to the new primary's first RA; null when none came before the trial ended. */
  readonly firstRaMs: number | null;
}

const TAKEOVER_MS = 15_000;
const SETTLE_MS = 40_000;
// TCP's retransmission timer fires a few times in this window after a takeover.
const TCP_WINDOW_MS = 3000;

type Ping = Awaited<ReturnType<typeof startGuestPing>>;

/** Fails vr1 (the primary by priority) one way, measures the takeover by vr2, then brings vr1 back and waits for failback. */
export async function runTrial(pair: PairLab, ping: Ping, kind: FailureKind, port: number, readRas: () => Record<VrName, PortRa[]>): Promise<TrialResult> {
  await waitForPrimary(pair, 'vr1', SETTLE_MS);
  const before = await readGuestRouter(pair);
  const stream = await startTcpPush(pair, port);
  // conntrackd has synced the new flow to the backup by then.
  await new Promise((resolve) => setTimeout(resolve, 500));
  const failedAt = Date.now();
  const restore = await failPrimary(pair, kind);
  await waitFor(async () => (await holdsGateway(pair, 'vr2')) || undefined, { timeoutMs: TAKEOVER_MS, what: 'vr2 to take the gateway' });
  await waitFor(async () => ping.repliesAfter(Date.now() - 200) > 5 || undefined, { timeoutMs: TAKEOVER_MS, what: 'the guest pings to flow again' });
  const takenAt = Date.now();
  await new Promise((resolve) => setTimeout(resolve, TCP_WINDOW_MS));
  const firstRa = readRas().vr2.find((ra) => ra.atMs > failedAt);
  const result: TrialResult = {
    kind,
    firstRaMs: firstRa === undefined ? null : Math.round(firstRa.atMs - failedAt),
    gapMs: ping.longestGapMs(failedAt, takenAt),
    isRouterChanged: JSON.stringify(await readGuestRouter(pair)) !== JSON.stringify(before),
    isTcpSurviving: stream.linesAfter(takenAt + TCP_WINDOW_MS / 2) > 10,
  };
  await restore();
  await waitForPrimary(pair, 'vr1', SETTLE_MS);
  return result;
}

/** Makes vr1 die one way; resolves with what brings it back. */
async function failPrimary(pair: PairLab, kind: FailureKind): Promise<() => Promise<void>> {
  switch (kind) {
    case 'sigkill':
      await killEverythingIn(pair, 'vr1');
      return async () => void (await startPairAgent(pair, 'vr1'));
    case 'link-down':
      await setGuestPort(pair, 'vr1', false);
      return () => setGuestPort(pair, 'vr1', true);
    case 'agent-fault': {
      // A directory where the interfaces file goes: every reconcile of vr1 fails until it is gone.
      const blocker = join(pair.agentDir.vr1, 'state/interfaces.d-vr6-agent');
      rmSync(blocker, { force: true });
      mkdirSync(join(blocker, 'x'), { recursive: true });
      return async () => rmSync(blocker, { recursive: true, force: true });
    }
  }
}

/**
 * The CloudStack way, for comparison: no shared link-local address and no
 * virtual MAC. The agents and their daemons are gone; vr1 holds the gateway
 * and the public address and runs radvd from its own link-local address.
 * When vr1 dies, vr2 does what CloudStack's transition script does, after
 * the takeover time keepalived needs: it adds the gateway and the public
 * address and starts radvd. The upstream's neighbour entry for the public
 * address is flushed at that moment, as if it had learnt the new holder at
 * once: the best case upstream, so the gap measured is the guests' part,
 * which lasts until a guest gives up on vr1 as its router.
 */
export async function measureCloudStackWay(pair: PairLab, ping: Ping, takeoverMs: number): Promise<number> {
  for (const vr of ['vr1', 'vr2'] as const) {
    await killEverythingIn(pair, vr);
    await pair.lab.exec(vr, ['ip', 'link', 'del', 'dev', PAIR_IF.vmacGuest], { allowFailure: true });
    await pair.lab.exec(vr, ['ip', 'link', 'del', 'dev', 'vr6-eth1'], { allowFailure: true });
  }
  await pair.lab.exec(PAIR_NS.guest, ['ip', '-6', 'route', 'flush', 'proto', 'ra']);
  await pair.lab.exec(PAIR_NS.guest, ['ip', '-6', 'neigh', 'flush', 'dev', PAIR_IF.guestNic]);
  await becomeCloudStackPrimary(pair, 'vr1');
  await waitFor(async () => ping.repliesAfter(Date.now() - 200) > 5 || undefined, { timeoutMs: SETTLE_MS, what: 'the guest to reach out through vr1, the CloudStack way' });
  const failedAt = Date.now();
  await setGuestPort(pair, 'vr1', false);
  await pair.lab.exec(PAIR_NS.switch, ['ip', 'link', 'set', 'p-vr1', 'down']);
  await new Promise((resolve) => setTimeout(resolve, takeoverMs));
  await becomeCloudStackPrimary(pair, 'vr2');
  await waitFor(async () => ping.repliesAfter(Date.now() - 200) > 5 || undefined, { timeoutMs: 120_000, what: 'the guest to reach out through vr2, the CloudStack way', intervalMs: 50 });
  return ping.longestGapMs(failedAt, Date.now());
}

async function becomeCloudStackPrimary(pair: PairLab, vr: VrName): Promise<void> {
  await pair.lab.exec(vr, ['ip', '-6', 'addr', 'add', `${PAIR_PUBLIC_VIP}/64`, 'dev', PAIR_IF.public, 'nodad']);
  await pair.lab.exec(PAIR_NS.upstream, ['ip', '-6', 'neigh', 'flush', PAIR_PUBLIC_VIP]);
  await pair.lab.exec(vr, ['ip', '-6', 'addr', 'add', `${PAIR_GATEWAY}/64`, 'dev', PAIR_IF.guest, 'nodad']);
  const dir = join(pair.lab.tempDir, `cloudstack-${vr}`);
  mkdirSync(dir, { recursive: true });
  const conf = join(dir, 'radvd.conf');
  writeFileSync(
    conf,
    `interface ${PAIR_IF.guest} { AdvSendAdvert on; MinRtrAdvInterval 3; MaxRtrAdvInterval 4; AdvDefaultLifetime 12; prefix ${PAIR_GUEST_PREFIX} { AdvOnLink on; AdvAutonomous on; }; };\n`,
  );
  await pair.lab.exec(vr, ['radvd', '-C', conf, '-p', join(dir, 'radvd.pid'), '-m', 'logfile', '-l', join(dir, 'radvd.log')]);
  pair.lab.trackPidFile(vr, join(dir, 'radvd.pid'));
}
