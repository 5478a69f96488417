import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Lab, runCommand, waitFor, type LabProcess } from './netns.js';
import { agentArgv, agentNode, bundlePath, waitForSimEvent, type SimulatorRun } from './vr-lab.js';

/**
 * A redundant pair in namespaces: two VRs whose public and guest links are
 * ports of two bridges in a switch namespace, a direct sync link between
 * them, the upstream on the public bridge and one guest on the guest bridge.
 * Each VR runs the bundled agent from a persisted desired state (no
 * management server), which runs keepalived and radvd.
 */

/** The VRs of the pair, by short namespace name. */
export const VRS = ['vr1', 'vr2'] as const;
export type VrName = (typeof VRS)[number];

export const PAIR_NS = { switch: 'sw', upstream: 'up', guest: 'g' } as const;
export const PAIR_IF = { public: 'eth1', guest: 'eth2', sync: 'eth4', vmacGuest: 'vr6-eth2', guestNic: 'eth0' } as const;
export const PAIR_GUEST_PREFIX = '2001:db8:200:1::/64';
export const PAIR_GATEWAY = '2001:db8:200:1::1';
export const PAIR_LINK_LOCAL = 'fe80::1';
export const PAIR_PUBLIC_VIP = '2001:db8:100::100';
export const PAIR_UPSTREAM = '2001:db8:100::1';
/** A host behind the upstream, on its loopback: what the guest pings. */
export const PAIR_INTERNET_HOST = '2001:db8:ffff::1';
export const PAIR_VRRP_ID = 51;
/** Each VR's own public address, from which it peers with the upstream. */
export const PAIR_PUBLIC_ADDRESS: Record<'vr1' | 'vr2', string> = { vr1: '2001:db8:100::11', vr2: '2001:db8:100::12' };

// make, vitest and the bench all run from the repository's root (a bench bundle has no import.meta).
const ROOT = process.cwd();
const PRIORITY: Record<VrName, number> = { vr1: 200, vr2: 100 };
const SYNC_ADDRESS: Record<VrName, string> = { vr1: 'fd00:5::1', vr2: 'fd00:5::2' };
/** The switch's port facing each VR's guest link: a capture there tells which VR sent a frame. */
export const GUEST_PORT: Record<VrName, string> = { vr1: 'g-vr1', vr2: 'g-vr2' };
const PUBLIC_PORT: Record<VrName, string> = { vr1: 'p-vr1', vr2: 'p-vr2' };

/** The running pair. */
export interface PairLab {
  readonly lab: Lab;
  readonly agents: Record<VrName, LabProcess | null>;
  readonly agentDir: Record<VrName, string>;
  /** With `withSimulators`: each VR's own management simulator, on its loopback, to push new states with (vr-lab's pushDesired). */
  readonly simulators: Record<VrName, SimulatorRun> | null;
}

/** How the pair is built: VRRP's interval, state sync, where the agents' states come from, and a section of each VR's state. */
export interface PairLabOptions {
  readonly intervalCs?: number;
  readonly stateSync?: boolean;
  /** A simulator per VR: the agents start from the persisted state and take what the simulator pushes later (generation 2 on). */
  readonly withSimulators?: boolean;
  /** The agents' RFC 9096 window (default the agent's 2 h). */
  readonly deprecationWindowSeconds?: number;
  /** Each VR runs `source: cloudstack` from these merged databags (by name), with the sync link in its agent.json. */
  readonly databags?: (vr: VrName) => Record<string, unknown>;
  /** Each VR's `routing` section; without it, static routing and the upstream's static route to the guest prefix. */
  readonly routing?: (vr: VrName) => Record<string, any>;
  /** false: no guest network at all (a VPC pair before its first tier). */
  readonly hasGuestNetwork?: boolean;
  /** The guest network's routed prefixes (schemaVersion 2). */
  readonly routedPrefixes?: readonly { readonly prefix: string; readonly nextHop: string }[];
}

const SIM_PORT = 7443;

/** The pair's guest network, the same on both VRs. */
function pairGuestNetwork(options: PairLabOptions): Record<string, any> {
  return {
    id: 'net-1',
    interface: PAIR_IF.guest,
    prefix: PAIR_GUEST_PREFIX,
    ra: { minIntervalSeconds: 3, maxIntervalSeconds: 4, routerLifetimeSeconds: 12 },
    // Echo requests in, to the guest and its routed prefixes.
    firewall: { defaultEgress: 'allow', ingress: options.routedPrefixes ? [{ protocol: 'icmpv6', icmp: { type: 128 } }] : [], egress: [] },
    ...(options.routedPrefixes ? { routedPrefixes: options.routedPrefixes } : {}),
  };
}

/** The desired state of one VR of the pair; the two differ in priority and the sync addresses. */
export function pairDesiredState(vr: VrName, options: PairLabOptions = {}): Record<string, any> {
  const other: VrName = vr === 'vr1' ? 'vr2' : 'vr1';
  return {
    ...(options.routing ? { routing: options.routing(vr) } : {}),
    schemaVersion: options.routedPrefixes ? 2 : 1,
    router: { id: `r-pair-${vr}`, kind: 'isolated' },
    public: { interface: PAIR_IF.public, mode: 'static', address: `${PAIR_PUBLIC_ADDRESS[vr]}/64`, gateway: PAIR_UPSTREAM, expectedPrefix: '2001:db8:100::/64' },
    guestNetworks: options.hasGuestNetwork === false ? [] : [pairGuestNetwork(options)],
    redundancy: {
      vrrpId: PAIR_VRRP_ID,
      priority: PRIORITY[vr],
      advertisementIntervalCentiseconds: options.intervalCs ?? 10,
      peer: { interface: PAIR_IF.sync, localAddress: `${SYNC_ADDRESS[vr]}/64`, address: SYNC_ADDRESS[other] },
      publicAddress: `${PAIR_PUBLIC_VIP}/64`,
      stateSync: options.stateSync ?? false,
    },
  };
}

/** Builds the namespaces and links, and writes each agent's config and persisted state; starts nothing. */
export async function createPairLab(options: PairLabOptions = {}): Promise<PairLab> {
  const lab = await Lab.create();
  try {
    for (const ns of [PAIR_NS.switch, PAIR_NS.upstream, PAIR_NS.guest, ...VRS]) await lab.addNamespace(ns);
    for (const bridge of ['brp', 'brg']) {
      await lab.exec(PAIR_NS.switch, ['ip', 'link', 'add', 'name', bridge, 'type', 'bridge', 'stp_state', '0', 'forward_delay', '0', 'mcast_snooping', '0']);
      await lab.setLinkUp(PAIR_NS.switch, bridge);
    }
    const port = async (ns: string, ifname: string, portName: string, bridge: string) => {
      await lab.addLink(ns, ifname, PAIR_NS.switch, portName, { up: false });
      await lab.exec(PAIR_NS.switch, ['ip', 'link', 'set', portName, 'master', bridge, 'up']);
    };
    await port(PAIR_NS.upstream, 'up0', 'p-up', 'brp');
    await port(PAIR_NS.guest, PAIR_IF.guestNic, 'g-guest', 'brg');
    for (const vr of VRS) {
      await port(vr, PAIR_IF.public, PUBLIC_PORT[vr], 'brp');
      await port(vr, PAIR_IF.guest, GUEST_PORT[vr], 'brg');
    }
    await lab.addLink('vr1', PAIR_IF.sync, 'vr2', PAIR_IF.sync, { up: false });
    await setUpUpstream(lab, options.routing === undefined);
    await lab.setLinkUp(PAIR_NS.guest, PAIR_IF.guestNic);
    chmodSync(lab.tempDir, 0o711);
    const agentDir = { vr1: join(lab.tempDir, 'vr1'), vr2: join(lab.tempDir, 'vr2') };
    for (const vr of VRS) {
      writeAgentFiles(lab, vr, agentDir[vr], pairDesiredState(vr, options), options);
      if (options.databags) writeDatabagSource(agentDir[vr], vr, options.databags(vr));
    }
    const simulators = options.withSimulators ? { vr1: await startSimulator(lab, 'vr1'), vr2: await startSimulator(lab, 'vr2') } : null;
    return { lab, agents: { vr1: null, vr2: null }, agentDir, simulators };
  } catch (error) {
    await lab.cleanup();
    throw error;
  }
}

async function setUpUpstream(lab: Lab, isGuestRouteStatic: boolean): Promise<void> {
  const up = PAIR_NS.upstream;
  await lab.sysctl(up, 'net.ipv6.conf.all.forwarding', 1);
  await lab.setLinkUp(up, 'up0');
  await lab.exec(up, ['ip', '-6', 'addr', 'add', `${PAIR_UPSTREAM}/64`, 'dev', 'up0', 'nodad']);
  await lab.exec(up, ['ip', '-6', 'addr', 'add', `${PAIR_INTERNET_HOST}/128`, 'dev', 'lo']);
  // The upstream routes the guest prefix to the pair's shared address, as a zone's router would; with BGP it learns it.
  if (isGuestRouteStatic) await lab.exec(up, ['ip', '-6', 'route', 'add', PAIR_GUEST_PREFIX, 'via', PAIR_PUBLIC_VIP, 'dev', 'up0']);
}

// Held until the first push, which is generation 2: the agent already holds the persisted generation 1.
async function startSimulator(lab: Lab, vr: VrName): Promise<SimulatorRun> {
  const desiredPath = join(lab.tempDir, `${vr}-sim-desired.json`);
  writeFileSync(desiredPath, '{}\n');
  const simLog = join(lab.tempDir, `${vr}-sim.log`);
  const argv = [process.execPath, bundlePath('vr6-sim'), '--listen', `[::1]:${SIM_PORT}`, '--desired', desiredPath, '--hold', '--generation', '2'];
  const run: SimulatorRun = { sim: await lab.spawn(vr, argv, { logPath: simLog }), simLog, desiredPath };
  await waitForSimEvent(run, (e) => e.event === 'listening', `${vr}'s simulator to listen`, 5000);
  return run;
}

function writeAgentFiles(lab: Lab, vr: VrName, dir: string, spec: unknown, options: PairLabOptions): void {
  mkdirSync(join(dir, 'state'), { recursive: true, mode: 0o711 });
  writeFileSync(join(dir, 'state/desired.json'), `${JSON.stringify({ generation: 1, spec })}\n`, { mode: 0o600 });
  const config = {
    ...(options.deprecationWindowSeconds === undefined ? {} : { deprecationWindowSeconds: options.deprecationWindowSeconds }),
    ...(options.withSimulators ? { management: { urls: [`ws://[::1]:${SIM_PORT}`], heartbeatSeconds: 5, backoffInitialSeconds: 0.2, backoffMaxSeconds: 2 } } : {}),
    paths: {
      stateDir: join(dir, 'state'),
      runtimeDir: join(dir, 'run'),
      interfacesFile: join(dir, 'state/interfaces.d-vr6-agent'),
      radvdConfig: join(dir, 'run/radvd.conf'),
      radvdPidFile: join(dir, 'run/radvd.pid'),
      frrRunDir: join(dir, 'frr'),
    },
    commands: { nftGenid: join(ROOT, 'dist/vr6-nft-genid'), routeGenid: join(ROOT, 'dist/vr6-route-genid') },
    bootParameters: { isEnabled: false },
    resyncSeconds: 5,
    logLevel: 'debug',
  };
  writeFileSync(join(dir, 'agent.json'), JSON.stringify(config, null, 2));
  const files = ['run/radvd.pid', 'run/keepalived.pid', 'run/keepalived-vrrp.pid', 'run/conntrackd.pid', 'frr/zebra.pid', 'frr/bgpd.pid', 'frr/bfdd.pid'];
  for (const file of files) lab.trackPidFile(vr, join(dir, file));
}

// source cloudstack: the databags instead of the persisted state, and the sync link CloudStack does not send.
function writeDatabagSource(dir: string, vr: VrName, databags: Record<string, unknown>): void {
  const other: VrName = vr === 'vr1' ? 'vr2' : 'vr1';
  mkdirSync(join(dir, 'cloudstack'), { recursive: true });
  for (const [name, bag] of Object.entries(databags)) writeFileSync(join(dir, 'cloudstack', `${name}.json`), JSON.stringify(bag, null, 2));
  rmSync(join(dir, 'state/desired.json'));
  const configPath = join(dir, 'agent.json');
  const config = JSON.parse(readFileSync(configPath, 'utf8')) as Record<string, unknown>;
  config.source = 'cloudstack';
  config.cloudstack = {
    databagDir: join(dir, 'cloudstack'),
    reportFile: join(dir, 'run/cloudstack-report.json'),
    settleMs: 100,
    pair: { peer: { interface: PAIR_IF.sync, localAddress: `${SYNC_ADDRESS[vr]}/64`, address: SYNC_ADDRESS[other] } },
  };
  writeFileSync(configPath, JSON.stringify(config, null, 2));
}

/** Starts one VR's agent. */
export async function startPairAgent(pair: PairLab, vr: VrName): Promise<LabProcess> {
  const logPath = join(pair.lab.tempDir, `${vr}-agent-${Date.now()}.log`);
  const agent = await pair.lab.spawn(vr, agentArgv(join(pair.agentDir[vr], 'agent.json')), { logPath });
  pair.agents[vr] = agent;
  return agent;
}

/** Starts both agents, vr1 first, and waits until vr1 (the higher priority) alone is primary. */
export async function startPairAgents(pair: PairLab, timeoutMs: number): Promise<void> {
  await startPairAgent(pair, 'vr1');
  await startPairAgent(pair, 'vr2');
  await waitForPrimary(pair, 'vr1', timeoutMs);
}

/** The commands a pair lab runs. */
export const PAIR_LAB_COMMANDS = ['ip', 'nft', 'radvd', 'ping', 'keepalived', 'python3'];

/** Whether a VR holds the pair's public address on its virtual-MAC interface, which only the primary does. */
export async function holdsPublicAddress(pair: PairLab, vr: VrName): Promise<boolean> {
  const { stdout } = await pair.lab.exec(vr, ['ip', '-6', '-j', 'addr', 'show', 'dev', `vr6-${PAIR_IF.public}`], { allowFailure: true });
  return stdout.includes(`"${PAIR_PUBLIC_VIP}"`);
}

/** Whether a VR holds the guest network's shared link-local address, which only the primary does. */
export async function holdsGateway(pair: PairLab, vr: VrName): Promise<boolean> {
  const { stdout } = await pair.lab.exec(vr, ['ip', '-6', '-j', 'addr', 'show', 'dev', PAIR_IF.vmacGuest], { allowFailure: true });
  return stdout.includes(`"${PAIR_LINK_LOCAL}"`);
}

/** Waits until `vr` alone holds the gateway. */
export async function waitForPrimary(pair: PairLab, vr: VrName, timeoutMs: number): Promise<void> {
  const other: VrName = vr === 'vr1' ? 'vr2' : 'vr1';
  await waitFor(async () => (await holdsGateway(pair, vr)) && !(await holdsGateway(pair, other)), { timeoutMs, what: `${vr} to be the only primary`, intervalMs: 20 });
}

/** SIGKILLs every process in a VR's namespace, by PID (the agent, keepalived, radvd), and waits until they are gone. */
export async function killEverythingIn(pair: PairLab, vr: VrName): Promise<number[]> {
  const { stdout } = await runCommand(['ip', 'netns', 'pids', pair.lab.namespace(vr)]);
  const pids = stdout.split(/\s+/).filter((word) => /^\d+$/.test(word)).map(Number);
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  await waitFor(async () => (await runCommand(['ip', 'netns', 'pids', pair.lab.namespace(vr)])).stdout.trim() === '' || undefined, {
    timeoutMs: 5000,
    what: `every process in ${vr} to die`,
  });
  pair.agents[vr] = null;
  return pids;
}

/** Takes a VR's guest link down or up at the switch, as a cut cable would. */
export async function setGuestPort(pair: PairLab, vr: VrName, isUp: boolean): Promise<void> {
  await pair.lab.exec(PAIR_NS.switch, ['ip', 'link', 'set', GUEST_PORT[vr], isUp ? 'up' : 'down']);
}

/** Takes a VR's public link down or up at the switch: the VR loses its carrier, the upstream sees nothing go. */
export async function setPublicPort(pair: PairLab, vr: VrName, isUp: boolean): Promise<void> {
  await pair.lab.exec(PAIR_NS.switch, ['ip', 'link', 'set', PUBLIC_PORT[vr], isUp ? 'up' : 'down']);
}

/** The guest's default route and its router's neighbour entry, as text to compare. */
export async function readGuestRouter(pair: PairLab): Promise<{ gateway: string | null; mac: string | null }> {
  const route = JSON.parse((await pair.lab.exec(PAIR_NS.guest, ['ip', '-6', '-j', 'route', 'show', 'default'])).stdout || '[]') as { gateway?: string }[];
  const gateway = route[0]?.gateway ?? null;
  if (gateway === null) return { gateway, mac: null };
  const neigh = JSON.parse((await pair.lab.exec(PAIR_NS.guest, ['ip', '-6', '-j', 'neigh', 'show', gateway, 'dev', PAIR_IF.guestNic])).stdout || '[]') as { lladdr?: string }[];
  return { gateway, mac: neigh[0]?.lladdr ?? null };
}

/** One RA as it crossed a VR's switch port. */
export interface PortRa {
  readonly atMs: number;
  readonly from: string;
  readonly mac: string;
  readonly routerLifetime: number;
}

/** Captures the RAs each VR sends into the guest bridge, at its switch port. */
export async function startRaCapture(pair: PairLab): Promise<() => Record<VrName, PortRa[]>> {
  const script = join(ROOT, 'test/lab/ra-port-listener.py');
  const logs: Record<VrName, string> = { vr1: '', vr2: '' };
  for (const vr of VRS) {
    logs[vr] = join(pair.lab.tempDir, `ra-${vr}.log`);
    await pair.lab.spawn(PAIR_NS.switch, ['python3', script, GUEST_PORT[vr]], { logPath: logs[vr] });
  }
  const read = (vr: VrName) => (existsSync(logs[vr]) ? readFileSync(logs[vr], 'utf8').split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l)) : []);
  await waitFor(async () => VRS.every((vr) => read(vr).some((l) => l.listening === true)) || undefined, { timeoutMs: 5000, what: 'the RA captures to start' });
  return () => ({ vr1: read('vr1').filter((l) => 'atMs' in l), vr2: read('vr2').filter((l) => 'atMs' in l) });
}

/**
 * The longest silence between two arrivals (ascending times) that falls into
 * [fromMs, toMs], counted from the last arrival before fromMs, so that a
 * failure just after a reply is measured whole.
 */
function longestSilenceMs(arrivals: readonly number[], fromMs: number, toMs: number): number {
  const before = arrivals.filter((t) => t <= fromMs).at(-1) ?? fromMs;
  const times = [before, ...arrivals.filter((t) => t > fromMs && t <= toMs)];
  return Math.round(Math.max(...times.slice(1).map((t, i) => t - times[i]!), 0));
}

/** A ping every 10 ms: the longest silence between replies in a window, and the replies since a time. */
export interface LabPing {
  longestGapMs(fromMs: number, toMs: number): number;
  repliesAfter(ms: number): number;
}

/** A guest pinging the internet host every 10 ms. */
export async function startGuestPing(pair: PairLab): Promise<LabPing> {
  return startPing(pair, PAIR_NS.guest, PAIR_INTERNET_HOST);
}

/** Pings `target` from namespace `ns` every 10 ms. */
export async function startPing(pair: PairLab, ns: string, target: string): Promise<LabPing> {
  const logPath = join(pair.lab.tempDir, `ping-${ns}-${Date.now()}.log`);
  await pair.lab.spawn(ns, ['ping', '-6', '-D', '-n', '-i', '0.01', target], { logPath });
  const replies = () =>
    readFileSync(logPath, 'utf8')
      .split('\n')
      .map((line) => /^\[(\d+\.\d+)\].*icmp_seq=/.exec(line))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => Number(m[1]) * 1000);
  return {
    longestGapMs: (fromMs, toMs) => longestSilenceMs(replies(), fromMs, toMs),
    repliesAfter: (ms) => replies().filter((t) => t > ms).length,
  };
}

/** `vr6ctl status --json` of one VR's agent. */
export async function readPairStatus(pair: PairLab, vr: VrName): Promise<Record<string, any>> {
  const socket = join(pair.agentDir[vr], 'run/control.sock');
  const { stdout } = await runCommand([agentNode(), join(ROOT, 'dist/vr6ctl.js'), '--socket', socket, '--json', 'status'], { allowFailure: true });
  return JSON.parse(stdout || '{}') as Record<string, any>;
}

/** SIGKILLs one VR's keepalived processes, parent and VRRP child, by the PIDs in its pid files; returns them. */
export async function killKeepalived(pair: PairLab, vr: VrName): Promise<number[]> {
  const pids = ['run/keepalived.pid', 'run/keepalived-vrrp.pid'].map((file) => Number(readFileSync(join(pair.agentDir[vr], file), 'utf8').trim()));
  for (const pid of pids) process.kill(pid, 'SIGKILL');
  return pids;
}

/** Drops (or stops dropping) VRRP on a VR's input, as a filter between the pair would: both become primary. */
export async function setVrrpBlocked(pair: PairLab, vr: VrName, isBlocked: boolean): Promise<void> {
  if (isBlocked) {
    await pair.lab.exec(vr, ['nft', 'add table ip6 lab_block; add chain ip6 lab_block input { type filter hook input priority -10; }; add rule ip6 lab_block input meta l4proto 112 drop']);
  } else {
    await pair.lab.exec(vr, ['nft', 'delete table ip6 lab_block']);
  }
}

/** A TCP stream from the internet host to the guest through the pair: the guest's arrival times of its lines. */
export async function startTcpPush(pair: PairLab, port = 5000): Promise<{ linesAfter(ms: number): number; longestGapMs(fromMs: number, toMs: number): number }> {
  const script = join(ROOT, 'test/lab/tcp-push.py');
  const serverLog = join(pair.lab.tempDir, `tcp-server-${port}.log`);
  const clientLog = join(pair.lab.tempDir, `tcp-client-${port}.log`);
  await pair.lab.spawn(PAIR_NS.upstream, ['python3', script, 'server', PAIR_INTERNET_HOST, String(port)], { logPath: serverLog });
  const lines = (path: string) => (existsSync(path) ? readFileSync(path, 'utf8').split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>) : []);
  await waitFor(async () => lines(serverLog).some((l) => l.listening === true) || undefined, { timeoutMs: 5000, what: 'the TCP server to listen' });
  await pair.lab.spawn(PAIR_NS.guest, ['python3', script, 'client', PAIR_INTERNET_HOST, String(port)], { logPath: clientLog });
  const times = () => lines(clientLog).filter((l) => typeof l.atMs === 'number').map((l) => l.atMs as number);
  await waitFor(async () => times().length > 10 || undefined, { timeoutMs: 10_000, what: 'the TCP stream to flow' });
  return {
    linesAfter: (ms) => times().filter((t) => t > ms).length,
    longestGapMs: (fromMs, toMs) => longestSilenceMs(times(), fromMs, toMs),
  };
}
