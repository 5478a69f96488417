import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCommand, waitFor } from './netns.js';
import { startFrrPeer, type FrrPeer } from './frr-peer.js';
import { GUEST_BLOCK, NS, UPSTREAM_ADDRESS } from './topology.js';
import { canRunLab } from './lab-guard.js';
import { labDesiredState, pushAndApply, startAgent, startVrLab, waitForMessage, type VrLab } from './vr-lab.js';

/**
 * BFD with a real peer: the agent runs bfdd for a peer with BFD, the
 * session comes up, and a silent loss of the link (every packet dropped,
 * carrier up) takes the BGP session down in well under its hold time.
 */

const TOOLS = ['ip', 'nft', 'radvd', 'vtysh', '/usr/lib/frr/zebra', '/usr/lib/frr/bgpd', '/usr/lib/frr/bfdd'];
const describeLab = canRunLab(TOOLS) ? describe : describe.skip;

const HOLD_SECONDS = 9;
const BFD_MS = 100;

function spec(): Record<string, any> {
  const state = labDesiredState();
  state.routing = {
    protocol: 'bgp',
    bgp: {
      localAs: 65001,
      routerId: '192.0.2.1',
      peers: [{ address: UPSTREAM_ADDRESS, remoteAs: 65000, holdTimeSeconds: HOLD_SECONDS, bfd: { receiveIntervalMs: BFD_MS, transmitIntervalMs: BFD_MS } }],
      announce: { aggregates: [GUEST_BLOCK] },
    },
  };
  return state;
}

describeLab('BFD with a real peer', () => {
  let vrLab: VrLab;
  let peer: FrrPeer;
  const vtysh = async (command: string) =>
    (await vrLab.lab.exec(NS.vr, ['vtysh', '--vty_socket', join(vrLab.agentDir, 'frr'), '-c', command])).stdout;
  const bgpState = async () => ((JSON.parse(await vtysh(`show bgp neighbors ${UPSTREAM_ADDRESS} json`)) as Record<string, any>)[UPSTREAM_ADDRESS] ?? {}).bgpState;

  beforeAll(async () => {
    vrLab = await startVrLab(spec());
    for (const daemon of ['bgpd', 'bfdd']) vrLab.lab.trackPidFile(NS.vr, join(vrLab.agentDir, `frr/${daemon}.pid`));
    await startAgent(vrLab);
    await pushAndApply(vrLab, spec(), 30_000);
    const observed = await waitForMessage(vrLab, 'observed', (m) => m.publicAddress?.source === 'slaac', 15_000);
    peer = await startFrrPeer(vrLab.lab, NS.upstream, {
      localAs: 65000,
      routerId: '192.0.2.254',
      neighbors: [{ address: observed.publicAddress!.address, remoteAs: 65001, bfdIntervalMs: BFD_MS }],
    });
  }, 120_000);

  afterAll(async () => vrLab?.lab.cleanup());

  it('runs bfdd, whose session with the peer comes up beside BGP', async () => {
    await peer.waitForRoute(GUEST_BLOCK, true, 20_000);
    await waitFor(
      async () => {
        const peers = JSON.parse(await vtysh('show bfd peers json')) as { peer: string; status: string }[];
        return peers.find((p) => p.peer === UPSTREAM_ADDRESS && p.status === 'up');
      },
      { timeoutMs: 10_000, what: 'the BFD session to come up' },
    );
  });

  it('takes the session down within a fraction of the hold time when the link goes silent', async () => {
    expect(await bgpState()).toBe('Established');
    // Silent: carrier stays up, every IPv6 packet of the upstream is dropped both ways.
    await runCommand(['ip', 'netns', 'exec', vrLab.lab.namespace(NS.upstream), 'nft', '-f', '-'], {
      input: ['table ip6 lab_silence {', '  chain in { type filter hook input priority -10; policy drop; }', '  chain out { type filter hook output priority -10; policy drop; }', '}', ''].join('\n'),
    });
    const silencedAt = Date.now();
    await waitFor(async () => ((await bgpState()) !== 'Established' ? true : undefined), { timeoutMs: HOLD_SECONDS * 1000, what: 'the session to go down', intervalMs: 20 });
    const detectedMs = Date.now() - silencedAt;
    console.log(`bfd: a silent link took the session down in ${detectedMs} ms (hold time ${HOLD_SECONDS} s, BFD ${BFD_MS} ms × 3)`);
    // BFD's detection time is 300 ms; the hold timer alone would take 9 s.
    expect(detectedMs).toBeLessThan((HOLD_SECONDS * 1000) / 3);
    await runCommand(['ip', 'netns', 'exec', vrLab.lab.namespace(NS.upstream), 'nft', 'delete', 'table', 'ip6', 'lab_silence']);
    await waitFor(async () => ((await bgpState()) === 'Established' ? true : undefined), { timeoutMs: 30_000, what: 'the session to come back' });
  });
});
