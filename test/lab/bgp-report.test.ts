import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BgpReport, ObservedMessage } from '../../src/schema/protocol.js';
import { expectDefaultRouteAgreesWithKernel, expectReportAgreesWithPeer } from './bgp-report-check.js';
import { startFrrPeer, type FrrPeer } from './frr-peer.js';
import { canRunLab } from './lab-guard.js';
import { GUEST_BLOCK, NS, UPSTREAM_ADDRESS } from './topology.js';
import { labDesiredState, pushAndApply, runVr6ctl, simEventCount, startAgent, startVrLab, waitForMessage, type VrLab } from './vr-lab.js';

/**
 * What the agent reports of its BGP session with a real upstream peer, in
 * `observed` and through vr6ctl, checked against the peer's own view and the
 * VR's kernel: the session up with the default route, the peer shutting it
 * down with a message, and the session back.
 */

const TOOLS = ['ip', 'nft', 'radvd', 'vtysh', '/usr/lib/frr/zebra', '/usr/lib/frr/bgpd'];
const describeLab = canRunLab(TOOLS) ? describe : describe.skip;

const VR_AS = 65001;
const PEER_AS = 65000;
const EXTRA = '2001:db8:f000::/48';

function spec(): Record<string, any> {
  const state = labDesiredState();
  state.routing = {
    protocol: 'bgp',
    bgp: {
      localAs: VR_AS,
      routerId: '192.0.2.1',
      peers: [{ address: UPSTREAM_ADDRESS, remoteAs: PEER_AS, description: 'upstream-a', accept: 'default-route', holdTimeSeconds: 9 }],
      announce: { aggregates: [GUEST_BLOCK] },
    },
  };
  return state;
}

describeLab('the BGP report with a real peer', () => {
  let vrLab: VrLab;
  let peer: FrrPeer;
  let vrAddress: string;
  const kernelBgpDefault = async () => (await vrLab.lab.exec(NS.vr, ['ip', '-6', 'route', 'show', 'default', 'proto', 'bgp'])).stdout;
  const waitForBgp = (what: (bgp: BgpReport) => boolean, from = 0, timeoutMs = 30_000) =>
    waitForMessage(vrLab, 'observed', (m: ObservedMessage) => m.bgp !== null && what(m.bgp), timeoutMs, from).then((m) => m.bgp!);
  const vr6ctl = (...args: string[]) => runVr6ctl(vrLab, args);

  beforeAll(async () => {
    vrLab = await startVrLab(spec());
    vrLab.lab.trackPidFile(NS.vr, join(vrLab.agentDir, 'frr/bgpd.pid'));
    await startAgent(vrLab);
    await pushAndApply(vrLab, spec(), 30_000);
    vrAddress = (await waitForMessage(vrLab, 'observed', (m) => m.publicAddress?.source === 'slaac', 15_000)).publicAddress!.address;
    peer = await startFrrPeer(vrLab.lab, NS.upstream, {
      localAs: PEER_AS,
      routerId: '192.0.2.254',
      neighbors: [{ address: vrAddress, remoteAs: VR_AS }],
      originateDefault: true,
      extraPrefixes: [EXTRA],
    });
  }, 120_000);

  afterAll(async () => vrLab?.lab.cleanup());

  it('reports the session up as the peer sees it, with the one prefix accepted and the default route in the kernel', async () => {
    const bgp = await waitForBgp((b) => b.peers[0]?.state === 'Established' && b.peers[0].prefixesReceived === 1 && b.defaultRouteInKernel);
    expect(bgp.isBgpdAnswering).toBe(true);
    // The peer sent ::/0 and EXTRA; the VR's import policy took the default route only.
    expect(bgp.peers[0]).toMatchObject({ address: UPSTREAM_ADDRESS, description: 'upstream-a', prefixesReceived: 1, resets: 0, lastError: null });
    expectReportAgreesWithPeer(bgp.peers[0]!, await peer.neighbor(vrAddress));
    expectDefaultRouteAgreesWithKernel(bgp, await kernelBgpDefault());
  });

  it('keeps the up-since of a session steady across reads, though bgpd’s wavers', async () => {
    // Reads back to back for a few seconds land on both sides of bgpd's second; each is a fresh question to bgpd.
    const upSinces = new Set<number | null>();
    for (let read = 0; read < 12; read++) {
      const shown = vr6ctl('show', 'bgp', '--json');
      expect(shown.code).toBe(0);
      upSinces.add((JSON.parse(shown.stdout) as BgpReport).peers[0]!.upSinceEpochSeconds);
    }
    expect(upSinces.size).toBe(1);
  });

  it('prints the session in vr6ctl status and show bgp', () => {
    const status = vr6ctl('status');
    expect(status.stdout).toMatch(/^bgp {9}1\/1 established, default route via fe80::\S+$/m);
    const table = vr6ctl('show', 'bgp').stdout.split('\n');
    expect(table[0]).toMatch(/^bgp 1\/1 established; default route via fe80::/);
    expect(table[2]).toMatch(new RegExp(`^${UPSTREAM_ADDRESS} +upstream-a +Established +\\S+ +1 +1 +0 +-$`));
  });

  it('reports the peer’s shutdown with its message, then the session back with the reset counted', async () => {
    const before = (await waitForBgp((b) => b.peers[0]?.state === 'Established')).peers[0]!;
    let from = simEventCount(vrLab);
    await peer.configure([`router bgp ${PEER_AS}`, ` neighbor ${vrAddress} shutdown message maintenance window`, 'exit']);
    const down = await waitForBgp((b) => b.peers[0]?.resets === 1 && !b.defaultRouteInKernel, from);
    expect(down.peers[0]).toMatchObject({ state: expect.not.stringMatching(/^Established$/), lastError: 'Cease/Administrative Shutdown (received): maintenance window' });
    expectReportAgreesWithPeer(down.peers[0]!, await peer.neighbor(vrAddress));
    expectDefaultRouteAgreesWithKernel(down, await kernelBgpDefault());

    from = simEventCount(vrLab);
    await peer.configure([`router bgp ${PEER_AS}`, ` no neighbor ${vrAddress} shutdown`, 'exit']);
    const back = await waitForBgp((b) => b.peers[0]?.state === 'Established' && b.peers[0].prefixesReceived === 1 && b.defaultRouteInKernel, from);
    // The reason of the last drop stays with the session that replaced it.
    expect(back.peers[0]).toMatchObject({ resets: 1, lastError: 'Cease/Administrative Shutdown (received): maintenance window' });
    expect(back.peers[0]!.upSinceEpochSeconds!).toBeGreaterThan(before.upSinceEpochSeconds!);
    expectReportAgreesWithPeer(back.peers[0]!, await peer.neighbor(vrAddress));
    expectDefaultRouteAgreesWithKernel(back, await kernelBgpDefault());
  });
});
