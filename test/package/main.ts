import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { CheckRun } from '../lab/check-run.js';
import { Lab, runCommand, waitFor } from '../lab/netns.js';
import { waitForSlaacAddress } from '../lab/probes.js';
import { startFrrPeer } from '../lab/frr-peer.js';
import { GUEST_BLOCK, IF, MGMT, NS, PUBLIC_PREFIX, TIER1, UPSTREAM_ADDRESS, VR_CONTROL_ADDRESS, renderUpstreamRadvdConf, waitForDadEverywhere } from '../lab/topology.js';
import { labDesiredState, pushAndApply, pushDesired, simEventCount, waitForMessage, waitForSimEvent, type SimulatorRun } from '../lab/vr-lab.js';
import { checkCloudStackHooks } from './cloudstack-hooks.js';
import { Container } from './container.js';
import { DEFAULT_CACHE_DIR, ensureRootfs } from './rootfs.js';

/**
 * `make test-package`: the .deb, installed into a Debian 12 container booted
 * with systemd, against the management simulator outside it. One PASS or
 * FAIL line per check, then the timings; exits non-zero when any check
 * fails. Stops the container and removes every namespace and file it made,
 * by PID, also on failure and on SIGINT/SIGTERM.
 *
 *   node dist/test-package.js DEB    (VR6_TEST_ROOTFS_CACHE overrides /var/cache/vr6-agent-test)
 */

const UNIT = 'vr6-agent.service';
const SIM_PORT = 8765;
const TOKEN = 'vr6-test-token-Zq8xN2';
const ROUTER_ID = 'r-lab-VM';

const checks = new CheckRun();
const check = checks.check.bind(checks);
const timings: [string, number][] = [];

async function timed<T>(name: string, body: () => Promise<T>): Promise<T> {
  const started = Date.now();
  try {
    return await body();
  } finally {
    timings.push([name, Date.now() - started]);
  }
}

interface Run {
  container: Container | null;
  lab: Lab | null;
  workDir: string;
}

async function main(): Promise<void> {
  const debPath = resolve(process.argv[2] ?? '');
  if (!existsSync(debPath) || !debPath.endsWith('.deb')) throw new Error('usage: test-package DEB');
  if (process.getuid?.() !== 0) throw new Error('test-package needs root (debootstrap, systemd-nspawn, namespaces)');
  const startedAt = Date.now();
  const run: Run = { container: null, lab: null, workDir: mkdtempSync('/var/tmp/vr6-test-package-') };
  const onSignal = (signal: NodeJS.Signals) => {
    console.log(`${signal}: cleaning up`);
    void cleanup(run).finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    await runScenario(run, debPath);
  } finally {
    await timed('cleanup', () => cleanup(run));
  }
  for (const [name, ms] of timings) console.log(`time  ${name}: ${(ms / 1000).toFixed(1)} s`);
  console.log(`time  total: ${((Date.now() - startedAt) / 1000).toFixed(1)} s`);
  console.log(`test-package: ${checks.failures === 0 ? 'all checks passed' : `${checks.failures} checks failed`}`);
  process.exitCode = checks.failures === 0 ? 0 : 1;
}

async function cleanup(run: Run): Promise<void> {
  const container = run.container;
  run.container = null;
  await container?.stop().catch((error: unknown) => console.log(`cleanup: ${String(error)}`));
  await run.lab?.cleanup();
  rmSync(run.workDir, { recursive: true, force: true });
}

async function runScenario(run: Run, debPath: string): Promise<void> {
  const cacheDir = process.env.VR6_TEST_ROOTFS_CACHE ?? DEFAULT_CACHE_DIR;
  const rootfs = await timed('rootfs (debootstrap or cache)', () => ensureRootfs(cacheDir, (line) => console.log(`info  ${line}`)));
  console.log(`info  rootfs ${rootfs.path} ${rootfs.wasCached ? '(cached)' : `(built in ${(rootfs.buildMs / 1000).toFixed(1)} s)`}`);
  const root = join(run.workDir, 'root');
  await timed('copy rootfs', () => runCommand(['cp', '-a', rootfs.path, root], { timeoutMs: 120_000 }));
  // What CloudStack passes a VR: the agent's URL and token, and the VM's name as router id.
  mkdirSync(join(root, 'var/cache/cloud'), { recursive: true });
  writeFileSync(join(root, 'var/cache/cloud/cmdline'), `template=domP type=vpcrouter name=${ROUTER_ID} vr6_mgmt_urls=ws://[${MGMT}]:${SIM_PORT} vr6_token=${TOKEN}\n`);
  // man-db re-indexes every page on each install (~2 min in a fresh rootfs); the pages are found without the index.
  rmSync(join(root, 'var/lib/man-db/auto-update'), { force: true });
  const debDir = join(run.workDir, 'deb');
  mkdirSync(debDir);
  copyFileSync(debPath, join(debDir, basename(debPath)));

  const lab = await Lab.create();
  run.lab = lab;
  const container = await timed('boot container', () =>
    Container.boot(root, { machine: `vr6t${process.pid}`, logPath: join(run.workDir, 'nspawn.log'), bindReadOnly: [`${debDir}:/mnt/vr6-deb`] }),
  );
  run.container = container;
  const sim = await timed('network and simulator', () => buildNetwork(lab, container, run.workDir));

  await check('node in the container is Debian 12 nodejs 18', async () => {
    const version = await container.read(['node', '--version']);
    if (!version.startsWith('v18.')) throw new Error(`node ${version}`);
    return version;
  });
  await timed('dpkg -i and start', () => installPackage(container, basename(debPath)));
  await checkService(container);
  await checkManagement(lab, container, sim);
  await checkRestarts(lab, container);
  await checkFrr(lab, container, sim);
  await checkJournal(container);
  await checkCloudStackHooks(container, check);
  await checkUpgradeAndRemoval(container, basename(debPath));
}

/** mgmt ↔ container eth0 (control), upstream ↔ eth1 (public, with radvd), eth2/eth3 ↔ guests g1/g2. */
async function buildNetwork(lab: Lab, container: Container, workDir: string): Promise<SimulatorRun> {
  for (const ns of [NS.mgmt, NS.upstream, NS.g1, NS.g2]) await lab.addNamespace(ns);
  // The container's network namespace gets a lab name, so lab.cleanup() also removes that name.
  await runCommand(['ip', 'netns', 'attach', lab.namespace(NS.vr), String(container.leaderPid)]);
  await lab.addLink(NS.mgmt, IF.mgmt, NS.vr, IF.vrControl, { up: false });
  for (const [ns, ifname, address] of [[NS.mgmt, IF.mgmt, MGMT], [NS.vr, IF.vrControl, VR_CONTROL_ADDRESS]] as const) {
    await lab.sysctl(ns, `net.ipv6.conf.${ifname}.accept_ra`, 0);
    await lab.exec(ns, ['ip', '-6', 'addr', 'add', `${address}/64`, 'dev', ifname, 'nodad']);
    await lab.setLinkUp(ns, ifname);
  }
  await lab.addLink(NS.upstream, IF.upstream, NS.vr, IF.vrPublic, { up: false });
  await lab.sysctl(NS.vr, `net.ipv6.conf.${IF.vrPublic}.accept_ra`, 0);
  await lab.sysctl(NS.upstream, 'net.ipv6.conf.all.forwarding', 1);
  await lab.exec(NS.upstream, ['ip', '-6', 'addr', 'add', `${UPSTREAM_ADDRESS}/64`, 'dev', IF.upstream]);
  await lab.setLinkUp(NS.upstream, IF.upstream);
  await lab.setLinkUp(NS.vr, IF.vrPublic);
  await lab.addLink(NS.vr, IF.vrTier1, NS.g1, IF.guest);
  await lab.addLink(NS.vr, IF.vrTier2, NS.g2, IF.guest);
  for (const ns of [NS.upstream, NS.vr, NS.mgmt, NS.g1, NS.g2]) await waitForDadEverywhere(lab, ns);

  const radvdConf = join(lab.tempDir, 'upstream-radvd.conf');
  const radvdPid = join(lab.tempDir, 'upstream-radvd.pid');
  writeFileSync(radvdConf, renderUpstreamRadvdConf());
  lab.trackPidFile(NS.upstream, radvdPid);
  await lab.spawn(NS.upstream, ['radvd', '-n', '-C', radvdConf, '-p', radvdPid, '-m', 'stderr']);

  const tokenFile = join(lab.tempDir, 'token');
  writeFileSync(tokenFile, `${TOKEN}\n`);
  const desiredPath = join(lab.tempDir, 'desired.json');
  writeFileSync(desiredPath, JSON.stringify(labDesiredState()));
  const simLog = join(workDir, 'sim.log');
  const simBundle = join(dirname(process.argv[1] ?? ''), 'vr6-sim.js');
  const argv = [process.execPath, simBundle, '--listen', `[${MGMT}]:${SIM_PORT}`, '--token-file', tokenFile, '--desired', desiredPath, '--hold'];
  const sim = { sim: await lab.spawn(NS.mgmt, argv, { logPath: simLog }), simLog, desiredPath };
  await waitForSimEvent(sim, (e) => e.event === 'listening', 'the simulator to listen', 5000);
  return sim;
}

async function installPackage(container: Container, debName: string): Promise<void> {
  await check('dpkg -i installs the package and its postinst starts the unit', async () => {
    await container.exec(['dpkg', '-i', `/mnt/vr6-deb/${debName}`], { timeoutMs: 120_000 });
    await waitForActive(container, 30_000);
    const files = ['/usr/sbin/vr6-agent', '/usr/bin/vr6ctl', '/usr/lib/vr6-agent/vr6-agent.js', '/etc/vr6-agent/agent.json'];
    await container.exec(['ls', ...files]);
    const conffiles = await container.read(['cat', '/var/lib/dpkg/info/vr6-agent.conffiles']);
    if (conffiles !== '/etc/vr6-agent/agent.json') throw new Error(`conffiles: ${conffiles}`);
    const modes = await container.read(['stat', '-c', '%a %n', '/var/lib/vr6-agent', '/run/vr6-agent', '/run/vr6-agent/control.sock']);
    if (modes !== '700 /var/lib/vr6-agent\n700 /run/vr6-agent\n600 /run/vr6-agent/control.sock') throw new Error(`modes: ${modes}`);
    return 'conffile /etc/vr6-agent/agent.json; state 0700, runtime 0700, socket 0600';
  });
}

async function waitForActive(container: Container, timeoutMs: number): Promise<Record<string, string>> {
  return waitFor(
    async (note) => {
      const properties = await container.unitProperties(UNIT, ['ActiveState', 'SubState', 'MainPID', 'NRestarts', 'StatusText', 'Result']);
      note(properties);
      return properties.ActiveState === 'active' ? properties : undefined;
    },
    { timeoutMs, what: `${UNIT} to be active`, intervalMs: 200 },
  );
}

async function checkService(container: Container): Promise<void> {
  await check('the unit is active through READY=1 under Node 18, with its STATUS= line', async () => {
    const p = await container.unitProperties(UNIT, ['Type', 'NotifyAccess', 'ActiveState', 'MainPID', 'StatusText', 'WatchdogUSec']);
    if (p.Type !== 'notify' || p.ActiveState !== 'active') throw new Error(JSON.stringify(p));
    const journal = await container.read(['journalctl', '-u', UNIT, '--no-pager', '-o', 'cat']);
    const refused = /Got notification message from PID \d+, but reception only permitted for main PID/.exec(journal);
    if (refused) throw new Error(`systemd refused a notification: ${refused[0]}`);
    // Type=notify is active only once READY=1 came from the main PID; the STATUS= text proves that path works.
    if (!/management (connected|disconnected); public/.test(p.StatusText ?? '')) throw new Error(`StatusText: ${p.StatusText}`);
    const exe = await container.read(['readlink', `/proc/${p.MainPID}/exe`]);
    const version = await container.read([exe, '--version']);
    if (!version.startsWith('v18.')) throw new Error(`main process runs ${exe} ${version}`);
    return `pid ${p.MainPID} ${exe} ${version}; status "${p.StatusText}"; watchdog ${p.WatchdogUSec}`;
  });
  await check('systemd-analyze verify is clean', async () => {
    const result = await container.exec(['systemd-analyze', 'verify', UNIT], { allowFailure: true });
    const output = `${result.stdout}${result.stderr}`.trim();
    if (result.exitCode !== 0 || output !== '') throw new Error(`exit ${result.exitCode}: ${output}`);
    const security = await container.exec(['systemd-analyze', 'security', '--no-pager', UNIT], { allowFailure: true });
    return `security: ${security.stdout.trim().split('\n').at(-1) ?? '?'}`;
  });
  await check('vr6ctl status answers', async () => {
    const text = await container.read(['vr6ctl', 'status']);
    if (!/^agent\s+vr6-agent /m.test(text) || !new RegExp(`^router\\s+${ROUTER_ID}$`, 'm').test(text)) throw new Error(text);
    return text.split('\n')[0];
  });
}

async function checkManagement(lab: Lab, container: Container, sim: SimulatorRun): Promise<void> {
  await check('the agent connects to the simulator outside the container with the boot parameters', async () => {
    const hello = await waitForMessage(sim, 'hello', () => true, 20_000);
    if (hello.routerId !== ROUTER_ID) throw new Error(`hello: ${JSON.stringify(hello)}`);
    return `hello from ${hello.routerId}, agent ${hello.agentVersion}`;
  });
  await check('the agent accepts and applies the desired state', async () => {
    const from = simEventCount(sim);
    const { generation } = await pushDesired(sim, labDesiredState());
    const ack = await waitForMessage(sim, 'ack', (m) => m.generation === generation, 15_000, from);
    if (ack.status !== 'accepted') throw new Error(`ack: ${JSON.stringify(ack)}`);
    const applied = await waitForMessage(sim, 'applied', (m) => m.generation === generation, 30_000, from);
    if (!applied.ok) throw new Error(`applied: ${JSON.stringify(applied)}`);
    await container.exec(['nft', 'list', 'table', 'ip6', 'vr6_agent']);
    return `generation ${applied.generation} in ${applied.durationMs} ms`;
  });
  await check("the package's helpers count inside the unit's sandbox: route changes and nf_tables commits", async () => {
    const { MainPID: pid } = await container.unitProperties(UNIT, ['MainPID']);
    const children = await container.read(['ps', '-o', 'args=', '--ppid', pid ?? '0']);
    const helpers = ['/usr/lib/vr6-agent/vr6-route-genid --serve', '/usr/lib/vr6-agent/vr6-nft-genid --serve'];
    const missing = helpers.filter((helper) => !children.split('\n').some((line) => line.trim() === helper));
    if (missing.length > 0) throw new Error(`not running under the agent: ${missing.join(', ')}; its children: ${children.trim()}`);
    return helpers.map((helper) => helper.split('/').pop()).join(', ');
  });
  await check('radvd started by the agent advertises: a guest configures itself by SLAAC', async () => {
    const address = await waitForSlaacAddress(lab, NS.g1, IF.guest, TIER1, 20_000);
    // radvd logs to syslog (-m syslog): /dev/log must still reach journald inside the unit's sandbox.
    const radvdLog = await container.read(['journalctl', '-t', 'radvd', '--no-pager', '-o', 'cat']);
    if (!/started/.test(radvdLog)) throw new Error(`no radvd lines in the journal: ${radvdLog}`);
    return `${NS.g1} ${address.address}; radvd: ${radvdLog.split('\n')[0]}`;
  });
  await check('STATUS= shows the generation, the management link and the public address', async () => {
    const status = await waitFor(
      async (note) => {
        const text = (await container.unitProperties(UNIT, ['StatusText'])).StatusText ?? '';
        note(text);
        return /^generation 1 applied; management connected; public 2001:db8:100:/.test(text) ? text : undefined;
      },
      { timeoutMs: 20_000, what: 'the status line to show the public address', intervalMs: 250 },
    );
    return status;
  });
  await check('vr6ctl show, plan and reconcile work on the box', async () => {
    const desired = JSON.parse(await container.read(['vr6ctl', 'show', 'desired'])) as { generation: number };
    const plan = await container.exec(['vr6ctl', 'plan'], { allowFailure: true });
    const reconcile = await container.exec(['vr6ctl', 'reconcile'], { allowFailure: true });
    if (desired.generation !== 1 || plan.exitCode !== 0 || reconcile.exitCode !== 0) {
      throw new Error(`show ${desired.generation}; plan exit ${plan.exitCode}: ${plan.stdout}; reconcile exit ${reconcile.exitCode}: ${reconcile.stdout}`);
    }
    return `${plan.stdout.trim()} / ${reconcile.stdout.trim().split('\n')[0]}`;
  });
}

async function radvdPid(container: Container): Promise<number> {
  return Number(await container.read(['cat', '/run/vr6-agent/radvd.pid']));
}

async function checkRestarts(lab: Lab, container: Container): Promise<void> {
  await check('a stalled agent trips the watchdog; systemd restarts it and radvd keeps running', async () => {
    const before = await container.unitProperties(UNIT, ['MainPID', 'NRestarts']);
    const radvd = await radvdPid(container);
    const started = Date.now();
    // SIGSTOP freezes the whole process, its reconcile loop included: no WATCHDOG=1 follows.
    await container.exec(['kill', '-STOP', before.MainPID ?? '']);
    const after = await waitFor(
      async (note) => {
        const p = await container.unitProperties(UNIT, ['ActiveState', 'MainPID', 'NRestarts']);
        note(p);
        return p.ActiveState === 'active' && p.MainPID !== before.MainPID && p.MainPID !== '0' ? p : undefined;
      },
      { timeoutMs: 90_000, what: 'systemd to restart the agent after a watchdog timeout', intervalMs: 500 },
    );
    const journal = await container.read(['journalctl', '-u', UNIT, '--no-pager', '-o', 'cat']);
    if (!/Watchdog timeout/.test(journal)) throw new Error('no watchdog timeout in the journal');
    if ((await radvdPid(container)) !== radvd) throw new Error('radvd was replaced');
    await container.exec(['kill', '-0', String(radvd)]);
    const monitors = await container.read(['pgrep', '-c', '-f', '^ip -o monitor address link$'], { allowFailure: true });
    if (monitors !== '1') throw new Error(`${monitors} ip monitor processes (the old agent's should have been swept)`);
    await lab.exec(NS.g1, ['ip', '-6', 'route', 'show', 'default']).then(({ stdout }) => {
      if (!stdout.includes('via fe80::')) throw new Error(`guest lost its default route: ${stdout}`);
    });
    return `pid ${before.MainPID} -> ${after.MainPID}, NRestarts ${before.NRestarts} -> ${after.NRestarts}, ${((Date.now() - started) / 1000).toFixed(1)} s; radvd ${radvd} kept`;
  });
  await check('systemctl stop and start leave radvd running and adopt it again', async () => {
    const radvd = await radvdPid(container);
    await container.exec(['systemctl', 'stop', UNIT]);
    const stopped = await container.unitProperties(UNIT, ['ActiveState', 'Result']);
    if (stopped.ActiveState !== 'inactive' || stopped.Result !== 'success') throw new Error(`after stop: ${JSON.stringify(stopped)}`);
    await container.exec(['kill', '-0', String(radvd)]);
    await container.exec(['systemctl', 'start', UNIT]);
    await waitForActive(container, 30_000);
    // radvd forks a privileged helper; count the daemons, whose parent is PID 1.
    const count = await container.read(['pgrep', '-c', '-x', '-P', '1', 'radvd']);
    if ((await radvdPid(container)) !== radvd || count !== '1') throw new Error(`radvd ${radvd} -> ${await radvdPid(container)}, ${count} running`);
    return `radvd ${radvd} survived the stop; one radvd after the start`;
  });
}

// A push reaches zebra or radvd inside the container's sandbox: slower than in the lab.
const APPLY_TIMEOUT_MS = 30_000;

async function checkFrr(lab: Lab, container: Container, sim: SimulatorRun): Promise<void> {
  const frrSpec = labDesiredState();
  frrSpec.raBackend = 'frr';
  for (const network of frrSpec.guestNetworks) network.ra = { ...network.ra, routes: [] };
  await check('with raBackend frr, the agent runs zebra inside the unit\'s sandbox, as user frr, and radvd stops', async () => {
    // What the image builder does (docs/operations.md): the agent runs zebra itself, not frr.service.
    await container.exec(['systemctl', 'disable', '--now', 'frr.service']);
    const router = (await lab.exec(NS.g1, ['ip', '-6', 'route', 'show', 'default'])).stdout.replace(/ expires \d+sec/, '').trim();
    const generation = await pushAndApply(sim, frrSpec, APPLY_TIMEOUT_MS);
    const zebra = await container.read(['cat', '/run/frr/zebra.pid']);
    const ps = await container.read(['ps', '-o', 'user=,args=', '-p', zebra]);
    // Every FRR daemon starts empty and is brought to frr.conf by vtysh (docs/routing.md).
    if (!/^frr\s+\/usr\/lib\/frr\/zebra -f \/dev\/null -P 0 /.test(ps)) throw new Error(`zebra: ${ps}`);
    const radvd = await container.read(['pgrep', '-c', '-x', 'radvd'], { allowFailure: true });
    if (radvd !== '0') throw new Error(`${radvd} radvd processes left`);
    const ra = (await lab.exec(NS.g1, ['rdisc6', '-1', '-r', '3', '-w', '1000', IF.guest])).stdout;
    if (!ra.includes(`Prefix                   : ${TIER1}`)) throw new Error(`RA at the guest: ${ra}`);
    const after = (await lab.exec(NS.g1, ['ip', '-6', 'route', 'show', 'default'])).stdout.replace(/ expires \d+sec/, '').trim();
    if (after !== router) throw new Error(`the guest's default route changed: ${router} -> ${after}`);
    // A plain vtysh reaches the agent's zebra: /run/frr is FRR's own run directory.
    const running = await container.read(['vtysh', '-c', 'show running-config']);
    if (!running.includes(`ipv6 nd prefix ${TIER1} 86400 9720`)) throw new Error(`vtysh: ${running}`);
    return `generation ${generation}: zebra ${zebra} runs as frr, no radvd, the guest hears ${TIER1} and kept its router`;
  });
  await check('with routing bgp, bgpd runs inside the unit\'s sandbox as frr, binds TCP 179, and a real upstream peer learns the block', async () => {
    const observed = await waitForMessage(sim, 'observed', (m) => m.publicAddress?.source === 'slaac', APPLY_TIMEOUT_MS);
    const vrAddress = observed.publicAddress!.address;
    // The upstream is an FRR instance of the test's own, in the upstream namespace, outside the container.
    const peer = await startFrrPeer(lab, NS.upstream, { localAs: 65000, routerId: '192.0.2.254', neighbors: [{ address: vrAddress, remoteAs: 65001 }] });
    frrSpec.routing = {
      protocol: 'bgp',
      bgp: { localAs: 65001, routerId: '192.0.2.1', peers: [{ address: UPSTREAM_ADDRESS, remoteAs: 65000, holdTimeSeconds: 9 }], announce: { aggregates: [GUEST_BLOCK] } },
    };
    const generation = await pushAndApply(sim, frrSpec, APPLY_TIMEOUT_MS);
    const bgpd = await container.read(['cat', '/run/frr/bgpd.pid']);
    const ps = await container.read(['ps', '-o', 'user=,args=', '-p', bgpd]);
    if (!/^frr\s+\/usr\/lib\/frr\/bgpd -f \/dev\/null -P 0 /.test(ps)) throw new Error(`bgpd: ${ps}`);
    // Port 179 is below 1024: bgpd binds it only with CAP_NET_BIND_SERVICE in the unit's bounding set.
    const listening = await container.read(['ss', '-Htln', 'sport', '= :179']);
    if (!listening.includes(':179')) throw new Error(`nothing listens on TCP 179: ${listening}`);
    const ms = await peer.waitForRoute(GUEST_BLOCK, true, APPLY_TIMEOUT_MS);
    const routes = await peer.bgpRoutes();
    if (!routes.get(GUEST_BLOCK)?.nextHops.includes(vrAddress)) throw new Error(`the peer's table: ${JSON.stringify([...routes])}`);
    return `generation ${generation}: bgpd ${bgpd} runs as frr and listens on 179; the peer installed ${GUEST_BLOCK} via ${vrAddress} ${ms} ms after the apply`;
  });
  await check('an agent restart keeps zebra and bgpd; going back to radvd and static routing stops both', async () => {
    const zebra = await container.read(['cat', '/run/frr/zebra.pid']);
    const bgpd = await container.read(['cat', '/run/frr/bgpd.pid']);
    await container.exec(['systemctl', 'restart', UNIT]);
    await waitForActive(container, 30_000);
    if ((await container.read(['cat', '/run/frr/zebra.pid'])) !== zebra) throw new Error('zebra was replaced');
    if ((await container.read(['cat', '/run/frr/bgpd.pid'])) !== bgpd) throw new Error('bgpd was replaced');
    await container.exec(['kill', '-0', zebra]);
    await container.exec(['kill', '-0', bgpd]);
    await pushAndApply(sim, labDesiredState(), APPLY_TIMEOUT_MS);
    // SIGKILL is delivered at once, but the process lingers until systemd, its parent since the restart, reaps it.
    const counts = await waitFor(
      async (note) => {
        const left = await container.read(['pgrep', '-c', '-x', 'zebra|bgpd'], { allowFailure: true });
        const radvd = await container.read(['pgrep', '-c', '-x', '-P', '1', 'radvd'], { allowFailure: true });
        note({ left, radvd });
        return left === '0' && radvd === '1' ? { left, radvd } : undefined;
      },
      { timeoutMs: 5000, what: 'zebra and bgpd gone and one radvd running', intervalMs: 100 },
    );
    void counts;
    return `zebra ${zebra} and bgpd ${bgpd} survived the restart; then radvd took over and both stopped`;
  });
}

async function checkJournal(container: Container): Promise<void> {
  await check('journalctl -u vr6-agent has the JSON logs, vr6ctl logs pretty-prints them, and the token is in neither', async () => {
    await container.exec(['vr6ctl', 'log-level', 'debug']);
    await container.exec(['vr6ctl', 'reconcile']);
    const raw = await container.read(['journalctl', '-u', UNIT, '--no-pager', '-o', 'cat']);
    const lines = raw.split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as Record<string, unknown>);
    const components = new Set(lines.map((l) => l.component));
    for (const component of ['daemon', 'agent', 'reconcile', 'transport', 'control']) if (!components.has(component)) throw new Error(`no ${component} lines`);
    if (!lines.some((l) => l.level === 20)) throw new Error('no debug lines after log-level debug');
    if (!lines.some((l) => l.generation === 1)) throw new Error('no line carries the generation');
    const pretty = await container.read(['vr6ctl', 'logs', '-n', '200']);
    if (!/ INFO  daemon +started/.test(pretty)) throw new Error(`vr6ctl logs: ${pretty.slice(0, 400)}`);
    const everything = await container.read(['journalctl', '--no-pager', '-o', 'cat']);
    if (everything.includes(TOKEN) || raw.includes(TOKEN)) throw new Error('the token appears in the journal');
    return `${lines.length} JSON lines from ${[...components].join(', ')}`;
  });
}

async function checkUpgradeAndRemoval(container: Container, debName: string): Promise<void> {
  await check('reinstalling (an upgrade) restarts the agent and keeps radvd', async () => {
    const before = await container.unitProperties(UNIT, ['MainPID']);
    const radvd = await radvdPid(container);
    await container.exec(['dpkg', '-i', `/mnt/vr6-deb/${debName}`], { timeoutMs: 120_000 });
    const after = await waitForActive(container, 30_000);
    if (after.MainPID === before.MainPID) throw new Error('the agent was not restarted');
    if ((await radvdPid(container)) !== radvd) throw new Error('radvd was replaced');
    await container.exec(['kill', '-0', String(radvd)]);
    return `pid ${before.MainPID} -> ${after.MainPID}; radvd ${radvd} kept`;
  });
  await check('dpkg --purge stops the agent and its radvd and removes its state', async () => {
    const radvd = await radvdPid(container);
    await container.exec(['dpkg', '--purge', 'vr6-agent'], { timeoutMs: 120_000 });
    const state = await container.read(['systemctl', 'show', UNIT, '--property=ActiveState']);
    if (state !== 'ActiveState=inactive') throw new Error(state);
    await waitFor(async () => (await container.exec(['kill', '-0', String(radvd)], { allowFailure: true })).exitCode !== 0, {
      timeoutMs: 5000,
      what: `radvd ${radvd} to exit`,
    });
    const left = await container.exec(['ls', '-d', '/var/lib/vr6-agent', '/run/vr6-agent', '/etc/vr6-agent', '/usr/lib/vr6-agent'], { allowFailure: true });
    if (left.stdout.trim() !== '') throw new Error(`left behind: ${left.stdout.trim()}`);
    // The hooks were installed (test/package/cloudstack-hooks.ts): removal puts CloudStack's script back.
    const script = await container.read(['cat', '/opt/cloud/bin/update_config.py']);
    if (!script.includes('echo cloudstack')) throw new Error(`update_config.py after purge: ${script}`);
    return 'unit inactive, radvd gone, no files left, update_config.py CloudStack\'s again';
  });
}

main().catch((error: unknown) => {
  console.log(`FAIL  test-package: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  process.exitCode = 1;
});
