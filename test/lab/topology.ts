import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Lab, WaitAbortedError, waitFor, type LabProcess } from './netns.js';
import { readAddresses, readAllAddresses } from './probes.js';

/** The /64 the upstream router advertises on the VR's public link. */
export const PUBLIC_PREFIX = '2001:db8:100::/64';
/** The block CloudStack hands out to guest tiers. */
export const GUEST_BLOCK = '2001:db8:200::/48';
/** The first guest tier's /64 (VR eth2 ↔ g1). */
export const TIER1 = '2001:db8:200:1::/64';
/** The second guest tier's /64 (VR eth3 ↔ g2). */
export const TIER2 = '2001:db8:200:2::/64';
/** The third guest tier's /64 (VR eth4 ↔ g3), built only with `tiers: 3`. */
export const TIER3 = '2001:db8:200:3::/64';
/** The /64 of the link from the upstream (up1) to the far host, built only with `farHost`. */
export const FAR_LINK = '2001:db8:fe::/64';
/** The upstream's address on the far link. */
export const FAR_GATEWAY = '2001:db8:fe::1';
/** The far host: an "internet host" one hop behind the upstream, across a link the upstream sends at most 1280 bytes into. */
export const FAR_HOST = '2001:db8:fe::2';
/** The MTU of the upstream's end of the far link: the IPv6 minimum (RFC 8200 §5), so the upstream sends packet-too-big. */
export const FAR_LINK_MTU = 1280;
/** The upstream router's own address on the public link (up0). */
export const UPSTREAM_ADDRESS = '2001:db8:100::1';
/** A reachable "internet host": a /128 on the upstream's loopback. */
export const INTERNET_HOST = '2001:db8:ffff::1';
/** The management-server simulator's address, on mgmt's mg0. */
export const MGMT = 'fd00:c::1';
/** The VR's address on its control link (eth0). */
export const VR_CONTROL_ADDRESS = 'fd00:c::2';

/** Short namespace names; pass them to `lab.exec`, `lab.spawn` and the probes. */
export const NS = { upstream: 'upstream', vr: 'vr', mgmt: 'mgmt', g1: 'g1', g2: 'g2' } as const;

/** Interface names inside the namespaces. */
export const IF = {
  upstream: 'up0',
  mgmt: 'mg0',
  vrControl: 'eth0',
  vrPublic: 'eth1',
  vrTier1: 'eth2',
  vrTier2: 'eth3',
  guest: 'eth0',
} as const;

/**
 * Short names of the namespaces only some topologies have (kept out of {@link NS}, whose every
 * entry the default topology builds): the third tier's guest and the far host.
 */
export const OPTIONAL_NS = { g3: 'g3', far: 'far' } as const;

/** Interface names that exist only in some topologies. */
export const OPTIONAL_IF = { vrTier3: 'eth4', upstreamFar: 'up1', far: 'eth0' } as const;

/** One guest tier of the topology: its guest namespace, the VR's interface to it, and the /64 the tests give it. */
export interface GuestTier {
  readonly ns: string;
  readonly vrInterface: string;
  readonly prefix: string;
}

/** Every tier the topology can build, in order; `tiers: n` builds the first n. */
export const GUEST_TIERS: readonly GuestTier[] = [
  { ns: NS.g1, vrInterface: IF.vrTier1, prefix: TIER1 },
  { ns: NS.g2, vrInterface: IF.vrTier2, prefix: TIER2 },
  { ns: OPTIONAL_NS.g3, vrInterface: OPTIONAL_IF.vrTier3, prefix: TIER3 },
];

/**
 * What to leave out of, or add to, the topology. `upstreamRadvd` and `guests` default to true;
 * `tiers` (how many guest tiers, when there are guests) to 2; `farHost` to false.
 */
export interface TopologyOptions {
  upstreamRadvd?: boolean;
  guests?: boolean;
  tiers?: 1 | 2 | 3;
  /** Adds the far host behind the upstream, on a link whose upstream end has MTU {@link FAR_LINK_MTU}. */
  farHost?: boolean;
}

/** Handles to a built topology. Namespace fields are short names; `radvd` exists only when it was asked for. */
export interface Topology {
  lab: Lab;
  upstream: string;
  vr: string;
  mgmt: string;
  /** `['g1', 'g2']`, or empty when built without guests; `tiers` changes the count. */
  guests: readonly string[];
  /** The far host's short namespace name, when built with `farHost`. */
  far?: string;
  radvd: LabProcess | undefined;
  radvdPidFile: string | undefined;
  /** Wall time of the build, for reports. */
  buildMs: number;
}

/**
 * Renders the upstream's radvd.conf. The intervals are deliberately slow (30–60 s) so that a fast
 * SLAAC on the VR proves the agent sent a router solicitation (radvd answers an RS at once).
 */
export function renderUpstreamRadvdConf(): string {
  return [
    `interface ${IF.upstream} {`,
    '  AdvSendAdvert on;',
    '  MinRtrAdvInterval 30;',
    '  MaxRtrAdvInterval 60;',
    '  AdvDefaultLifetime 1800;',
    `  prefix ${PUBLIC_PREFIX} {`,
    '    AdvOnLink on;',
    '    AdvAutonomous on;',
    '  };',
    '};',
    '',
  ].join('\n');
}

/**
 * Builds upstream ↔ VR ↔ guests plus the mgmt control link inside `lab`. Configures nothing in
 * the VR beyond link state and its control address: forwarding, accept_ra, guest addresses and
 * radvd are the agent's job. On failure the caller cleans up the lab (see {@link createTopology}).
 */
export async function buildTopology(lab: Lab, options: TopologyOptions = {}): Promise<Topology> {
  const startedAt = Date.now();
  const withGuests = options.guests ?? true;
  const tiers = withGuests ? GUEST_TIERS.slice(0, options.tiers ?? 2) : [];
  const guests = tiers.map((tier) => tier.ns);
  const far = options.farHost === true ? [OPTIONAL_NS.far] : [];
  for (const ns of [NS.upstream, NS.vr, NS.mgmt, ...guests, ...far]) await lab.addNamespace(ns);
  await buildControlLink(lab);
  await buildPublicLink(lab);
  for (const tier of tiers) await lab.addLink(NS.vr, tier.vrInterface, tier.ns, IF.guest);
  if (far.length > 0) await buildFarLink(lab);
  let radvd: { proc: LabProcess; pidFile: string } | undefined;
  if (options.upstreamRadvd ?? true) radvd = await startUpstreamRadvd(lab);
  await Promise.all([NS.upstream, NS.vr, NS.mgmt, ...guests, ...far].map((ns) => waitForDadEverywhere(lab, ns)));
  return {
    lab,
    upstream: NS.upstream,
    vr: NS.vr,
    mgmt: NS.mgmt,
    guests,
    ...(far.length > 0 ? { far: OPTIONAL_NS.far } : {}),
    radvd: radvd?.proc,
    radvdPidFile: radvd?.pidFile,
    buildMs: Date.now() - startedAt,
  };
}

/** Creates a fresh {@link Lab} and builds the topology in it; if the build fails, the lab is cleaned up before rethrowing. */
export async function createTopology(options: TopologyOptions = {}): Promise<Topology> {
  const lab = await Lab.create();
  try {
    return await buildTopology(lab, options);
  } catch (error) {
    await lab.cleanup();
    throw error;
  }
}

async function buildControlLink(lab: Lab): Promise<void> {
  await lab.addLink(NS.mgmt, IF.mgmt, NS.vr, IF.vrControl, { up: false });
  for (const [ns, ifname, address] of [
    [NS.mgmt, IF.mgmt, MGMT],
    [NS.vr, IF.vrControl, VR_CONTROL_ADDRESS],
  ] as const) {
    // The control link must never pick up addresses or routes from an RA, whoever sends one.
    await lab.sysctl(ns, `net.ipv6.conf.${ifname}.accept_ra`, 0);
    // nodad: the address is usable at once instead of ~1–2 s later (RFC 4862 §5.4).
    await lab.exec(ns, ['ip', '-6', 'addr', 'add', `${address}/64`, 'dev', ifname, 'nodad']);
    await lab.setLinkUp(ns, ifname);
  }
}

async function buildPublicLink(lab: Lab): Promise<void> {
  await lab.addLink(NS.upstream, IF.upstream, NS.vr, IF.vrPublic, { up: false });
  // Set before the link comes up: with accept_ra=1 and forwarding=0 the kernel sends its own RS
  // once the link-local passes DAD (addrconf_dad_completed) and SLAACs from the answer, and the
  // test could no longer tell whether the agent did it.
  await lab.sysctl(NS.vr, `net.ipv6.conf.${IF.vrPublic}.accept_ra`, 0);
  await lab.sysctl(NS.upstream, 'net.ipv6.conf.all.forwarding', 1);
  await lab.exec(NS.upstream, ['ip', '-6', 'addr', 'add', `${UPSTREAM_ADDRESS}/64`, 'dev', IF.upstream]);
  await lab.exec(NS.upstream, ['ip', '-6', 'addr', 'add', `${INTERNET_HOST}/128`, 'dev', 'lo']);
  await lab.setLinkUp(NS.upstream, IF.upstream);
  await lab.setLinkUp(NS.vr, IF.vrPublic);
}

/**
 * upstream up1 (MTU 1280) ↔ far eth0 (MTU 1500). The far end keeps 1500 on purpose: it then
 * announces a TCP MSS of 1440 (RFC 9293 §3.7.1), so a guest's full-sized segments reach the
 * upstream, which cannot forward them into up1 and answers packet-too-big (RFC 8201 §4).
 */
async function buildFarLink(lab: Lab): Promise<void> {
  const { far } = OPTIONAL_NS;
  await lab.addLink(NS.upstream, OPTIONAL_IF.upstreamFar, far, OPTIONAL_IF.far, { up: false });
  await lab.exec(NS.upstream, ['ip', 'link', 'set', OPTIONAL_IF.upstreamFar, 'mtu', String(FAR_LINK_MTU)]);
  await lab.sysctl(far, `net.ipv6.conf.${OPTIONAL_IF.far}.accept_ra`, 0);
  await lab.exec(NS.upstream, ['ip', '-6', 'addr', 'add', `${FAR_GATEWAY}/64`, 'dev', OPTIONAL_IF.upstreamFar, 'nodad']);
  await lab.exec(far, ['ip', '-6', 'addr', 'add', `${FAR_HOST}/64`, 'dev', OPTIONAL_IF.far, 'nodad']);
  await Promise.all([lab.setLinkUp(NS.upstream, OPTIONAL_IF.upstreamFar), lab.setLinkUp(far, OPTIONAL_IF.far)]);
  await lab.exec(far, ['ip', '-6', 'route', 'add', 'default', 'via', FAR_GATEWAY, 'dev', OPTIONAL_IF.far]);
}

async function startUpstreamRadvd(lab: Lab): Promise<{ proc: LabProcess; pidFile: string }> {
  const confPath = join(lab.tempDir, 'upstream-radvd.conf');
  const pidFile = join(lab.tempDir, 'upstream-radvd.pid');
  const logPath = join(lab.tempDir, 'upstream-radvd.log');
  writeFileSync(confPath, renderUpstreamRadvdConf());
  // radvd sends from the link-local address; while that is still tentative (DAD) the send fails
  // and the next unsolicited RA is 30–60 s away, so wait for DAD to finish first.
  await waitForNoTentative(lab, NS.upstream, IF.upstream, { scope: 'link' });
  lab.trackPidFile(NS.upstream, pidFile);
  const argv = ['radvd', '-n', '-C', confPath, '-p', pidFile, '-m', 'logfile', '-l', logPath];
  const proc = await lab.spawn(NS.upstream, argv, { logPath: join(lab.tempDir, 'upstream-radvd.stderr') });
  await waitFor(
    async () => {
      if (proc.hasExited()) throw new WaitAbortedError(`upstream radvd exited; see ${logPath}`);
      return existsSync(pidFile);
    },
    { timeoutMs: 5000, what: 'upstream radvd to write its pid file' },
  );
  return { proc, pidFile };
}

/** Waits until `ifname` has at least one address (of `scope`, when given) and none of those is tentative. */
export async function waitForNoTentative(
  lab: Lab,
  ns: string,
  ifname: string,
  options: { scope?: 'link' | 'global'; timeoutMs?: number } = {},
): Promise<void> {
  await waitFor(
    async (note) => {
      const addresses = (await readAddresses(lab, ns, ifname)).filter((a) => options.scope === undefined || a.scope === options.scope);
      note(addresses);
      return addresses.length > 0 && addresses.every((a) => !a.isTentative);
    },
    { timeoutMs: options.timeoutMs ?? 5000, what: `DAD to finish on ${ns}/${ifname}` },
  );
}

/**
 * Waits until every interface but lo in the namespace has a link-local address and no address is
 * tentative. Until then a tentative link-local cannot be a source: rdisc6 and radvd fail with
 * EADDRNOTAVAIL (RFC 4862 §5.4: a tentative address is not assigned to the interface).
 */
export async function waitForDadEverywhere(lab: Lab, ns: string, timeoutMs = 5000): Promise<void> {
  await waitFor(
    async (note) => {
      const byInterface = await readAllAddresses(lab, ns);
      const pending = [...byInterface].filter(
        ([ifname, addresses]) => ifname !== 'lo' && (!addresses.some((a) => a.scope === 'link') || addresses.some((a) => a.isTentative)),
      );
      note(pending);
      return pending.length === 0;
    },
    { timeoutMs, what: `DAD to finish on every interface in ${ns}` },
  );
}
