import { chownSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCommand, waitFor } from './netns.js';
import { waitForPing, waitForSlaacAddress } from './probes.js';
import { GUEST_BLOCK, IF, NS, TIER1, UPSTREAM_ADDRESS } from './topology.js';
import { labDesiredState, pushDesired, simEventCount, startAgent, startVrLab, waitForMessage, type VrLab } from './vr-lab.js';

function spec() {
  const state = labDesiredState();
  state.routing = {
    protocol: 'bgp',
    bgp: { localAs: 65001, routerId: '192.0.2.1', peers: [{ address: UPSTREAM_ADDRESS, remoteAs: 65000, accept: 'default-route', holdTimeSeconds: 9 }], announce: { aggregates: [GUEST_BLOCK] } },
  };
  return state;
}

describe('bgp scratch', () => {
  let vrLab: VrLab;
  beforeAll(async () => {
    vrLab = await startVrLab(spec());
    for (const d of ['bgpd', 'bfdd']) vrLab.lab.trackPidFile(NS.vr, join(vrLab.agentDir, `frr/${d}.pid`));
    await startAgent(vrLab);
  }, 60_000);
  afterAll(async () => vrLab?.lab.cleanup());

  it('announces', async () => {
    const from = simEventCount(vrLab);
    const pushed = await pushDesired(vrLab, spec());
    const applied = await waitForMessage(vrLab, 'applied', (m) => m.generation === pushed.generation, 30_000, from);
    console.log("APPLIED", JSON.stringify(applied));
    const observed = await waitForMessage(vrLab, 'observed', (m) => m.publicAddress?.source === 'slaac', 15_000);
    const vrAddress = observed.publicAddress!.address;
    const dir = join(vrLab.lab.tempDir, 'up-frr');
    mkdirSync(dir, { mode: 0o755 });
    const frr = (await runCommand(['id', '-u', 'frr'])).stdout.trim();
    chownSync(dir, Number(frr), Number(frr));
    writeFileSync(join(dir, 'vtysh.conf'), '');
    writeFileSync(join(dir, 'frr.conf'), [
      'frr defaults traditional', 'ipv6 route ::/0 blackhole', 'route-map ANY permit 10', 'exit',
      'router bgp 65000', ' bgp router-id 192.0.2.254', ' no bgp default ipv4-unicast', ` neighbor ${vrAddress} remote-as 65001`, ` neighbor ${vrAddress} timers 3 9`, ` neighbor ${vrAddress} timers connect 1`,
      ' address-family ipv6 unicast', '  network ::/0', ` neighbor ${vrAddress} activate`, ` neighbor ${vrAddress} route-map ANY in`, ` neighbor ${vrAddress} route-map ANY out`, ' exit-address-family', 'exit', ''].join('\n'));
    const common = ['-P', '0', '--vty_socket', dir, '-z', join(dir, 'zserv.api')];
    await vrLab.lab.spawn(NS.upstream, ['/usr/lib/frr/zebra', '-f', join(dir, 'frr.conf'), ...common, '-i', join(dir, 'zebra.pid')]);
    await new Promise((r) => setTimeout(r, 500));
    await vrLab.lab.spawn(NS.upstream, ['/usr/lib/frr/bgpd', '-f', join(dir, 'frr.conf'), ...common, '-i', join(dir, 'bgpd.pid')]);
    await waitFor(async () => (await vrLab.lab.exec(NS.upstream, ['ip', '-6', 'route', 'show', GUEST_BLOCK])).stdout.includes('proto bgp') || undefined, { timeoutMs: 30_000, what: 'the upstream to learn the block' }).catch(async (e) => {
      console.log((await runCommand(['vtysh', '--vty_socket', join(vrLab.agentDir, 'frr'), '-c', 'show bgp summary'], { allowFailure: true })).stdout);
      console.log((await runCommand(['vtysh', '--vty_socket', join(vrLab.agentDir, 'frr'), '-c', 'show running-config'], { allowFailure: true })).stdout);
      throw e;
    });
    console.log((await vrLab.lab.exec(NS.upstream, ['ip', '-6', 'route'])).stdout);
    console.log((await vrLab.lab.exec(NS.vr, ['ip', '-6', 'route'])).stdout);
    const guest = await waitForSlaacAddress(vrLab.lab, NS.g1, IF.guest, TIER1, 15_000);
    await waitForPing(vrLab.lab, NS.upstream, guest.address, 10_000);
    console.log((await runCommand(['vtysh', '--vty_socket', join(vrLab.agentDir, 'frr'), '-c', 'show bgp neighbors json'], { allowFailure: true })).stdout.slice(0, 3000));
    console.log((await vrLab.lab.exec(NS.vr, ['grep', '-c', 'reconciled', vrLab.agent!.logPath], { allowFailure: true })).stdout);
  }, 120_000);
});
