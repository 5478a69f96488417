import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { findLabObstacle } from '../test/lab/lab-guard.js';
import { killPid, type Lab } from '../test/lab/netns.js';
import { addRoute, waitForPing } from '../test/lab/probes.js';
import { startFirewallLab } from '../test/lab/firewall-lab.js';
import { addInstances, INSTANCE, ROUTED, routedState, TARGET } from '../test/lab/routed-lab.js';
import { IF, NS } from '../test/lab/topology.js';
import { labDesiredState, pushAndApply, pushDesired, waitForMessage } from '../test/lab/vr-lab.js';

/**
 * `make bench-routed`: what routing a prefix to an instance costs, on a real
 * kernel with the bundled agent, in the lab's namespaces (root). Prints the
 * figures and never asserts them; the last line is the summary:
 * `routed: move N ms, lost N of N pings, 1000 prefixes full apply N ms, one move among 1000 N ms`.
 * A move runs from the push (the simulator's SIGHUP) to the route via the
 * new next hop in the VR's kernel; a full apply from the push to `applied`.
 */

const PINGS = 400;

async function routeGateway(lab: Lab): Promise<string | undefined> {
  const listed = JSON.parse((await lab.exec(NS.vr, ['ip', '-6', '-j', 'route', 'show', ROUTED])).stdout) as { gateway?: string }[];
  return listed[0]?.gateway;
}

/** A table of the VR's no route of the lab's is in: a route put there shows the monitor is listening. */
const PROBE_TABLE = '4242';

/** `ip -6 monitor route` in the VR's namespace: `next` resolves with the time of the next line that matches. */
async function watchRoutes(lab: Lab): Promise<{ pid: number; next: (match: (line: string) => boolean, what: string, timeoutMs?: number) => Promise<number> }> {
  const child = spawn('ip', ['netns', 'exec', lab.namespace(NS.vr), 'ip', '-6', 'monitor', 'route'], { stdio: ['ignore', 'pipe', 'ignore'] });
  await new Promise<void>((resolve, reject) => void child.once('spawn', resolve).once('error', reject));
  const waiters = new Set<{ match: (line: string) => boolean; resolve: (at: number) => void }>();
  createInterface({ input: child.stdout! }).on('line', (line) => {
    const at = Date.now();
    for (const waiter of waiters) if (waiter.match(line)) waiters.delete(waiter), waiter.resolve(at);
  });
  const next = (match: (line: string) => boolean, what: string, timeoutMs = 15_000) =>
    new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => (waiters.delete(waiter), reject(new Error(`ip monitor route printed no ${what} within ${timeoutMs} ms`))), timeoutMs);
      const waiter = { match, resolve: (at: number) => (clearTimeout(timer), resolve(at)) };
      waiters.add(waiter);
    });
  return { pid: child.pid!, next };
}

/**
 * Pushes `spec` and returns the ms until the kernel routes the /56 via
 * `nextHop`, and the generation pushed. The route is watched with `ip -6
 * monitor route` in the VR's namespace, listening (a probe route in a table
 * of its own came through) before the push: it prints the replace as the
 * kernel makes it, where polling `ip route show` (a process per look) or
 * waiting for the simulator's `pushed` first (its log is read every 50 ms)
 * would add tens of ms of the bench's own to a move of a few.
 */
async function measureMove(lab: Lab, vrLab: Parameters<typeof pushDesired>[0], spec: unknown, nextHop: string): Promise<{ ms: number; generation: number; pushedAt: number }> {
  const monitor = await watchRoutes(lab);
  try {
    // ip binds its netlink socket some time after it started: the probe goes in and out until a line comes.
    const probe = ['2001:db8:ffff::/64', 'dev', 'lo', 'table', PROBE_TABLE];
    for (let attempt = 1; ; attempt++) {
      const listening = monitor.next((line) => line.includes(`table ${PROBE_TABLE}`), 'probe route', 200);
      await lab.exec(NS.vr, ['ip', '-6', 'route', 'replace', ...probe]);
      const isListening = await listening.then(() => true, (error: unknown) => (attempt < 25 ? false : Promise.reject(error)));
      await lab.exec(NS.vr, ['ip', '-6', 'route', 'del', ...probe]);
      if (isListening) break;
    }
    const moved = monitor.next((line) => line.startsWith(`${ROUTED} via ${nextHop} `), `route via ${nextHop}`);
    const { pushedAt, generation } = await pushDesired(vrLab, spec);
    const seenAt = await moved;
    if ((await routeGateway(lab)) !== nextHop) throw new Error(`the monitor saw the route via ${nextHop}, but the kernel does not route so`);
    return { ms: seenAt - pushedAt, generation, pushedAt };
  } finally {
    await killPid(monitor.pid);
  }
}

type LogLine = { time?: string; msg?: string; generation?: number; steps?: number; parseMs?: number; validateMs?: number; persistMs?: number; timings?: { renderMs: number; gateMs: number | null; passes: { observeMs: number; planMs: number; applyMs: number }[] } };

/**
 * Where a push of `generation` (at `pushedAt`, epoch ms) spent its time, from the
 * agent's debug log: the simulator and the websocket until the frame was parsed
 * (the log's clock, to the ms), the frame's parse, the schema, then the reconcile's render and its first pass (observe,
 * plan, apply), the one that replaces the route; the state is persisted beside the render, observation and plan, and the
 * apply waits for what is left of it.
 */
function describeAgentPath(logPath: string, generation: number, pushedAt: number): string {
  const lines = readFileSync(logPath, 'utf8').split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as LogLine);
  const accepted = lines.findIndex((line) => line.msg === 'desired state accepted' && line.generation === generation);
  const frame = lines.slice(0, accepted).reverse().find((line) => line.msg === 'frame parsed');
  // The reconcile that made the change: one in flight at the push (a resync) may end first.
  const reconciled = lines.slice(accepted).find((line) => line.msg === 'reconciled' && (line.steps ?? 0) > 0);
  const first = reconciled?.timings?.passes[0];
  if (accepted < 0 || frame === undefined || first === undefined) return `no timings for generation ${generation} in ${logPath}`;
  const { validateMs, persistMs } = lines[accepted]!;
  const delivery = Date.parse(frame.time!) - pushedAt - frame.parseMs!;
  const { renderMs, gateMs } = reconciled!.timings!;
  return `push to frame ${delivery.toFixed(0)} ms, parse ${frame.parseMs} ms, validate ${validateMs} ms, render ${renderMs} ms, observe ${first.observeMs} ms, plan ${first.planMs} ms, wait for the persist ${gateMs} ms (persist ${persistMs} ms beside), apply ${first.applyMs} ms`;
}

async function main(): Promise<void> {
  const obstacle = findLabObstacle(['ip', 'nft', 'radvd', 'ping']);
  if (obstacle !== undefined) throw new Error(`bench-routed needs the lab: ${obstacle}`);
  const fw = await startFirewallLab(labDesiredState(), { tiers: 2 });
  try {
    await addInstances(fw);
    await addRoute(fw.lab, NS.upstream, ROUTED, fw.publicAddress, IF.upstream);
    await pushAndApply(fw.vrLab, routedState(INSTANCE.a.address));
    await waitForPing(fw.lab, NS.upstream, TARGET, 10_000);

    const pinging = fw.lab.exec(NS.upstream, ['ping', '-6', '-n', '-q', '-i', '0.01', '-c', String(PINGS), '-W', '1', TARGET], { allowFailure: true, timeoutMs: 60_000 });
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const move = await measureMove(fw.lab, fw.vrLab, routedState(INSTANCE.b.address), INSTANCE.b.address);
    const moveMs = move.ms;
    const [, sent, received] = /(\d+) packets transmitted, (\d+) received/.exec((await pinging).stdout) ?? [];
    const lost = Number(sent) - Number(received);
    console.info(`routed: one prefix A -> B: ${moveMs} ms from the push to the route in the kernel; ${lost} of ${sent} pings at 10 ms lost`);
    console.info(`routed: one prefix A -> B, the agent's part: ${describeAgentPath(fw.vrLab.agent!.logPath, move.generation, move.pushedAt)}`);

    const { generation, pushedAt } = await pushDesired(fw.vrLab, routedState(INSTANCE.b.address, 999));
    const applied = await waitForMessage(fw.vrLab, 'applied', (m) => m.generation === generation, 60_000);
    const fullMs = Date.now() - pushedAt;
    const routes = (await fw.lab.exec(NS.vr, ['ip', '-6', 'route', 'show', 'proto', '118'])).stdout.trim().split('\n').length;
    console.info(`routed: 1000 prefixes from 1: ${fullMs} ms from the push to applied (agent: ${applied.durationMs} ms), ${routes} routes of protocol 118 in the kernel`);

    const among = await measureMove(fw.lab, fw.vrLab, routedState(INSTANCE.a.address, 999), INSTANCE.a.address);
    const amongMs = among.ms;
    await waitForMessage(fw.vrLab, 'applied', (m) => m.generation === among.generation, 15_000);
    console.info(`routed: one move among 1000: ${amongMs} ms from the push to the route in the kernel`);
    console.info(`routed: one move among 1000, the agent's part: ${describeAgentPath(fw.vrLab.agent!.logPath, among.generation, among.pushedAt)}`);
    console.info(`routed: move ${moveMs} ms, lost ${lost} of ${sent} pings, 1000 prefixes full apply ${fullMs} ms, one move among 1000 ${amongMs} ms`);
  } finally {
    await fw.lab.cleanup();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
