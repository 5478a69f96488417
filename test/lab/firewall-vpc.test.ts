import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canRunLab } from './lab-guard.js';
import { addRoute, waitForPing } from './probes.js';
import { describeFlow, listFlowMismatches, listFlowPorts, runFlowMatrix, type FlowCase, type FlowEndpoint, type FlowResult } from './flow-matrix.js';
import {
  addSourceCapture,
  probeEcho,
  probeTcp,
  probeUdp,
  readPathMtu,
  readRuleCounters,
  readSourceCapture,
  removeSourceCapture,
  serveFlows,
  uploadTcp,
} from './flow-probes.js';
import { probeWithoutFirewall, renderGuestEndpoint, renderUpstreamEndpoints, startFirewallLab, waitForFlows, type FirewallLab } from './firewall-lab.js';
import { renderVpcFirewallState, VPC_MATRIX } from './firewall-vpc-policy.js';
import { FAR_HOST, FAR_LINK_MTU, GUEST_BLOCK, IF, INTERNET_HOST, MGMT, NS, OPTIONAL_NS, UPSTREAM_ADDRESS, VR_CONTROL_ADDRESS } from './topology.js';

/**
 * The firewall of a VPC VR, proven with packets on the real kernel: three
 * tiers behind the bundled agent, desired state pushed through the
 * simulator. Every row of VPC_MATRIX is a real TCP handshake, UDP exchange
 * or ICMPv6 echo; then packet-too-big, anti-spoofing, RS/NS and drift repair.
 */

const describeLab = canRunLab(['ip', 'nft', 'radvd', 'ping', 'rdisc6', 'ndisc6', 'nc', 'ss']) ? describe : describe.skip;

const TABLE = 'vr6_agent';
const FAR_PORT = 9000;

describeLab('VPC firewall with packets', () => {
  let fw: FirewallLab;
  let endpoints: Record<string, FlowEndpoint>;
  const web = NS.g1;
  const app = NS.g2;
  const db = OPTIONAL_NS.g3;
  const guests = [web, app, db];
  const address = (ns: string) => fw.guestAddresses.get(ns)!;
  const forwardCounters = () => readRuleCounters(fw.lab, NS.vr, TABLE, 'forward');

  /** Runs the matrix (or some rows of it); fails listing every row that disagrees, except rows marked with a known bug. */
  async function expectMatrixHolds(rows: readonly FlowCase[] = VPC_MATRIX): Promise<FlowResult[]> {
    const results = await runFlowMatrix(fw.lab, endpoints, rows);
    expect(listFlowMismatches(results.filter((result) => result.row.bug === undefined))).toEqual([]);
    return results;
  }

  beforeAll(async () => {
    fw = await startFirewallLab(renderVpcFirewallState(), { tiers: 3, farHost: true });
    endpoints = {
      ...renderUpstreamEndpoints(),
      web: renderGuestEndpoint(fw, web),
      app: renderGuestEndpoint(fw, app),
      db: renderGuestEndpoint(fw, db),
      mgmt: { ns: NS.mgmt, address: MGMT, source: MGMT },
    };
    // A way back from the management network, so that only the VR's forward chain can stop web → mgmt.
    await addRoute(fw.lab, NS.mgmt, GUEST_BLOCK, VR_CONTROL_ADDRESS, IF.mgmt);
    const ports = listFlowPorts(VPC_MATRIX);
    await Promise.all([
      ...[NS.upstream, NS.mgmt, ...guests].map((ns) => serveFlows(fw.lab, ns, ports)),
      serveFlows(fw.lab, OPTIONAL_NS.far, { tcp: [FAR_PORT], udp: [] }),
    ]);
    // Paths the policy allows, so that the matrix starts on a network that routes.
    await Promise.all([
      waitForPing(fw.lab, web, UPSTREAM_ADDRESS, 10_000),
      waitForPing(fw.lab, app, UPSTREAM_ADDRESS, 10_000),
      waitForPing(fw.lab, NS.upstream, address(db), 10_000),
    ]);
  }, 90_000);

  afterAll(async () => {
    await fw?.lab.cleanup();
  });

  describe('allow/deny matrix', () => {
    let results: FlowResult[] = [];

    beforeAll(async () => {
      const startedAt = Date.now();
      results = await runFlowMatrix(fw.lab, endpoints, VPC_MATRIX);
      console.info(`firewall-vpc: ${results.length} flows probed in ${Date.now() - startedAt} ms`);
    }, 60_000);

    for (const [index, row] of VPC_MATRIX.entries()) {
      (row.bug === undefined ? it : it.fails)(describeFlow(row), () => {
        const result = results[index];
        expect(result?.row).toBe(row);
        expect(result?.passed ? 'pass' : 'deny').toBe(row.expected);
      });
    }
  });

  it('lets packet-too-big for an established TCP flow reach the guest, which learns the path MTU', async () => {
    // The far host announces MSS 1440, the upstream can forward only 1280 bytes to it (topology.ts).
    await fw.lab.exec(web, ['ip', '-6', 'route', 'flush', 'cache']);
    expect(await readPathMtu(fw.lab, web, FAR_HOST)).toBeUndefined();
    const bytes = 64 * 1024;
    expect(await uploadTcp(fw.lab, web, FAR_HOST, FAR_PORT, bytes, 10_000)).toBe(bytes);
    expect(await readPathMtu(fw.lab, web, FAR_HOST)).toBe(FAR_LINK_MTU);
  });

  it('lets packet-too-big for an echo flow reach the guest (ping -M do -s 1400)', async () => {
    await fw.lab.exec(app, ['ip', '-6', 'route', 'flush', 'cache']);
    const argv = ['ping', '-6', '-n', '-c', '2', '-i', '0.2', '-W', '1', '-M', 'do', '-s', '1400', FAR_HOST];
    const result = await fw.lab.exec(app, argv, { allowFailure: true, timeoutMs: 5000 });
    expect(result.stdout + result.stderr).toMatch(/Packet too big|mtu=1280/i);
    expect(await readPathMtu(fw.lab, app, FAR_HOST)).toBe(FAR_LINK_MTU);
  });

  it('drops what a guest sends from outside its prefix, before it reaches anyone', async () => {
    const spoofed = ['2001:db8:200:2::99', '2001:db8:dead::99']; // tier-app's prefix, and no tier's
    for (const source of spoofed) await fw.lab.exec(web, ['ip', '-6', 'addr', 'add', `${source}/128`, 'dev', IF.guest, 'nodad']);
    await Promise.all([addSourceCapture(fw.lab, NS.upstream, spoofed), addSourceCapture(fw.lab, app, spoofed)]);
    try {
      const before = (await forwardCounters()).get('anti-spoofing network tier-web') ?? 0;
      const probes = spoofed.flatMap((source) => [
        probeEcho(fw.lab, web, UPSTREAM_ADDRESS, { source, timeoutMs: 1000 }),
        probeTcp(fw.lab, web, UPSTREAM_ADDRESS, 80, { source, timeoutMs: 1000 }),
        probeUdp(fw.lab, web, UPSTREAM_ADDRESS, 53, { source, timeoutMs: 1000 }),
        probeEcho(fw.lab, web, address(app), { source, timeoutMs: 1000 }),
      ]);
      expect(await Promise.all(probes)).toEqual(probes.map(() => false));
      // The same flows from web's own address pass (VPC_MATRIX), so only the source decided.
      const after = (await forwardCounters()).get('anti-spoofing network tier-web') ?? 0;
      expect(after - before).toBeGreaterThanOrEqual(probes.length);
      for (const source of spoofed) {
        expect(await readSourceCapture(fw.lab, NS.upstream, source), `${source} at the upstream`).toBe(0);
        expect(await readSourceCapture(fw.lab, app, source), `${source} at tier-app`).toBe(0);
      }
    } finally {
      for (const source of spoofed) await fw.lab.exec(web, ['ip', '-6', 'addr', 'del', `${source}/128`, 'dev', IF.guest], { allowFailure: true });
      await Promise.all([removeSourceCapture(fw.lab, NS.upstream), removeSourceCapture(fw.lab, app)]);
    }
  });

  it('drops what arrives from upstream claiming a guest prefix as its source', async () => {
    const spoofed = '2001:db8:200:1::bad'; // inside tier-web, sent from the public side
    await fw.lab.exec(NS.upstream, ['ip', '-6', 'addr', 'add', `${spoofed}/128`, 'dev', 'lo']);
    await addSourceCapture(fw.lab, web, [spoofed]);
    try {
      const before = (await forwardCounters()).get('anti-spoofing upstream') ?? 0;
      // Both are allowed to web from any other source (acl-web items 30 and 40).
      const probes = [
        probeEcho(fw.lab, NS.upstream, address(web), { source: spoofed, timeoutMs: 1000 }),
        probeTcp(fw.lab, NS.upstream, address(web), 80, { source: spoofed, timeoutMs: 1000 }),
      ];
      expect(await Promise.all(probes)).toEqual([false, false]);
      expect(((await forwardCounters()).get('anti-spoofing upstream') ?? 0) - before).toBeGreaterThanOrEqual(2);
      expect(await readSourceCapture(fw.lab, web, spoofed)).toBe(0);
    } finally {
      await fw.lab.exec(NS.upstream, ['ip', '-6', 'addr', 'del', `${spoofed}/128`, 'dev', 'lo'], { allowFailure: true });
      await removeSourceCapture(fw.lab, web);
    }
  });

  // A guest that forges a source and sends to one of the VR's own addresses
  // must not make the VR reflect its answer at the forged source: web forges
  // 2001:db8:ffff::1 and pings its gateway; the upstream must see no reply.
  // BCP 38 on the input chain (docs/firewall.md, Input): a packet from a guest
  // interface must come from its network's prefix, from fe80::/10 (ND, MLD) or
  // from :: (DAD).
  it('input anti-spoofing: the VR does not answer a guest that forges its source (no reflection)', async () => {
    const forged = INTERNET_HOST;
    const gateway = '2001:db8:200:1::1';
    await fw.lab.exec(web, ['ip', '-6', 'addr', 'add', `${forged}/128`, 'dev', IF.guest, 'nodad']);
    await addSourceCapture(fw.lab, NS.upstream, [gateway]);
    try {
      await probeEcho(fw.lab, web, gateway, { source: forged, timeoutMs: 1000 });
      expect(await readSourceCapture(fw.lab, NS.upstream, gateway), `replies from ${gateway} at the upstream`).toBe(0);
    } finally {
      await fw.lab.exec(web, ['ip', '-6', 'addr', 'del', `${forged}/128`, 'dev', IF.guest], { allowFailure: true });
      await removeSourceCapture(fw.lab, NS.upstream);
    }
  });

  // From the public side, a packet claiming a guest's address and sent to the
  // VR's public address must not be answered into the tier.
  it('input anti-spoofing: the VR does not answer upstream packets that claim a guest source (no reflection)', async () => {
    const forged = address(app);
    await fw.lab.exec(NS.upstream, ['ip', '-6', 'addr', 'add', `${forged}/128`, 'dev', 'lo']);
    await addSourceCapture(fw.lab, app, [fw.publicAddress]);
    try {
      await probeEcho(fw.lab, NS.upstream, fw.publicAddress, { source: forged, timeoutMs: 1000 });
      expect(await readSourceCapture(fw.lab, app, fw.publicAddress), `replies from ${fw.publicAddress} at tier-app`).toBe(0);
    } finally {
      await fw.lab.exec(NS.upstream, ['ip', '-6', 'addr', 'del', `${forged}/128`, 'dev', 'lo'], { allowFailure: true });
      await removeSourceCapture(fw.lab, app);
    }
  });

  it('answers router and neighbour solicitations from every tier', async () => {
    const gateways = { [web]: '2001:db8:200:1::1', [app]: '2001:db8:200:2::1', [db]: '2001:db8:200:3::1' };
    await Promise.all(
      guests.map(async (ns) => {
        const rdisc = await fw.lab.exec(ns, ['rdisc6', '-1', '-r', '3', '-w', '1000', IF.guest], { timeoutMs: 6000 });
        expect(rdisc.stdout, `${ns} RS`).toMatch(/from fe80::/);
        const ndisc = await fw.lab.exec(ns, ['ndisc6', '-1', '-r', '3', '-w', '1000', gateways[ns]!, IF.guest], { timeoutMs: 6000 });
        expect(ndisc.stdout, `${ns} NS`).toMatch(/Target link-layer address:\s+[0-9A-F:]{17}/i);
      }),
    );
  });

  it('repairs an external `nft flush table` at the next resync, as packets show', async () => {
    await fw.lab.exec(NS.vr, ['nft', 'flush', 'table', 'ip6', TABLE]);
    const startedAt = Date.now();
    await waitForPolicy('the flushed table to be repaired');
    console.info(`firewall-vpc: flushed table repaired after ${Date.now() - startedAt} ms`);
    await expectMatrixHolds();
  });

  it('repairs one chain whose rules were deleted, as packets show', async () => {
    // acl-app's egress chain: while empty it returns every packet, so app reaches upstream tcp/80.
    await fw.lab.exec(NS.vr, ['nft', 'flush', 'chain', 'ip6', TABLE, `egress_${IF.vrTier2}`]);
    const startedAt = Date.now();
    await waitForPolicy('the flushed egress chain to be repaired');
    console.info(`firewall-vpc: flushed chain repaired after ${Date.now() - startedAt} ms`);
    await expectMatrixHolds(VPC_MATRIX.filter((row) => row.from === 'app'));
  });

  it('removes a rule inserted by someone else at the next resync, as packets show', async () => {
    // An `accept` at the top of forward would let every denied flow through.
    await fw.lab.exec(NS.vr, ['nft', 'insert', 'rule', 'ip6', TABLE, 'forward', 'counter', 'accept']);
    const startedAt = Date.now();
    await waitForPolicy('the inserted rule to be removed');
    console.info(`firewall-vpc: inserted rule removed after ${Date.now() - startedAt} ms`);
    const { stdout } = await fw.lab.exec(NS.vr, ['nft', 'list', 'chain', 'ip6', TABLE, 'forward']);
    expect(stdout).not.toMatch(/^\s*counter packets \d+ bytes \d+ accept$/m);
  });

  it('control: with the agent frozen and its table deleted, every row of the matrix passes', async () => {
    // Proves that each "deny" above is the firewall's doing, not a quirk of the lab.
    expect(await probeWithoutFirewall(fw, endpoints, VPC_MATRIX)).toEqual([]);
    await waitForPolicy('the deleted table to be restored');
  });

  /** Waits until an allowed flow passes and two denied ones (one by ingress, one by egress) are denied again. */
  async function waitForPolicy(what: string): Promise<void> {
    const sentinels = VPC_MATRIX.filter(
      (row) =>
        (row.from === 'upstream' && row.to === 'web' && row.port === 80) ||
        (row.from === 'internet' && row.to === 'web' && row.port === 80) ||
        (row.from === 'app' && row.to === 'upstream' && row.port === 80),
    );
    expect(sentinels).toHaveLength(3);
    const first = await waitForFlows(fw, endpoints, sentinels, { what, timeoutMs: 15_000 });
    console.info(`firewall-vpc: first probe round after the damage: ${first.join(', ')}`);
  }
});
