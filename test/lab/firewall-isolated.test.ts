import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canRunLab } from './lab-guard.js';
import { waitForPing } from './probes.js';
import { describeFlow, listFlowPorts, runFlowMatrix, type FlowCase, type FlowEndpoint, type FlowResult } from './flow-matrix.js';
import { serveFlows } from './flow-probes.js';
import { probeWithoutFirewall, renderGuestEndpoint, renderUpstreamEndpoints, startFirewallLab, waitForFlows, type FirewallLab } from './firewall-lab.js';
import { ISOLATED_ALLOW_MATRIX, ISOLATED_DENY_MATRIX, renderIsolatedFirewallState } from './firewall-isolated-policy.js';
import { IF, NS } from './topology.js';
import { pushAndApply } from './vr-lab.js';

/**
 * The firewall of an isolated-network VR, proven with packets: one guest
 * network behind the bundled agent, its matrix checked under default egress
 * 'allow', then again after a second desired state flips it to 'deny'.
 */

const describeLab = canRunLab(['ip', 'nft', 'radvd', 'ping', 'rdisc6', 'ndisc6', 'nc', 'ss']) ? describe : describe.skip;

describeLab('isolated-network firewall with packets', () => {
  let fw: FirewallLab;
  let endpoints: Record<string, FlowEndpoint>;
  const guest = NS.g1;

  beforeAll(async () => {
    fw = await startFirewallLab(renderIsolatedFirewallState('allow'), { tiers: 1 });
    endpoints = { ...renderUpstreamEndpoints(), guest: renderGuestEndpoint(fw, guest) };
    const ports = listFlowPorts([...ISOLATED_ALLOW_MATRIX, ...ISOLATED_DENY_MATRIX]);
    await Promise.all([serveFlows(fw.lab, NS.upstream, ports), serveFlows(fw.lab, guest, ports)]);
    await waitForPing(fw.lab, NS.upstream, fw.guestAddresses.get(guest)!, 10_000);
  }, 90_000);

  afterAll(async () => {
    await fw?.lab.cleanup();
  });

  /** One test per row, all rows probed side by side once `prepare` has run. */
  function describeMatrix(title: string, rows: readonly FlowCase[], prepare: () => Promise<unknown>): void {
    describe(title, () => {
      let results: FlowResult[] = [];
      beforeAll(async () => {
        await prepare();
        const startedAt = Date.now();
        results = await runFlowMatrix(fw.lab, endpoints, rows);
        console.info(`firewall-isolated: ${title}: ${results.length} flows probed in ${Date.now() - startedAt} ms`);
      }, 60_000);
      for (const [index, row] of rows.entries()) {
        (row.bug === undefined ? it : it.fails)(describeFlow(row), () => {
          expect(results[index]?.row).toBe(row);
          expect(results[index]?.passed ? 'pass' : 'deny').toBe(row.expected);
        });
      }
    });
  }

  describeMatrix('default egress allow: egress rules deny', ISOLATED_ALLOW_MATRIX, async () => undefined);

  describeMatrix('default egress deny: egress rules allow (second desired state)', ISOLATED_DENY_MATRIX, async () => {
    await pushAndApply(fw.vrLab, renderIsolatedFirewallState('deny'));
    // `applied` follows the load; one flow that only the new policy allows confirms it on the wire.
    const flipped = ISOLATED_DENY_MATRIX.filter((row) => row.from === 'guest' && row.expected === 'pass');
    await waitForFlows(fw, endpoints, flipped, { what: 'the flipped egress policy on the wire', timeoutMs: 5000 });
  });

  it('answers router and neighbour solicitations from the guest', async () => {
    const rdisc = await fw.lab.exec(guest, ['rdisc6', '-1', '-r', '3', '-w', '1000', IF.guest], { timeoutMs: 6000 });
    expect(rdisc.stdout).toMatch(/from fe80::/);
    const ndisc = await fw.lab.exec(guest, ['ndisc6', '-1', '-r', '3', '-w', '1000', '2001:db8:200:1::1', IF.guest], { timeoutMs: 6000 });
    expect(ndisc.stdout).toMatch(/Target link-layer address:\s+[0-9A-F:]{17}/i);
  });

  it('control: with the agent frozen and its table deleted, every row of both matrices passes', async () => {
    const rows = [...ISOLATED_ALLOW_MATRIX, ...ISOLATED_DENY_MATRIX.filter((row) => row.from === 'guest')];
    expect(await probeWithoutFirewall(fw, endpoints, rows)).toEqual([]);
    const tcpRows = ISOLATED_DENY_MATRIX.filter((row) => row.protocol === 'tcp');
    await waitForFlows(fw, endpoints, tcpRows, { what: 'the deleted table to be restored', timeoutMs: 15_000 });
  });
});
