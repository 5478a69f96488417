import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { isPidAlive, waitFor } from './netns.js';
import { addRoute, readAddresses, tcpConnect, tcpListen, waitForPing, waitForSlaacAddress } from './probes.js';
import { GUEST_BLOCK, IF, NS, PUBLIC_PREFIX, TIER1, TIER2, UPSTREAM_ADDRESS } from './topology.js';
import { canRunLab } from './lab-guard.js';
import {
  labDesiredState,
  pushDesired,
  simEventCount,
  startAgent,
  startVrLab,
  stopAgent,
  waitForMessage,
  waitForReconcileAfter,
  type VrLab,
} from './vr-lab.js';

/**
 * The agent end to end on a real kernel: topology in namespaces, the
 * simulator on the control link, the bundled agent on the VR's Node.
 * Each case asserts the state of the world: addresses, rulesets, files,
 * processes and packets.
 */

const describeLab = canRunLab() ? describe : describe.skip;

// The lab's resync runs every 5 s; a deadline of three allows for a loaded 2-core machine.
const NEXT_RESYNC_MS = 15_000;

describeLab('agent in the namespace lab', () => {
  let vrLab: VrLab;
  let publicAddress = '';
  const guestAddress: Record<string, string> = {};
  const vr = (argv: string[]) => vrLab.lab.exec(NS.vr, argv);
  const radvdPid = () => Number(readFileSync(join(vrLab.agentDir, 'run/radvd.pid'), 'utf8').trim());

  /** What a reconcile could change, as text; counters are masked since traffic moves them. */
  async function snapshotVr() {
    const ruleset = (await vr(['nft', '-a', 'list', 'table', 'ip6', 'vr6_agent'])).stdout.replace(/packets \d+ bytes \d+/g, 'packets - bytes -');
    const addresses = (await vr(['ip', '-6', '-o', 'addr', 'show', 'scope', 'global'])).stdout.replace(/valid_lft \S+ preferred_lft \S+/g, '');
    const files = ['run/radvd.conf', 'state/interfaces.d-vr6-agent', 'state/desired.json'].map((f) => {
      const path = join(vrLab.agentDir, f);
      return existsSync(path) ? `${f} ${statSync(path).mtimeMs} ${readFileSync(path, 'utf8')}` : `${f} missing`;
    });
    const forwarding = (await vr(['sysctl', '-n', 'net.ipv6.conf.all.forwarding'])).stdout.trim();
    return { ruleset, addresses, files, forwarding, radvdPid: radvdPid() };
  }

  beforeAll(async () => {
    vrLab = await startVrLab(labDesiredState());
    await startAgent(vrLab);
    await waitForMessage(vrLab, 'hello', () => true, 10_000);
    await pushDesired(vrLab, labDesiredState());
  }, 60_000);

  afterAll(async () => {
    await vrLab?.lab.cleanup();
  });

  // A failed case shows what the agent was doing; the lab's files go with its cleanup.
  afterEach((context) => {
    const log = vrLab?.agent?.logPath;
    if (context.task.result?.state !== 'fail' || log === undefined || !existsSync(log)) return;
    console.log(`--- last lines of ${log} ---\n${readFileSync(log, 'utf8').split('\n').slice(-60).join('\n')}`);
  });

  it('accepts the desired state and reports its SLAAC public address with the routes upstream needs', async () => {
    expect(await waitForMessage(vrLab, 'ack', () => true, 10_000)).toMatchObject({ generation: 1, status: 'accepted' });
    const observed = await waitForMessage(vrLab, 'observed', (m) => m.publicAddress?.source === 'slaac', 15_000);
    publicAddress = observed.publicAddress!.address;
    expect(publicAddress.startsWith(PUBLIC_PREFIX.replace('::/64', ':'))).toBe(true);
    expect(observed.publicAddress).toMatchObject({ interface: IF.vrPublic, matchesEui64: true, flags: ['dynamic'] });
    expect(observed.upstreamRoutes).toEqual([
      { prefix: TIER1, via: publicAddress },
      { prefix: TIER2, via: publicAddress },
    ]);
    expect(observed.defaultRouter).toMatch(/^fe80::/);
  });

  it('routes between the upstream and SLAAC guests in both directions', async () => {
    await addRoute(vrLab.lab, NS.upstream, GUEST_BLOCK, publicAddress, IF.upstream);
    for (const [ns, tier] of [[NS.g1, TIER1], [NS.g2, TIER2]] as const) {
      guestAddress[ns] = (await waitForSlaacAddress(vrLab.lab, ns, IF.guest, tier, 20_000)).address;
      await waitForPing(vrLab.lab, NS.upstream, guestAddress[ns]!, 10_000);
      await waitForPing(vrLab.lab, ns, UPSTREAM_ADDRESS, 10_000);
    }
  });

  it('advertises each tier on the wire with the settings of the desired state', async () => {
    const { stdout } = await vrLab.lab.exec(NS.g1, ['rdisc6', '-1', '-r', '3', '-w', '1000', IF.guest]);
    expect(stdout).toMatch(/Prefix\s+:\s+2001:db8:200:1::\/64/);
    expect(stdout).toMatch(/Router lifetime\s+:\s+30 \(0x/);
    expect(stdout).toMatch(/Recursive DNS server\s+:\s+2001:db8:100::53/);
    expect(stdout).toMatch(/Stateful address conf\.\s+:\s+No/);
    expect(stdout).toMatch(/Route\s+:\s+2001:db8:ffff::\/48/);
    expect(stdout).toMatch(/from fe80::/);
  });

  it('lets TCP through only where an ingress rule allows it', async () => {
    await tcpListen(vrLab.lab, NS.g1, 8080);
    await tcpListen(vrLab.lab, NS.g1, 9090);
    expect(await tcpConnect(vrLab.lab, NS.g1, '::1', 9090, 2000)).toBe(true);
    expect(await tcpConnect(vrLab.lab, NS.upstream, guestAddress[NS.g1]!, 8080, 3000)).toBe(true);
    expect(await tcpConnect(vrLab.lab, NS.upstream, guestAddress[NS.g1]!, 9090, 2000)).toBe(false);
  });

  it('changes nothing when the same state comes again as a new generation', async () => {
    const before = await snapshotVr();
    const from = simEventCount(vrLab);
    const { generation } = await pushDesired(vrLab, labDesiredState());
    const applied = await waitForMessage(vrLab, 'applied', (m) => m.generation === generation, 10_000, from);
    expect(applied.ok).toBe(true);
    expect(Object.values(applied.components).every((c) => c.status === 'ok' && c.steps === 0)).toBe(true);
    const after = await snapshotVr();
    // desired.json is rewritten for the new generation; nothing on the host is.
    expect({ ...after, files: after.files.slice(0, 2) }).toEqual({ ...before, files: before.files.slice(0, 2) });
  });

  it('rejects a bad desired state with the field path and leaves the host as it was', async () => {
    const before = await snapshotVr();
    const bad = labDesiredState();
    bad.guestNetworks[1].prefix = '2001:db8:200:2::/56';
    bad.guestNetworks[0].gateway = '192.0.2.1';
    const from = simEventCount(vrLab);
    const { generation } = await pushDesired(vrLab, bad);
    const ack = await waitForMessage(vrLab, 'ack', (m) => m.generation === generation, 10_000, from);
    expect(ack.status).toBe('rejected');
    expect(ack.errors.map((e) => e.path)).toEqual(expect.arrayContaining(['$.spec.guestNetworks[0].gateway', '$.spec.guestNetworks[1].prefix']));
    // A half-apply would show at once or, if the rejected state had slipped in, at the next run:
    // wait for a whole reconcile begun after the rejection.
    await waitForReconcileAfter(vrLab, Date.now(), NEXT_RESYNC_MS);
    expect(await snapshotVr()).toEqual(before);
  });

  it('renumbers a tier: the old prefix is deprecated on the wire at once, radvd is reloaded, never restarted', async () => {
    const pid = radvdPid();
    const oldAddress = guestAddress[NS.g2]!;
    const renumbered = labDesiredState();
    renumbered.guestNetworks[1].prefix = '2001:db8:200:3::/64';
    const from = simEventCount(vrLab);
    const { generation } = await pushDesired(vrLab, renumbered);
    expect(await waitForMessage(vrLab, 'applied', (m) => m.generation === generation, 10_000, from)).toMatchObject({ ok: true });
    const addresses = (await readAddresses(vrLab.lab, NS.vr, IF.vrTier2)).map((a) => a.address);
    expect(addresses).toContain('2001:db8:200:3::1');
    // RFC 9096: the old gateway stays for the deprecation window, so the guests' old flows still route.
    expect(addresses).toContain('2001:db8:200:2::1');
    expect(radvdPid()).toBe(pid);
    await waitForSlaacAddress(vrLab.lab, NS.g2, IF.guest, '2001:db8:200:3::/64', 15_000);
    const old = await waitFor(
      async () => (await readAddresses(vrLab.lab, NS.g2, IF.guest)).find((a) => a.address === oldAddress && a.isDeprecated),
      { timeoutMs: 5000, what: `the guest's old address ${oldAddress} to be deprecated` },
    );
    expect(old.preferredLifetimeSeconds).toBe(0);
    expect(old.validLifetimeSeconds).toBeLessThanOrEqual(7200);
    const back = simEventCount(vrLab);
    const restored = await pushDesired(vrLab, labDesiredState());
    await waitForMessage(vrLab, 'applied', (m) => m.generation === restored.generation, 10_000, back);
  });

  it('learns a chain a push rewrote from that chain alone, and a later listing of the whole table agrees', async () => {
    const handles = async () => (await vr(['nft', '-a', 'list', 'table', 'ip6', 'vr6_agent'])).stdout.replace(/packets \d+ bytes \d+/g, 'packets - bytes -');
    // tier-db's list: the repair case below counts on tier-web's chains having been listed long ago.
    const changed = labDesiredState();
    changed.aclLists[1].items.push({ number: 20, action: 'allow', direction: 'ingress', protocol: 'tcp', ports: { start: 8081, end: 8081 } });
    const from = simEventCount(vrLab);
    const { generation } = await pushDesired(vrLab, changed);
    expect(await waitForMessage(vrLab, 'applied', (m) => m.generation === generation, 10_000, from)).toMatchObject({ ok: true });
    // The next run (a resync) lists the rewritten chain alone to learn how nft prints it.
    await waitForReconcileAfter(vrLab, Date.now(), NEXT_RESYNC_MS);
    const learned = await handles();
    expect(learned).toContain('tcp dport 8081');
    // A commit elsewhere moves the generation id: the next resync lists the whole table and compares
    // every chain with what it learned. A chain learned wrong would be rewritten: new rule handles.
    await vr(['nft', 'add table ip6 vr6probe; delete table ip6 vr6probe']);
    await waitForReconcileAfter(vrLab, Date.now(), NEXT_RESYNC_MS);
    expect(await handles()).toBe(learned);
    const back = simEventCount(vrLab);
    const restored = await pushDesired(vrLab, labDesiredState());
    await waitForMessage(vrLab, 'applied', (m) => m.generation === restored.generation, 10_000, back);
  });

  // The resync runs every 5 s; the deadlines below allow several, since a 2-core machine at load 10
  // (CI next to other labs) stretched a resync's listing and repair past 12 s.
  it('repairs a removed gateway address and a flushed table without being asked, and says so', async () => {
    const from = simEventCount(vrLab);
    await vr(['ip', '-6', 'addr', 'del', '2001:db8:200:1::1/64', 'dev', IF.vrTier1]);
    await vr(['nft', 'flush', 'table', 'ip6', 'vr6_agent']);
    await waitFor(
      async () => (await readAddresses(vrLab.lab, NS.vr, IF.vrTier1)).some((a) => a.address === '2001:db8:200:1::1'),
      { timeoutMs: 5000, what: 'the gateway address to come back' },
    );
    await waitFor(async () => (await vr(['nft', 'list', 'chain', 'ip6', 'vr6_agent', 'forward'])).stdout.includes('jump'), {
      timeoutMs: 30_000,
      what: 'the forward chain to be restored by a resync',
    });
    const applied = await waitForMessage(vrLab, 'applied', (m) => m.repaired.length > 0, 30_000, from);
    // tier-web's chains were listed long ago, so their emptying is drift the agent can name; chains
    // the last push rewrote may not be listed yet, and those it rewrites without a claim.
    expect(applied.repaired).toContain('chain ingress_eth2 was changed');
  });

  it('restarts a radvd that died, says so, and the guests keep their default route', async () => {
    // The router, not the countdown each RA restarts.
    const defaultRouter = async () => (await vrLab.lab.exec(NS.g1, ['ip', '-6', 'route', 'show', 'default'])).stdout.trim().replace(/ expires \d+sec/, '');
    const before = await defaultRouter();
    expect(before).toMatch(/^default via fe80::/);
    const pid = radvdPid();
    const from = simEventCount(vrLab);
    // SIGKILL: a crash sends no goodbye RA, unlike SIGTERM (docs/field-notes.md#radvd).
    process.kill(pid, 'SIGKILL');
    const applied = await waitForMessage(vrLab, 'applied', (m) => m.repaired.includes('radvd was not running'), 30_000, from);
    expect(applied.ok).toBe(true);
    expect(radvdPid()).not.toBe(pid);
    expect(isPidAlive(radvdPid())).toBe(true);
    expect(await defaultRouter()).toBe(before);
    await waitForPing(vrLab.lab, NS.upstream, guestAddress[NS.g1]!, 5000);
  });

  it("warns about another table's base chain that could drop what it accepts, and leaves that table alone", async () => {
    const from = simEventCount(vrLab);
    await vr(['nft', 'add table inet vr6test; add chain inet vr6test fw { type filter hook forward priority 0; policy accept; }; add rule inet vr6test fw tcp dport 9 drop']);
    const observed = await waitForMessage(vrLab, 'observed', (m) => m.warnings.some((w) => w.includes('inet vr6test')), 30_000, from);
    expect(observed.warnings).toContain(
      'table inet vr6test has base chain fw on hook forward that belongs to a table with drop or reject rules: a drop there overrides what vr6_agent accepts',
    );
    expect((await vr(['nft', 'list', 'table', 'inet', 'vr6test'])).stdout).toContain('tcp dport 9 drop');
    await vr(['nft', 'delete', 'table', 'inet', 'vr6test']);
  });

  it('restores its persisted state after a restart, before management answers', async () => {
    await stopAgent(vrLab);
    await vrLab.lab.stop(vrLab.sim);
    await vr(['nft', 'delete', 'table', 'ip6', 'vr6_agent']);
    await vr(['ip', '-6', 'addr', 'flush', 'dev', IF.vrTier1, 'scope', 'global']);
    await vr(['sysctl', '-qw', 'net.ipv6.conf.all.forwarding=0']);
    await startAgent(vrLab);
    await waitFor(
      async () => {
        const table = await vrLab.lab.exec(NS.vr, ['nft', 'list', 'table', 'ip6', 'vr6_agent'], { allowFailure: true });
        const forwarding = (await vr(['sysctl', '-n', 'net.ipv6.conf.all.forwarding'])).stdout.trim();
        const addresses = (await readAddresses(vrLab.lab, NS.vr, IF.vrTier1)).map((a) => a.address);
        return table.exitCode === 0 && forwarding === '1' && addresses.includes('2001:db8:200:1::1');
      },
      { timeoutMs: 10_000, what: 'the persisted state to be applied with management down' },
    );
    await waitForPing(vrLab.lab, NS.upstream, guestAddress[NS.g1]!, 10_000);
  });
});
