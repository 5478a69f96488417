import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { AckMessage, AppliedMessage, HelloMessage, ObservedMessage } from '../../src/schema/protocol.js';
import { waitFor, WaitAbortedError, type Lab, type LabProcess } from './netns.js';
import { createTopology, IF, MGMT, NS, TIER1, TIER2, type Topology, type TopologyOptions } from './topology.js';
import { readShippedNodeFlags } from './shipped-node-flags.js';

/**
 * The whole VR lab: the namespace topology, the management simulator in the
 * mgmt namespace, and the agent in the VR namespace, driven the way an
 * operator would. Shared by `make lab` (test/lab/main.ts) and the lab tests.
 */

// make and vitest both run from the repository's root.
const ROOT = resolve(process.env.VR6_ROOT ?? process.cwd());
const SIM_PORT = 8765;

/** A simulator event as printed on its stdout: `event` names it, agent messages sit in `message`. */
export interface SimEvent {
  readonly event: string;
  readonly message?: unknown;
  readonly [field: string]: unknown;
}

/** The agent messages the simulator prints, by event name. */
interface AgentMessages {
  hello: HelloMessage;
  ack: AckMessage;
  applied: AppliedMessage;
  observed: ObservedMessage;
}

/** A running lab. */
export interface VrLab {
  readonly topology: Topology;
  readonly lab: Lab;
  readonly sim: LabProcess;
  readonly simLog: string;
  readonly desiredPath: string;
  readonly agentDir: string;
  readonly agentConfigPath: string;
  agent: LabProcess | null;
}

/** The node that runs the agent: the VR's Node 18 when installed (devDependency node18), else this one. */
export function agentNode(): string {
  const node18 = join(ROOT, 'node_modules/node18/bin/node');
  return existsSync(node18) ? node18 : process.execPath;
}

/** The command line of the bundled agent with `configPath`, on the agent's Node with the package's Node flags. */
export function agentArgv(configPath: string): string[] {
  return [agentNode(), ...readShippedNodeFlags(join(ROOT, 'debian/bin/vr6-agent')), bundlePath('vr6-agent'), '--config', configPath];
}

/** The bundle for an entry, built on demand. */
export function bundlePath(name: 'vr6-agent' | 'vr6-sim'): string {
  return join(ROOT, 'dist', `${name}.js`);
}

/** The lab's desired state: a VPC with two tiers behind eth2 and eth3. */
export function labDesiredState(): Record<string, any> {
  const ra = {
    minIntervalSeconds: 3,
    maxIntervalSeconds: 10,
    routerLifetimeSeconds: 30,
    // Stated, as the timing is: the lab's RAs keep their values when a default changes (test/lab/ra-bounds.test.ts covers the defaults).
    rdnssLifetimeSeconds: 20,
    dnsslLifetimeSeconds: 20,
    dnsServers: ['2001:db8:100::53'],
    routes: [{ prefix: '2001:db8:ffff::/48', preference: 'high' }],
  };
  return {
    schemaVersion: 1,
    router: { id: 'r-lab-VM', kind: 'vpc' },
    public: { interface: IF.vrPublic, mode: 'slaac', expectedPrefix: '2001:db8:100::/64' },
    guestNetworks: [
      { id: 'tier-web', interface: IF.vrTier1, prefix: TIER1, aclId: 'acl-web', ra },
      { id: 'tier-app', interface: IF.vrTier2, prefix: TIER2, aclId: 'acl-app', ra },
    ],
    aclLists: [
      {
        id: 'acl-web',
        items: [
          { number: 10, action: 'allow', direction: 'ingress', protocol: 'tcp', ports: { start: 8080, end: 8080 } },
          { number: 20, action: 'allow', direction: 'ingress', protocol: 'icmpv6', icmp: { type: 128 } },
        ],
      },
      {
        id: 'acl-app',
        items: [{ number: 10, action: 'allow', direction: 'ingress', protocol: 'icmpv6', icmp: { type: 128 } }],
      },
    ],
  };
}

/** Builds the topology and starts the simulator, holding `spec` until pushDesired. */
export async function startVrLab(spec: unknown, options: TopologyOptions = {}): Promise<VrLab> {
  const topology = await createTopology(options);
  const { lab } = topology;
  try {
    const desiredPath = join(lab.tempDir, 'desired.json');
    writeFileSync(desiredPath, `${JSON.stringify(spec, null, 2)}\n`);
    const simLog = join(lab.tempDir, 'sim.log');
    const sim = await lab.spawn(NS.mgmt, [process.execPath, bundlePath('vr6-sim'), '--listen', `[${MGMT}]:${SIM_PORT}`, '--desired', desiredPath, '--hold'], {
      logPath: simLog,
    });
    const agentDir = join(lab.tempDir, 'agent');
    const agentConfigPath = join(lab.tempDir, 'agent.json');
    const vrLab: VrLab = { topology, lab, sim, simLog, desiredPath, agentDir, agentConfigPath, agent: null };
    await waitForSimEvent(vrLab, (e) => e.event === 'listening', 'the simulator to listen', 5000);
    writeFileSync(agentConfigPath, JSON.stringify(labAgentConfig(agentDir), null, 2));
    // zebra runs as user frr and needs to reach its run directory inside.
    chmodSync(lab.tempDir, 0o711);
    mkdirSync(agentDir, { mode: 0o711 });
    lab.trackPidFile(NS.vr, join(agentDir, 'run/radvd.pid'));
    lab.trackPidFile(NS.vr, join(agentDir, 'frr/zebra.pid'));
    return vrLab;
  } catch (error) {
    await lab.cleanup();
    throw error;
  }
}

/** The agent config the lab runs the agent with: every path under `agentDir`, the simulator as its management server. */
export function labAgentConfig(agentDir: string) {
  return {
    management: { urls: [`ws://[${MGMT}]:${SIM_PORT}`], heartbeatSeconds: 5, backoffInitialSeconds: 0.2, backoffMaxSeconds: 2 },
    paths: {
      stateDir: join(agentDir, 'state'),
      runtimeDir: join(agentDir, 'run'),
      interfacesFile: join(agentDir, 'state/interfaces.d-vr6-agent'),
      radvdConfig: join(agentDir, 'run/radvd.conf'),
      radvdPidFile: join(agentDir, 'run/radvd.pid'),
      frrRunDir: join(agentDir, 'frr'),
    },
    commands: { nftGenid: join(ROOT, 'dist/vr6-nft-genid'), routeGenid: join(ROOT, 'dist/vr6-route-genid') },
    resyncSeconds: 5,
    logLevel: 'debug',
  };
}

/** Starts the agent in the VR namespace. */
export async function startAgent(vrLab: VrLab): Promise<LabProcess> {
  const log = join(vrLab.lab.tempDir, `agent-${Date.now()}.log`);
  vrLab.agent = await vrLab.lab.spawn(NS.vr, agentArgv(vrLab.agentConfigPath), { logPath: log });
  return vrLab.agent;
}

/** Runs vr6ctl (the bundle, on the agent's Node) against the lab agent's control socket; its exit code and stdout. */
export function runVr6ctl(vrLab: Pick<VrLab, 'agentDir'>, args: readonly string[]): { code: number | null; stdout: string } {
  const socket = join(vrLab.agentDir, 'run/control.sock');
  const result = spawnSync(agentNode(), [join(bundlePath('vr6-agent'), '../vr6ctl.js'), '--socket', socket, ...args], { encoding: 'utf8', timeout: 30_000 });
  return { code: result.status, stdout: result.stdout };
}

/** Stops the agent with SIGTERM and waits for it to exit. */
export async function stopAgent(vrLab: VrLab): Promise<void> {
  if (vrLab.agent === null) return;
  await vrLab.lab.stop(vrLab.agent);
  vrLab.agent = null;
}

/**
 * The simulator's side of a lab, which is all the push and wait helpers below
 * use: its process, the file its events go to and the desired state it serves.
 * A VrLab is one; `make test-package` builds one for its own simulator.
 */
export type SimulatorRun = Pick<VrLab, 'sim' | 'simLog' | 'desiredPath'>;

/** Pushes a spec as the next generation (rewrites the file, SIGHUPs the simulator); returns when it was pushed. */
export async function pushDesired(vrLab: SimulatorRun, spec: unknown): Promise<{ generation: number; pushedAt: number }> {
  const before = readSimEvents(vrLab).length;
  writeFileSync(vrLab.desiredPath, `${JSON.stringify(spec, null, 2)}\n`);
  const pushedAt = Date.now();
  process.kill(vrLab.sim.pid, 'SIGHUP');
  const pushed = await waitForSimEvent(vrLab, (e) => e.event === 'pushed', 'the simulator to push', 5000, before);
  return { generation: Number(pushed.generation), pushedAt };
}

/** Pushes `spec` as the next generation and waits until the agent reports it applied without error. */
export async function pushAndApply(vrLab: SimulatorRun, spec: unknown, timeoutMs = 15_000): Promise<number> {
  const from = simEventCount(vrLab);
  const { generation } = await pushDesired(vrLab, spec);
  const applied = await waitForMessage(vrLab, 'applied', (m) => m.generation === generation, timeoutMs, from);
  if (!applied.ok) throw new Error(`generation ${generation} was not applied: ${JSON.stringify(applied)}`);
  return generation;
}

/** Every event the simulator printed so far. */
export function readSimEvents(vrLab: SimulatorRun): SimEvent[] {
  const text = existsSync(vrLab.simLog) ? readFileSync(vrLab.simLog, 'utf8') : '';
  return text
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as SimEvent);
}

/** Waits for a simulator event (at index `from` or later) matching the predicate. */
export async function waitForSimEvent(
  vrLab: SimulatorRun,
  predicate: (event: SimEvent) => boolean,
  what: string,
  timeoutMs: number,
  from = 0,
): Promise<SimEvent> {
  return waitFor(
    async () => {
      if (vrLab.sim.hasExited()) throw new WaitAbortedError(`the simulator exited; see ${vrLab.simLog}`);
      return readSimEvents(vrLab).slice(from).find(predicate);
    },
    { timeoutMs, what, intervalMs: 50 },
  );
}

/** Waits for an agent message of one kind (printed at index `from` or later) that matches the predicate. */
export async function waitForMessage<K extends keyof AgentMessages>(
  vrLab: SimulatorRun,
  kind: K,
  predicate: (message: AgentMessages[K]) => boolean,
  timeoutMs: number,
  from = 0,
): Promise<AgentMessages[K]> {
  const matches = (event: SimEvent) => event.event === kind && predicate(event.message as AgentMessages[K]);
  const event = await waitForSimEvent(vrLab, matches, `the agent to send a matching ${kind}`, timeoutMs, from);
  return event.message as AgentMessages[K];
}

/** The number of simulator events so far: pass it as `from` to wait only for later ones. */
export function simEventCount(vrLab: SimulatorRun): number {
  return readSimEvents(vrLab).length;
}

/**
 * Waits until the agent has finished a whole reconcile that began after
 * `sinceMs` (epoch ms): a run in flight at `sinceMs` does not count, so
 * whatever the host held then has been observed, and put right if need be,
 * when this returns. The runs are read from the agent's `reconciled` log
 * lines, each one's start being its time less its `durationMs`.
 */
export async function waitForReconcileAfter(vrLab: VrLab, sinceMs: number, timeoutMs: number): Promise<void> {
  const agent = vrLab.agent;
  if (agent === null) throw new Error('waitForReconcileAfter: the agent is not running');
  // The log's time is taken a moment after the duration; a run must start clearly after `sinceMs`.
  const MARGIN_MS = 5;
  await waitFor(
    async () => {
      if (agent.hasExited()) throw new WaitAbortedError(`the agent exited; see ${agent.logPath}`);
      return readReconcileStarts(agent.logPath).some((startedAt) => startedAt > sinceMs + MARGIN_MS);
    },
    { timeoutMs, what: `a reconcile begun after ${new Date(sinceMs).toISOString()} to finish` },
  );
}

function readReconcileStarts(logPath: string): number[] {
  return readFileSync(logPath, 'utf8')
    .split('\n')
    .filter((line) => line.startsWith('{') && line.includes('"msg":"reconciled"'))
    .map((line) => JSON.parse(line) as { time: string; durationMs: number })
    .map((entry) => Date.parse(entry.time) - entry.durationMs);
}
