import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isPidAlive, runCommand, waitFor } from './netns.js';
import { addRoute, readAddresses, waitForPing, waitForSlaacAddress } from './probes.js';
import { parseRdisc6 } from './rdisc6.js';
import { startRaListener, type HeardRa, type RaListener } from './ra-listener.js';
import { GUEST_BLOCK, IF, NS, TIER1, TIER2 } from './topology.js';
import { canRunLab } from './lab-guard.js';
import { labDesiredState, pushDesired, simEventCount, startAgent, startVrLab, stopAgent, waitForMessage, type VrLab } from './vr-lab.js';

/**
 * The RA backends on a real kernel with the real daemons: radvd and zebra
 * send the same RA, the agent hands the RAs from one to the other without
 * guests losing their router, renumbers and supervises under zebra, and
 * prints how long each backend takes from a desired state to its RA on the
 * wire.
 */

const TOOLS = ['ip', 'nft', 'radvd', 'ping', 'rdisc6', 'nc', 'python3', 'vtysh', '/usr/lib/frr/zebra'];
const describeLab = canRunLab(TOOLS) ? describe : describe.skip;

type Backend = 'radvd' | 'frr';
const RA_INTERVAL_MS = 10_000; // the lab's maxIntervalSeconds
// Which daemon sent an RA, from the wire: radvd packs the two DNS servers of spec() into one
// RDNSS option (RFC 8106 §5.1), zebra sends one option per server (docs/research/ra-backends.md).
const OPTION_RDNSS = 25;
const RDNSS_OPTIONS: Record<Backend, number> = { radvd: 1, frr: 2 };
const isSentBy = (backend: Backend) => (ra: HeardRa) => ra.options.filter((kind) => kind === OPTION_RDNSS).length === RDNSS_OPTIONS[backend];

/** The lab's state with every RA option both backends can send (route information is radvd's alone). */
function spec(backend: Backend, edit: (state: Record<string, any>) => void = () => undefined): Record<string, any> {
  const state = JSON.parse(JSON.stringify(labDesiredState()));
  state.raBackend = backend;
  for (const network of state.guestNetworks) {
    delete network.ra.routes;
    Object.assign(network.ra, { mtu: 1480, searchDomains: ['cloud.example', 'example'], dnsServers: ['2001:db8:100::53', '2001:db8:100::54'] });
  }
  edit(state);
  return state;
}

describeLab('RA backends in the namespace lab', () => {
  let vrLab: VrLab;
  const guests: Record<string, string> = {};
  const listeners: Record<string, RaListener> = {};
  const vr = (argv: string[]) => vrLab.lab.exec(NS.vr, argv);
  const pidIn = (file: string) => Number(readFileSync(join(vrLab.agentDir, file), 'utf8').trim());

  /** The RA daemons running in the VR namespace (the upstream runs a radvd of its own), by program, from their argv. */
  async function senders(): Promise<Record<string, number>> {
    const found: Record<string, number> = { radvd: 0, zebra: 0 };
    const pids = (await runCommand(['ip', 'netns', 'pids', vrLab.lab.namespace(NS.vr)])).stdout.split('\n').filter(Boolean).map(Number);
    for (const pid of pids) {
      const argv0 = readCmdline(pid)[0] ?? '';
      for (const program of Object.keys(found)) if (argv0.endsWith(program)) found[program]!++;
    }
    return found;
  }

  async function apply(state: Record<string, any>) {
    const from = simEventCount(vrLab);
    const pushed = await pushDesired(vrLab, state);
    const applied = await waitForMessage(vrLab, 'applied', (m) => m.generation === pushed.generation, 20_000, from);
    expect(applied.errors).toEqual([]);
    return { ...pushed, applied };
  }

  const rdisc6 = async (ns: string) => parseRdisc6((await vrLab.lab.exec(ns, ['rdisc6', '-1', '-r', '3', '-w', '1000', IF.guest])).stdout);
  /** The guest's default route, without its countdown: each RA restarts it. */
  const defaultRoute = async (ns: string) =>
    (await vrLab.lab.exec(ns, ['ip', '-6', 'route', 'show', 'default'])).stdout.trim().replace(/ expires \d+sec/, '');

  beforeAll(async () => {
    vrLab = await startVrLab(spec('radvd'));
    await startAgent(vrLab);
    await waitForMessage(vrLab, 'hello', () => true, 10_000);
    await apply(spec('radvd'));
    const observed = await waitForMessage(vrLab, 'observed', (m) => m.publicAddress?.source === 'slaac', 15_000);
    await addRoute(vrLab.lab, NS.upstream, GUEST_BLOCK, observed.publicAddress!.address, IF.upstream);
    for (const [ns, tier] of [[NS.g1, TIER1], [NS.g2, TIER2]] as const) {
      guests[ns] = (await waitForSlaacAddress(vrLab.lab, ns, IF.guest, tier, 20_000)).address;
      listeners[ns] = await startRaListener(vrLab.lab, ns, IF.guest);
    }
  }, 90_000);

  afterAll(async () => {
    await vrLab?.lab.cleanup();
  });

  it('sends the same RA from radvd and from zebra, field by field as rdisc6 shows them', async () => {
    const viaRadvd = { g1: await rdisc6(NS.g1), g2: await rdisc6(NS.g2) };
    expect(viaRadvd.g1.prefixes).toEqual(['2001:db8:200:1::/64 on-link=Yes autonomous=Yes valid=86400 preferred=9720']);
    expect(viaRadvd.g1.dnsServers).toEqual(['2001:db8:100::53 20', '2001:db8:100::54 20']);
    await apply(spec('frr'));
    expect(await senders()).toEqual({ radvd: 0, zebra: 1 });
    const viaZebra = { g1: await rdisc6(NS.g1), g2: await rdisc6(NS.g2) };
    expect(viaZebra).toEqual(viaRadvd);
  });

  it('hands the RAs over radvd -> frr -> radvd -> frr with one sender at a time, and guests keep their router and traffic', async () => {
    const routers = { g1: await defaultRoute(NS.g1), g2: await defaultRoute(NS.g2) };
    expect(routers.g1).toMatch(/^default via fe80::/);
    // 20 pings a second to each guest for the whole sequence; a lost default route on a guest loses replies.
    const pings = await Promise.all(
      [NS.g1, NS.g2].map((ns) => vrLab.lab.spawn(NS.upstream, ['ping', '-6', '-n', '-q', '-i', '0.05', '-c', '300', '-W', '1', guests[ns]!])),
    );
    const seen: string[] = [];
    let isWatching = true;
    const watcher = (async () => {
      while (isWatching) seen.push(`${await defaultRoute(NS.g1)}|${await defaultRoute(NS.g2)}`);
    })();
    const startedAt = Date.now();
    for (const backend of ['radvd', 'frr', 'radvd', 'frr'] as const) {
      const { pushedAt } = await apply(spec(backend));
      expect(await senders()).toEqual(backend === 'radvd' ? { radvd: 2, zebra: 0 } : { radvd: 0, zebra: 1 });
      // The next hand-over only once both guests have heard the new sender.
      await Promise.all(
        [NS.g1, NS.g2].map((ns) => listeners[ns]!.waitFor(isSentBy(backend), pushedAt, RA_INTERVAL_MS, `an RA from ${backend} at ${ns}`)),
      );
    }
    await Promise.all(pings.map((p) => p.exited));
    isWatching = false;
    await watcher;
    for (const p of pings) expect(readFileSync(p.logPath, 'utf8')).toMatch(/300 packets transmitted, 300 received, 0% packet loss/);
    expect(seen.length).toBeGreaterThan(10);
    expect(new Set(seen)).toEqual(new Set([`${routers.g1}|${routers.g2}`]));
    // No sender said goodbye on the way: a router lifetime of 0 would have dropped the guests' route.
    for (const ns of [NS.g1, NS.g2]) expect(listeners[ns]!.heard().filter((ra) => ra.atMs >= startedAt && ra.routerLifetime === 0)).toEqual([]);
  });

  it('renumbers a tier under zebra: an address in the new prefix within one RA interval, the old one deprecated', async () => {
    const renumbered = '2001:db8:200:3::/64';
    const oldAddress = guests[NS.g2]!;
    const { pushedAt } = await apply(spec('frr', (state) => (state.guestNetworks[1].prefix = renumbered)));
    const ra = await listeners[NS.g2]!.waitFor((r) => r.prefixes.some((p) => p.prefix === renumbered), pushedAt, RA_INTERVAL_MS, 'an RA with the new prefix');
    expect(ra.prefixes).toContainEqual({ prefix: TIER2, valid: 0, preferred: 0 });
    await waitForSlaacAddress(vrLab.lab, NS.g2, IF.guest, renumbered, RA_INTERVAL_MS);
    const old = (await readAddresses(vrLab.lab, NS.g2, IF.guest)).find((a) => a.address === oldAddress);
    expect(old).toMatchObject({ isDeprecated: true, preferredLifetimeSeconds: 0 });
    expect(old!.validLifetimeSeconds).toBeLessThanOrEqual(7200);
    // The VR keeps its old gateway for the window, so the guest's old flows still route.
    expect((await readAddresses(vrLab.lab, NS.vr, IF.vrTier2)).map((a) => a.address)).toEqual(expect.arrayContaining(['2001:db8:200:3::1', '2001:db8:200:2::1']));
    console.log(`TIME  desired state pushed -> first RA with the renumbered prefix at guest g2 (frr): ${Math.round(ra.atMs - pushedAt)} ms`);
    await apply(spec('frr'));
  });

  it('takes a tier away under zebra: router lifetime 0 and the prefix deprecated on its link, then brings it back', async () => {
    const { pushedAt } = await apply(spec('frr', (state) => state.guestNetworks.pop()));
    const goodbye = await listeners[NS.g2]!.waitFor((r) => r.routerLifetime === 0, pushedAt, RA_INTERVAL_MS, 'an RA with router lifetime 0 on the tier that left');
    expect(goodbye.prefixes).toContainEqual({ prefix: TIER2, valid: 0, preferred: 0 });
    await waitFor(async () => (await defaultRoute(NS.g2)) === '' || undefined, { timeoutMs: 5000, what: "g2's default route to go" });
    const back = await apply(spec('frr'));
    const hello = await listeners[NS.g2]!.waitFor((r) => r.routerLifetime === 30, back.pushedAt, RA_INTERVAL_MS, 'an RA with router lifetime 30 again');
    expect(hello.prefixes).toContainEqual({ prefix: TIER2, valid: 86400, preferred: 9720 });
    await waitFor(async () => (await defaultRoute(NS.g2)).startsWith('default via fe80::') || undefined, { timeoutMs: 5000, what: "g2's default route to return" });
  });

  it('restarts a zebra that died, says so, and the guests keep their default route', async () => {
    const before = await defaultRoute(NS.g1);
    const pid = pidIn('frr/zebra.pid');
    const from = simEventCount(vrLab);
    // SIGKILL: a crash sends no goodbye RA.
    process.kill(pid, 'SIGKILL');
    const applied = await waitForMessage(vrLab, 'applied', (m) => m.repaired.includes('zebra was not running'), 15_000, from);
    expect(applied.ok).toBe(true);
    await waitFor(async () => isPidAlive(pidIn('frr/zebra.pid')) && pidIn('frr/zebra.pid') !== pid, { timeoutMs: 5000, what: 'a new zebra' });
    expect(await senders()).toEqual({ radvd: 0, zebra: 1 });
    expect(await defaultRoute(NS.g1)).toBe(before);
    await waitForPing(vrLab.lab, NS.upstream, guests[NS.g1]!, 5000);
  });

  it('keeps zebra, its settings and the guests\' router across an agent restart', async () => {
    const before = await defaultRoute(NS.g1);
    const zebra = pidIn('frr/zebra.pid');
    await stopAgent(vrLab);
    const from = simEventCount(vrLab);
    await startAgent(vrLab);
    const applied = await waitForMessage(vrLab, 'applied', () => true, 20_000, from);
    // The new agent finds zebra running what it would render: nothing to do, no restart.
    expect(applied.components.frr).toEqual({ status: 'ok', steps: 0 });
    expect(pidIn('frr/zebra.pid')).toBe(zebra);
    expect(isPidAlive(zebra)).toBe(true);
    expect(await defaultRoute(NS.g1)).toBe(before);
  });

  it('prints, for each backend, the time from a desired state to an RA carrying it', async () => {
    const times: string[] = [];
    for (const [index, backend] of (['radvd', 'frr'] as const).entries()) {
      await apply(spec(backend));
      // A new MTU marks the RAs that carry the new state.
      const mtu = 1400 + index;
      const { pushedAt } = await apply(spec(backend, (state) => state.guestNetworks.forEach((n: any) => (n.ra = { ...n.ra, mtu }))));
      const ra = await listeners[NS.g1]!.waitFor((r) => r.mtu === mtu, pushedAt, RA_INTERVAL_MS, `an RA with MTU ${mtu} from ${backend}`);
      times.push(`TIME  desired state pushed -> first RA with it at guest g1 (${backend}): ${Math.round(ra.atMs - pushedAt)} ms`);
    }
    console.log(times.join('\n'));
  });
});

function readCmdline(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  } catch {
    return [];
  }
}
