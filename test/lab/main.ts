import { readFileSync } from 'node:fs';
import { CheckRun } from './check-run.js';
import { waitFor } from './netns.js';
import { addRoute, isInPrefix as isInCidr, readAddresses, tcpConnect, tcpListen, waitForPing, waitForSlaacAddress } from './probes.js';
import { GUEST_BLOCK, IF, INTERNET_HOST, NS, PUBLIC_PREFIX, TIER1, TIER2, UPSTREAM_ADDRESS } from './topology.js';
import { labDesiredState, pushDesired, startAgent, startVrLab, waitForMessage, waitForSimEvent, type VrLab } from './vr-lab.js';

/**
 * `make lab`: builds the CloudStack-like namespace lab, runs the agent in
 * the VR against the simulator, and checks what an operator would, one
 * PASS or FAIL line each. Exits non-zero when any check fails; removes every
 * namespace and process it made, also on failure and Ctrl-C.
 */

const checks = new CheckRun();
const check = checks.check.bind(checks);

async function runChecks(vrLab: VrLab): Promise<void> {
  const { lab } = vrLab;
  const guests = [
    { ns: NS.g1, tier: TIER1, address: '' },
    { ns: NS.g2, tier: TIER2, address: '' },
  ];
  await startAgent(vrLab);
  await waitForSimEvent(vrLab, (e) => e.event === 'hello', 'the agent to say hello', 10_000);
  const { pushedAt } = await pushDesired(vrLab, labDesiredState());
  // The kernel makes a (tentative) address the moment it processes the RA: its appearance times the RA on the wire.
  const firstRaMs = waitFor(
    async () => ((await readAddresses(lab, NS.g1, IF.guest)).some((a) => isInCidr(a.address, TIER1)) ? Date.now() - pushedAt : undefined),
    { timeoutMs: 20_000, what: `an address in ${TIER1} on g1`, intervalMs: 10 },
  ).catch(() => null);
  let publicAddress = '';

  await check('agent accepts the desired state', async () => {
    const ack = await waitForMessage(vrLab, 'ack', () => true, 10_000);
    if (ack.status !== 'accepted') throw new Error(`ack ${ack.status}: ${JSON.stringify(ack.errors)}`);
  });
  await check('agent reports its SLAAC public address', async () => {
    const observed = await waitForMessage(vrLab, 'observed', (m) => m.publicAddress?.source === 'slaac', 15_000);
    const report = observed.publicAddress!;
    if (!isInCidr(report.address, PUBLIC_PREFIX)) throw new Error(`${report.address} is outside ${PUBLIC_PREFIX}`);
    if (report.matchesEui64 !== true) throw new Error(`${report.address} is not the EUI-64 of the VR's MAC`);
    publicAddress = report.address;
    const routes = observed.upstreamRoutes.map((r) => `${r.prefix} via ${r.via}`);
    return `${report.address}, ${Date.now() - pushedAt} ms after the push; routes: ${routes.join(', ')}`;
  });
  await check(`upstream gets the static route ${GUEST_BLOCK} via the reported address`, async () => {
    if (!publicAddress) throw new Error('no public address was reported');
    await addRoute(lab, NS.upstream, GUEST_BLOCK, publicAddress, IF.upstream);
    return `${GUEST_BLOCK} via ${publicAddress}`;
  });
  for (const guest of guests) {
    await check(`guest ${guest.ns} gets a SLAAC address in ${guest.tier}`, async () => {
      const info = await waitForSlaacAddress(lab, guest.ns, IF.guest, guest.tier, 20_000);
      guest.address = info.address;
      return info.address;
    });
  }
  let firstPingMs = 0;
  for (const guest of guests) {
    await check(`upstream pings ${guest.ns}`, async () => {
      await waitForPing(lab, NS.upstream, guest.address, 15_000);
      firstPingMs ||= Date.now() - pushedAt;
    });
    await check(`${guest.ns} pings the upstream router and the internet host`, async () => {
      for (const target of [UPSTREAM_ADDRESS, INTERNET_HOST]) await waitForPing(lab, guest.ns, target, 10_000);
    });
  }
  const web = guests[0]!;
  await tcpListen(lab, web.ns, 8080);
  await tcpListen(lab, web.ns, 9090);
  await check('TCP from upstream to an allowed guest port connects', async () => {
    if (!(await tcpConnect(lab, NS.upstream, web.address, 8080, 3000))) throw new Error(`[${web.address}]:8080 did not connect`);
  });
  await check('TCP from upstream to a guest port with no ingress rule fails', async () => {
    if (await tcpConnect(lab, web.ns, '::1', 9090, 2000)) {
      if (await tcpConnect(lab, NS.upstream, web.address, 9090, 2000)) throw new Error(`[${web.address}]:9090 connected`);
      return 'the listener answers locally, and not through the VR';
    }
    throw new Error('the control listener on 9090 is not up, so the check proves nothing');
  });
  let frrRaMs: number | null = null;
  await check('FRR takes over the RAs from radvd: zebra advertises, radvd is gone, guests keep their router', async () => {
    // The router, not the countdown or the MTU the RA just changed.
    const route = async () => (await lab.exec(web.ns, ['ip', '-6', 'route', 'show', 'default'])).stdout.replace(/ (expires \d+sec|mtu \d+)/g, '').trim();
    const mtu = async () => (await lab.exec(web.ns, ['sysctl', '-n', `net.ipv6.conf.${IF.guest}.mtu`])).stdout.trim();
    const before = await route();
    const frr = labDesiredState();
    frr.raBackend = 'frr';
    // FRR cannot send route information options; a new MTU marks the RAs zebra sends.
    for (const network of frr.guestNetworks) network.ra = { ...network.ra, routes: [], mtu: 1400 };
    const pushed = await pushDesired(vrLab, frr);
    frrRaMs = await waitFor(async () => ((await mtu()) === '1400' ? Date.now() - pushed.pushedAt : undefined), {
      timeoutMs: 15_000,
      what: `the MTU option of zebra's RA on ${web.ns}`,
      intervalMs: 10,
    });
    const applied = await waitForMessage(vrLab, 'applied', (m) => m.generation === pushed.generation, 10_000);
    if (!applied.ok) throw new Error(`applied: ${JSON.stringify(applied.errors)}`);
    if ((await route()) !== before) throw new Error(`the guest's default route changed: ${before} -> ${await route()}`);
    await waitForPing(lab, NS.upstream, web.address, 5000);
    return `${frrRaMs} ms from the push to zebra's first RA at ${web.ns}`;
  });
  const raMs = await firstRaMs;
  if (raMs !== null) console.log(`TIME  desired state pushed -> first RA with the tier prefix at guest g1 (radvd): ${raMs} ms`);
  if (frrRaMs !== null) console.log(`TIME  desired state pushed (radvd -> frr) -> first RA from zebra at guest g1: ${frrRaMs} ms`);
  if (firstPingMs) console.log(`TIME  desired state pushed -> first successful ping upstream -> guest: ${firstPingMs} ms`);
}

async function main(): Promise<void> {
  console.log('vr6-agent lab: upstream router (radvd) -- VR (agent; radvd, then zebra) -- two VPC tiers, management simulator on the control link');
  const vrLab = await startVrLab(labDesiredState());
  try {
    await runChecks(vrLab);
  } catch (error) {
    checks.fail('lab', error);
  } finally {
    if (checks.failures > 0 && vrLab.agent) {
      console.log('--- last lines of the agent log ---');
      console.log(readFileSync(vrLab.agent.logPath, 'utf8').split('\n').slice(-30).join('\n'));
    }
    await vrLab.lab.cleanup();
  }
  console.log(checks.failures === 0 ? 'lab: all checks passed' : `lab: ${checks.failures} check(s) failed`);
  process.exit(checks.failures === 0 ? 0 : 1);
}

void main();
