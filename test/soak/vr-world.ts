import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCommand } from '../lab/netns.js';
import { GUEST_TIERS, NS } from '../lab/topology.js';
import { agentNode, labDesiredState, type VrLab } from '../lab/vr-lab.js';

/**
 * What the soak campaigns read from the world: seeded random desired states,
 * the agent's files checked as a reader after a crash would see them, the RA
 * daemons in the VR namespace, and whether the host has converged.
 */


const pick = <T>(random: () => number, items: readonly T[]): T => items[Math.floor(random() * items.length)]!;

/**
 * A random desired state on the 3-tier lab: 1–3 tiers, each on a /64 drawn
 * from 2001:db8:200:1..9::/64, 1–6 ACL items with random ports, radvd or frr.
 */
export function randomDesiredState(random: () => number): Record<string, any> {
  const state = labDesiredState();
  const backend = random() < 0.5 ? 'radvd' : 'frr';
  const template = state.guestNetworks[0];
  const tiers = GUEST_TIERS.filter((_, index) => index === 0 || random() < 0.6);
  const subnets = [1, 2, 3, 4, 5, 6, 7, 8, 9].sort(() => random() - 0.5);
  state.raBackend = backend;
  state.guestNetworks = tiers.map((tier, index) => ({
    ...JSON.parse(JSON.stringify(template)),
    id: `tier-${index}`,
    interface: tier.vrInterface,
    prefix: `2001:db8:200:${subnets[index]}::/64`,
    aclId: `acl-${index}`,
  }));
  // FRR cannot send route information options (RFC 4191).
  if (backend === 'frr') for (const network of state.guestNetworks) delete network.ra.routes;
  state.aclLists = tiers.map((_, index) => ({ id: `acl-${index}`, items: randomAclItems(random) }));
  return state;
}

function randomAclItems(random: () => number): Record<string, unknown>[] {
  const count = 1 + Math.floor(random() * 6);
  return Array.from({ length: count }, (_, index) => {
    const start = 1000 + Math.floor(random() * 60000);
    return {
      number: (index + 1) * 10,
      action: pick(random, ['allow', 'deny']),
      direction: pick(random, ['ingress', 'egress']),
      protocol: pick(random, ['tcp', 'udp']),
      ports: { start, end: start + Math.floor(random() * 3) },
    };
  });
}

/** The agent's file paths in the lab (vr-lab.ts labAgentConfig). */
export function agentPaths(vrLab: VrLab) {
  const dir = vrLab.agentDir;
  return {
    stateDir: join(dir, 'state'),
    runtimeDir: join(dir, 'run'),
    frrRunDir: join(dir, 'frr'),
    desired: join(dir, 'state/desired.json'),
    radvdConf: join(dir, 'run/radvd.conf'),
    frrConf: join(dir, 'frr/frr.conf'),
    controlSocket: join(dir, 'run/control.sock'),
  };
}

/** The persisted state's generation; throws when desired.json is there but not a whole state. */
export function readPersistedGeneration(vrLab: VrLab): number | null {
  const path = agentPaths(vrLab).desired;
  if (!existsSync(path)) return null;
  const value = JSON.parse(readFileSync(path, 'utf8')) as { generation?: unknown; spec?: unknown };
  if (typeof value.generation !== 'number' || typeof value.spec !== 'object') throw new Error(`${path} is not a whole persisted state`);
  return value.generation;
}

/**
 * Every file the agent writes, read as the next agent or daemon would:
 * the JSON files parse, radvd.conf passes `radvd -c`, frr.conf passes
 * `vtysh -C`. Returns one problem per broken file.
 */
export async function checkAgentFiles(vrLab: VrLab): Promise<string[]> {
  const paths = agentPaths(vrLab);
  const problems: string[] = [];
  for (const name of ['desired.json', 'owned-addresses.json', 'deprecated-prefixes.json']) {
    const path = join(paths.stateDir, name);
    if (!existsSync(path)) continue;
    try {
      JSON.parse(readFileSync(path, 'utf8'));
    } catch (error) {
      problems.push(`${name}: ${(error as Error).message}`);
    }
  }
  try {
    readPersistedGeneration(vrLab);
  } catch (error) {
    problems.push((error as Error).message);
  }
  if (existsSync(paths.radvdConf)) {
    const result = await vrLab.lab.exec(NS.vr, ['radvd', '-c', '-C', paths.radvdConf, '-m', 'stderr'], { allowFailure: true });
    if (result.exitCode !== 0) problems.push(`radvd.conf: radvd -c: ${result.stderr.trim().slice(0, 300)}`);
  }
  if (existsSync(paths.frrConf)) {
    const checkDir = join(vrLab.lab.tempDir, 'soak-frr-check');
    mkdirSync(checkDir, { recursive: true });
    writeFileSync(join(checkDir, 'vtysh.conf'), '');
    const result = await runCommand(['vtysh', '--config_dir', checkDir, '-C', '-f', paths.frrConf], { allowFailure: true });
    if (result.exitCode !== 0) problems.push(`frr.conf: vtysh -C: ${(result.stdout + result.stderr).trim().slice(0, 300)}`);
  }
  return problems;
}

/** Temp files (`.name.<pid>.tmp`) and check candidates anywhere under the agent's directories. */
export function findLeftoverFiles(vrLab: VrLab): string[] {
  const found: string[] = [];
  const walk = (dir: string): void => {
    if (!existsSync(dir)) return;
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (/\.tmp$/.test(name) || name === 'radvd.conf.check') found.push(path.slice(vrLab.agentDir.length + 1));
    }
  };
  walk(vrLab.agentDir);
  return found;
}

/** How many radvd and zebra processes run in the VR namespace (radvd is two: itself and its privsep child). */
export async function countRaDaemons(vrLab: VrLab): Promise<{ radvd: number; zebra: number }> {
  const found = { radvd: 0, zebra: 0 };
  const { stdout } = await runCommand(['ip', 'netns', 'pids', vrLab.lab.namespace(NS.vr)]);
  for (const pid of stdout.split('\n').filter(Boolean).map(Number)) {
    let argv0 = '';
    try {
      argv0 = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0] ?? '';
    } catch {
      continue;
    }
    if (argv0.endsWith('radvd')) found.radvd++;
    if (argv0.endsWith('zebra')) found.zebra++;
  }
  return found;
}

/** The daemons one healthy backend runs. */
export function expectedRaDaemons(backend: string): { radvd: number; zebra: number } {
  return backend === 'frr' ? { radvd: 0, zebra: 1 } : { radvd: 2, zebra: 0 };
}

function runVr6ctl(vrLab: VrLab, args: string[]) {
  const argv = [agentNode(), join(process.cwd(), 'dist/vr6ctl.js'), '--socket', agentPaths(vrLab).controlSocket, '--timeout', '30', ...args];
  return runCommand(argv, { allowFailure: true, timeoutMs: 40_000 });
}

/** `vr6ctl plan` against the running agent: true when a reconcile would change nothing (exit 0), false on exit 4. */
export async function isPlanEmpty(vrLab: VrLab): Promise<boolean> {
  const result = await runVr6ctl(vrLab, ['plan']);
  if (result.exitCode !== 0 && result.exitCode !== 4) throw new Error(`vr6ctl plan: exit ${result.exitCode}: ${result.stderr.trim()}`);
  return result.exitCode === 0;
}

/** `vr6ctl reconcile`: the generation the agent reconciled and whether that run converged. */
export async function reconcileNow(vrLab: VrLab): Promise<{ generation: number; ok: boolean; text: string }> {
  const result = await runVr6ctl(vrLab, ['--json', 'reconcile']);
  const text = result.stdout.trim();
  const generation = Number(/"generation":\s*(\d+)/.exec(text)?.[1] ?? NaN);
  return { generation, ok: result.exitCode === 0, text };
}

/**
 * Independent of the agent's planner: what a desired state means on the host.
 * Forwarding is on, the forward hook is in place, each tier's gateway is on
 * its link, each ACL port is in the ruleset, the RA config names each prefix
 * and exactly the backend's daemons run. Returns the mismatches.
 */
export async function checkWorldMatches(vrLab: VrLab, spec: Record<string, any>): Promise<string[]> {
  const vr = (argv: string[]) => vrLab.lab.exec(NS.vr, argv, { allowFailure: true });
  const problems: string[] = [];
  const forwarding = (await vr(['cat', '/proc/sys/net/ipv6/conf/all/forwarding'])).stdout.trim();
  if (forwarding !== '1') problems.push(`forwarding is ${forwarding}`);
  const ruleset = (await vr(['nft', 'list', 'table', 'ip6', 'vr6_agent'])).stdout;
  if (!/hook forward/.test(ruleset)) problems.push('no forward hook in table ip6 vr6_agent');
  const addresses = (await vr(['ip', '-6', '-o', 'addr', 'show'])).stdout;
  const paths = agentPaths(vrLab);
  const raConf = spec.raBackend === 'frr' ? paths.frrConf : paths.radvdConf;
  const raText = existsSync(raConf) ? readFileSync(raConf, 'utf8') : '';
  for (const network of spec.guestNetworks) {
    const gateway = String(network.prefix).replace('::/64', '::1');
    if (!new RegExp(`${network.interface}\\s+inet6 ${gateway}/64`).test(addresses)) problems.push(`${gateway} is not on ${network.interface}`);
    if (!raText.includes(network.prefix)) problems.push(`${raConf} does not name ${network.prefix}`);
  }
  for (const list of spec.aclLists) {
    for (const item of list.items.filter((i: any) => i.ports !== undefined)) {
      const { start, end } = item.ports;
      const match = start === end ? `dport ${start}` : `dport ${start}-${end}`;
      if (!ruleset.includes(match)) problems.push(`the ruleset has no ${item.protocol} ${match} (${list.id} #${item.number})`);
    }
  }
  const daemons = await countRaDaemons(vrLab);
  const expected = expectedRaDaemons(spec.raBackend);
  if (daemons.radvd !== expected.radvd || daemons.zebra !== expected.zebra) {
    problems.push(`RA daemons ${JSON.stringify(daemons)}, expected ${JSON.stringify(expected)}`);
  }
  return problems;
}
