import { chmodSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { CloudStackReport } from '../../src/daemon/cloudstack-report.js';
import { renderDatabag } from '../support/cloudstack-fixtures.js';
import { canRunLab } from './lab-guard.js';
import { waitFor, type LabProcess } from './netns.js';
import { addRoute, readAddresses, tcpConnect, tcpListen, waitForPing, waitForSlaacAddress } from './probes.js';
import { createTopology, GUEST_BLOCK, IF, NS, TIER1, TIER2, UPSTREAM_ADDRESS, type Topology } from './topology.js';
import { agentNode, bundlePath, labAgentConfig } from './vr-lab.js';

const withoutManagement = <T extends { management: unknown }>({ management: _, ...rest }: T) => rest;

/**
 * The agent with `source: cloudstack` on a real kernel: the lab's VPC
 * topology, no management server, and CloudStack's merged databags in a
 * directory the agent watches. The test changes them as merge.py does (in
 * place, in pieces) and as vr_cfg.sh does (through the update_config.py
 * wrapper), and checks the host with packets, addresses and RAs.
 */

const describeLab = canRunLab() ? describe : describe.skip;
const ROOT = resolve(process.cwd());
const PUBLIC_ADDRESS = '2001:db8:100::20';

function tier(device: string, networkId: number, prefix: string) {
  const base = prefix.replace('::/64', '::');
  return {
    add: true,
    device,
    network_id: networkId,
    mac_address: `02:00:17:00:0${networkId % 10}:01`,
    router_guest_ip: `10.17.${networkId % 10}.1`,
    router_guest_netmask: '255.255.255.0',
    router_guest_gateway: `10.17.${networkId % 10}.1`,
    cidr: '24',
    cidr6: '64',
    router_guest_ip6: `${base}1`,
    router_guest_ip6_gateway: `${base}1`,
    router_guest_ip6_cidr: prefix,
    router_ip6: PUBLIC_ADDRESS,
    router_ip6_gateway: UPSTREAM_ADDRESS,
    router_ip6_cidr: '2001:db8:100::/64',
    dns: '192.0.2.53',
    dns6: '2001:db8:100::53',
    domain_name: 'lab.cloud.internal',
    is_vr_guest_gateway: true,
    mtu: 1500,
    type: 'guestnetwork',
    delete_from_processed_cache: false,
  };
}

function labDatabags(): Record<string, any> {
  return {
    cmdline: { id: 'cmdline', config: { type: 'vpcrouter', name: 'r-lab-VM', redundant_router: 'false', vpccidr: '10.17.0.0/16' } },
    ips: { id: 'ips', [IF.vrPublic]: [{ add: true, device: IF.vrPublic, nw_type: 'public', source_nat: true, public_ip: '198.51.100.17' }] },
    guestnetwork: { id: 'guestnetwork', [IF.vrTier1]: [tier(IF.vrTier1, 401, TIER1)], [IF.vrTier2]: [tier(IF.vrTier2, 402, TIER2)] },
    networkacl: {
      id: 'networkacl',
      [IF.vrTier1]: {
        device: IF.vrTier1,
        private_gateway_acl: false,
        nic_ip6_cidr: TIER1,
        ingress_rules: [
          { type: 'tcp', first_port: 8080, last_port: 8080, cidr: '0.0.0.0/0,::/0', allowed: true },
          // An ICMPv4 number on a mixed list: echo request, 128 in ICMPv6.
          { type: 'icmp', icmp_type: 8, icmp_code: -1, cidr: '0.0.0.0/0,::/0', allowed: true },
          { type: 'tcp', first_port: 9090, last_port: 9090, cidr: '10.17.0.0/16', allowed: true },
        ],
        egress_rules: [],
      },
      [IF.vrTier2]: { device: IF.vrTier2, private_gateway_acl: false, ingress_rules: [{ type: 'icmp', icmp_type: 128, icmp_code: 0, cidr: '::/0', allowed: true }], egress_rules: [] },
    },
    bgppeers: { id: 'bgppeers', peers: [] },
  };
}

describeLab('the cloudstack source in the namespace lab', () => {
  let topology: Topology;
  let agent: LabProcess | null = null;
  let dir = '';
  let agentDir = '';
  let bags: Record<string, any> = {};
  const guestAddress: Record<string, string> = {};
  const report = (): CloudStackReport | null => (existsSync(join(agentDir, 'run/cloudstack-report.json')) ? JSON.parse(readFileSync(join(agentDir, 'run/cloudstack-report.json'), 'utf8')) : null);
  const vr = (argv: string[]) => topology.lab.exec(NS.vr, argv);

  /** Rewrites a databag in place as merge.py does (open for writing, then the JSON in pieces), pausing mid-write. */
  async function mergeInPlace(name: string, value: unknown): Promise<void> {
    const text = renderDatabag(value);
    const fd = openSync(join(dir, `${name}.json`), 'w');
    try {
      writeSync(fd, text.slice(0, Math.floor(text.length / 2)));
      await new Promise((done) => setTimeout(done, 150));
      writeSync(fd, text.slice(Math.floor(text.length / 2)));
    } finally {
      closeSync(fd);
    }
  }

  async function waitForApplied(what: string, from: string | null = null): Promise<CloudStackReport> {
    return waitFor(
      async () => {
        const current = report();
        const digest = current?.lastRead?.specDigest;
        const isDone = current?.accepted?.specDigest === digest && digest !== from && current?.applied?.generation === current?.accepted?.generation;
        return isDone && current?.applied?.ok ? current : undefined;
      },
      { timeoutMs: 20_000, what },
    );
  }

  /** Runs the update_config.py wrapper with `distrib` standing in for CloudStack's script. */
  async function runWrapper(distrib: string) {
    const stand = join(topology.lab.tempDir, `distrib-${Date.now()}.sh`);
    writeFileSync(stand, `#!/bin/sh\n${distrib}\n`, { mode: 0o755 });
    const vr6ctl = join(topology.lab.tempDir, 'vr6ctl');
    writeFileSync(vr6ctl, `#!/bin/sh\nexec ${agentNode()} ${join(ROOT, 'dist', 'vr6ctl.js')} --report ${join(agentDir, 'run/cloudstack-report.json')} "$@"\n`, { mode: 0o755 });
    const env = [`VR6_UPDATE_CONFIG_DISTRIB=${stand}`, `VR6CTL=${vr6ctl}`, `VR6_CLOUDSTACK_DIR=${dir}`, 'VR6_CLOUDSTACK_TIMEOUT=20'];
    return topology.lab.exec(NS.vr, ['env', ...env, join(ROOT, 'debian/cloudstack/update_config'), 'network_acl.json.1234'], { allowFailure: true, timeoutMs: 30_000 });
  }

  beforeAll(async () => {
    topology = await createTopology();
    const { lab } = topology;
    dir = join(lab.tempDir, 'etc-cloudstack');
    agentDir = join(lab.tempDir, 'agent');
    chmodSync(lab.tempDir, 0o711);
    mkdirSync(agentDir, { mode: 0o711 });
    mkdirSync(dir);
    bags = labDatabags();
    for (const [name, bag] of Object.entries(bags)) writeFileSync(join(dir, `${name}.json`), renderDatabag(bag));
    const configPath = join(lab.tempDir, 'agent.json');
    writeFileSync(
      configPath,
      JSON.stringify({
        // The lab's own config, with the databags in place of the management server.
        ...withoutManagement(labAgentConfig(agentDir)),
        source: 'cloudstack',
        cloudstack: { databagDir: dir, reportFile: join(agentDir, 'run/cloudstack-report.json'), pollSeconds: 1 },
        bootParameters: { isEnabled: false },
      }),
    );
    lab.trackPidFile(NS.vr, join(agentDir, 'run/radvd.pid'));
    agent = await lab.spawn(NS.vr, [agentNode(), bundlePath('vr6-agent'), '--config', configPath], { logPath: join(lab.tempDir, 'agent.log') });
  }, 60_000);

  afterAll(async () => {
    await topology?.lab.cleanup();
  });

  afterEach((context) => {
    const log = join(topology?.lab.tempDir ?? '', 'agent.log');
    if (context.task.result?.state !== 'fail' || !existsSync(log)) return;
    console.log(`--- last lines of ${log} ---\n${readFileSync(log, 'utf8').split('\n').slice(-60).join('\n')}`);
  });

  it('applies the state the databags give, with no management server, and says so in its report file', async () => {
    const applied = await waitForApplied('the databags to be applied');
    expect(applied.lastRead!.errors).toEqual([]);
    expect((await readAddresses(topology.lab, NS.vr, IF.vrPublic)).map((a) => a.address)).toContain(PUBLIC_ADDRESS);
    expect((await readAddresses(topology.lab, NS.vr, IF.vrTier1)).map((a) => a.address)).toContain('2001:db8:200:1::1');
    const observed = await waitFor(async () => report()?.observed?.publicAddress ?? undefined, { timeoutMs: 10_000, what: 'the public address in the report' });
    expect(observed).toMatchObject({ address: PUBLIC_ADDRESS, source: 'static', interface: IF.vrPublic });
  });

  it('advertises each tier with the DNS of dns6 and the domain, and routes to SLAAC guests', async () => {
    const { stdout } = await topology.lab.exec(NS.g1, ['rdisc6', '-1', '-r', '3', '-w', '1000', IF.guest]);
    expect(stdout).toMatch(/Prefix\s+:\s+2001:db8:200:1::\/64/);
    expect(stdout).toMatch(/Recursive DNS server\s+:\s+2001:db8:100::53/);
    expect(stdout).toMatch(/DNS search list\s+:\s+lab\.cloud\.internal/);
    await addRoute(topology.lab, NS.upstream, GUEST_BLOCK, PUBLIC_ADDRESS, IF.upstream);
    for (const [ns, prefix] of [[NS.g1, TIER1], [NS.g2, TIER2]] as const) {
      guestAddress[ns] = (await waitForSlaacAddress(topology.lab, ns, IF.guest, prefix, 20_000)).address;
      // Echo request passes tier 1 by the mixed-list rule with ICMPv4 type 8, tier 2 by ICMPv6 type 128.
      await waitForPing(topology.lab, NS.upstream, guestAddress[ns]!, 10_000);
    }
    await waitForPing(topology.lab, NS.g1, UPSTREAM_ADDRESS, 10_000);
  });

  it('lets TCP through where the ACL allows it for IPv6, and not where a rule names only IPv4', async () => {
    await tcpListen(topology.lab, NS.g1, 8080);
    await tcpListen(topology.lab, NS.g1, 9090);
    expect(await tcpConnect(topology.lab, NS.upstream, guestAddress[NS.g1]!, 8080, 3000)).toBe(true);
    expect(await tcpConnect(topology.lab, NS.upstream, guestAddress[NS.g1]!, 9090, 2000)).toBe(false);
  });

  it('follows a databag that merge.py rewrites in place, never taking the half-written one', async () => {
    const refusals = () => (readFileSync(join(topology.lab.tempDir, 'agent.log'), 'utf8').match(/cloudstack databags refused/g) ?? []).length;
    const refusedBefore = refusals();
    const before = report()!.lastRead!.specDigest;
    bags.networkacl[IF.vrTier1].ingress_rules.splice(0, 1);
    await mergeInPlace('networkacl', bags.networkacl);
    await waitForApplied('the rewritten ACL to be applied', before);
    // A half-written networkacl.json taken as the databag would have been refused (it is not JSON) and logged.
    expect(refusals()).toBe(refusedBefore);
    expect(await tcpConnect(topology.lab, NS.upstream, guestAddress[NS.g1]!, 8080, 2000)).toBe(false);
    await waitForPing(topology.lab, NS.upstream, guestAddress[NS.g1]!, 5000);
  });

  it("passes update_config.py's own failure on, and exits 0 once the agent applied the new databags", async () => {
    expect((await runWrapper('exit 3')).exitCode).toBe(3);
    bags.networkacl[IF.vrTier1].ingress_rules.push({ type: 'tcp', first_port: 9090, last_port: 9090, cidr: '::/0', allowed: true });
    const next = join(topology.lab.tempDir, 'networkacl.next.json');
    writeFileSync(next, renderDatabag(bags.networkacl));
    const ok = await runWrapper(`cp ${next} ${join(dir, 'networkacl.json')}`);
    expect(ok.stderr).toBe('');
    expect(ok.exitCode).toBe(0);
    // The wrapper returned only once the agent had applied it: no wait needed.
    expect(await tcpConnect(topology.lab, NS.upstream, guestAddress[NS.g1]!, 9090, 3000)).toBe(true);
  });

  it('fails the VR configuration when the agent refuses the IPv6 state, naming the databag field, and keeps the host as it was', async () => {
    const good = structuredClone(bags.guestnetwork);
    bags.guestnetwork[IF.vrTier2][0].router_guest_ip6_cidr = '2001:db8:200:2::/56';
    const next = join(topology.lab.tempDir, 'guestnetwork.bad.json');
    writeFileSync(next, renderDatabag(bags.guestnetwork));
    try {
      const refused = await runWrapper(`cp ${next} ${join(dir, 'guestnetwork.json')}`);
      expect(refused.exitCode).toBe(1);
      expect(refused.stderr).toContain('guestnetwork.json: $.eth3[0].router_guest_ip6_cidr: must be a /64');
      expect(refused.stderr).toContain('vr6-agent: IPv6 configuration failed');
      // The check refuses on its own reading; the agent's source reports the same once its reads agree.
      const errors = await waitFor(async () => (report()?.lastRead?.errors.length ? report()!.lastRead!.errors : undefined), {
        timeoutMs: 10_000,
        what: 'the agent to report the refusal',
      });
      expect(errors[0]!.path).toBe('guestnetwork.json: $.eth3[0].router_guest_ip6_cidr');
      expect(report()!.accepted!.specDigest).not.toBeNull();
      await waitForPing(topology.lab, NS.upstream, guestAddress[NS.g2]!, 5000);
    } finally {
      bags.guestnetwork = good;
      await mergeInPlace('guestnetwork', bags.guestnetwork);
    }
    await waitFor(async () => (report()?.lastRead?.specDigest === report()?.accepted?.specDigest ? true : undefined), {
      timeoutMs: 10_000,
      what: 'the good databags to be read again',
    });
  });

  it('deprecates a removed tier on the wire (add: false), and adds a tier back', async () => {
    const before = report()!.lastRead!.specDigest;
    bags.guestnetwork[IF.vrTier2][0].add = false;
    await mergeInPlace('guestnetwork', bags.guestnetwork);
    await waitForApplied('the removal to be applied', before);
    const old = guestAddress[NS.g2]!;
    // RFC 9096: the prefix is advertised with lifetime 0, so the guest deprecates its address at once.
    await waitFor(async () => (await readAddresses(topology.lab, NS.g2, IF.guest)).find((a) => a.address === old && a.isDeprecated), {
      timeoutMs: 15_000,
      what: `the removed tier's address ${old} to be deprecated`,
    });
    const restored = report()!.lastRead!.specDigest;
    bags.guestnetwork[IF.vrTier2][0].add = true;
    await mergeInPlace('guestnetwork', bags.guestnetwork);
    await waitForApplied('the tier to be back', restored);
    await waitForSlaacAddress(topology.lab, NS.g2, IF.guest, TIER2, 20_000);
    expect(agent?.hasExited()).toBe(false);
  });

  it('leaves its own table as the only IPv6 filter once the wrapper dropped the ones CloudStack builds', async () => {
    await vr(['nft', 'add table ip6 ip6_firewall; add chain ip6 ip6_firewall fw_forward { type filter hook forward priority 0; policy drop; }']);
    const result = await runWrapper('true');
    expect(result.exitCode).toBe(0);
    const tables = (await vr(['nft', 'list', 'tables'])).stdout;
    expect(tables).not.toContain('ip6_firewall');
    expect(tables).toContain('table ip6 vr6_agent');
    await waitForPing(topology.lab, NS.upstream, guestAddress[NS.g1]!, 5000);
  });
});
