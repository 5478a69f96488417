import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canRunLab } from '../lab/lab-guard.js';
import { isPidAlive, runCommand, waitFor } from '../lab/netns.js';
import { readAddresses } from '../lab/probes.js';
import { IF, NS } from '../lab/topology.js';
import {
  labDesiredState,
  pushDesired,
  readSimEvents,
  simEventCount,
  startAgent,
  startVrLab,
  stopAgent,
  waitForMessage,
  type SimEvent,
  type VrLab,
} from '../lab/vr-lab.js';
import { reportFigures, trialCount } from './campaign.js';
import { agentPaths, checkWorldMatches, countRaDaemons, readPersistedGeneration, reconcileNow } from './vr-world.js';

/**
 * Faults outside the agent (docs/reliability.md §2): each fault is injected
 * into the running lab, and the world must be put back (within one resync or
 * event) and the repair reported upstream, in `applied.repaired`, `observed`, or for the
 * state directory in the ack of the push that could not be persisted.
 */

const TOOLS = ['ip', 'nft', 'radvd', 'vtysh', '/usr/lib/frr/zebra', 'mount'];
const describeLab = canRunLab(TOOLS) ? describe : describe.skip;
// One resync (5 s in the lab) plus a reconcile on a loaded 2-core machine.
const REPAIR_MS = 15_000;
const STATE_DIR_BYTES = 256 * 1024;

/** The lab state with raBackend set and every ACL port moved by `portShift` (a firewall-only change). */
function spec(backend: 'radvd' | 'frr', portShift = 0): Record<string, any> {
  const state = labDesiredState();
  state.raBackend = backend;
  if (backend === 'frr') for (const network of state.guestNetworks) delete network.ra.routes;
  for (const list of state.aclLists) for (const item of list.items) if (item.ports) item.ports = { start: 8080 + portShift, end: 8080 + portShift };
  return state;
}

interface FaultResult { readonly fault: string; readonly isRepaired: boolean; readonly isReported: boolean; readonly detail: string }

describeLab('faults outside the agent', () => {
  let vrLab: VrLab;
  let stateDir = '';
  let isMounted = false;
  let current: { generation: number; spec: Record<string, any> } = { generation: 0, spec: {} };
  const vr = (argv: string[]) => vrLab.lab.exec(NS.vr, argv, { allowFailure: true });
  const pidIn = (file: string) => Number(readFileSync(join(vrLab.agentDir, file), 'utf8').trim());

  async function apply(state: Record<string, any>) {
    const from = simEventCount(vrLab);
    const { generation } = await pushDesired(vrLab, state);
    await waitForMessage(vrLab, 'applied', (m) => m.generation === generation && m.ok, 60_000, from).catch((error: Error) => {
      const seen = readSimEvents(vrLab).slice(from).filter((e) => e.event === 'ack' || e.event === 'applied');
      throw new Error(`${error.message}; since the push: ${JSON.stringify(seen).slice(0, 1500)}`);
    });
    current = { generation, spec: state };
  }

  /** Waits for the world to be whole again and for a report; both are figures, a timeout is a "no". */
  async function settle(fault: string, from: number, isWhole: () => Promise<boolean>, isReport: (e: SimEvent) => boolean): Promise<FaultResult> {
    const isRepaired = await waitFor(async () => (await isWhole()) || undefined, { timeoutMs: REPAIR_MS, what: `${fault} repaired` }).then(() => true, () => false);
    const report = await waitFor(async () => readSimEvents(vrLab).slice(from).find(isReport), { timeoutMs: REPAIR_MS, what: `${fault} reported` }).catch(() => undefined);
    const problems = isRepaired ? await checkWorldMatches(vrLab, current.spec) : ['not repaired'];
    return { fault, isRepaired: isRepaired && problems.length === 0, isReported: report !== undefined, detail: problems.join('; ') };
  }

  const repairedSays = (pattern: RegExp) => (e: SimEvent) => e.event === 'applied' && (e.message as any).repaired.some((r: string) => pattern.test(r));

  /** Every fault but the state directory's; each injects, then settles. */
  const hostFaults: [string, (from: number) => Promise<FaultResult>][] = [
    ['nft table deleted', async (from) => {
      await vr(['nft', 'delete', 'table', 'ip6', 'vr6_agent']);
      return settle('nft table deleted', from, async () => (await vr(['nft', 'list', 'chain', 'ip6', 'vr6_agent', 'forward'])).stdout.includes('hook forward'), repairedSays(/^table was deleted$/));
    }],
    ['chain edited', async (from) => {
      await vr(['nft', 'insert rule ip6 vr6_agent forward meta l4proto tcp accept comment "soak-fault"']);
      const isWhole = async () => !(await vr(['nft', 'list', 'chain', 'ip6', 'vr6_agent', 'forward'])).stdout.includes('soak-fault');
      return settle('chain edited', from, isWhole, repairedSays(/^chain forward was changed$/));
    }],
    ['sysctl flipped', async (from) => {
      await vr(['sysctl', '-qw', 'net.ipv6.conf.all.forwarding=0']);
      const isWhole = async () => (await vr(['cat', '/proc/sys/net/ipv6/conf/all/forwarding'])).stdout.trim() === '1';
      return settle('sysctl flipped', from, isWhole, repairedSays(/^sysctl net\/ipv6\/conf\/all\/forwarding was 0$/));
    }],
    ['radvd killed', async (from) => {
      const pid = pidIn('run/radvd.pid');
      process.kill(pid, 'SIGKILL');
      const isWhole = async () => existsSync(agentPaths(vrLab).radvdConf) && pidIn('run/radvd.pid') !== pid && isPidAlive(pidIn('run/radvd.pid'));
      return settle('radvd killed', from, isWhole, repairedSays(/^radvd was not running$/));
    }],
    ['guest gateway removed', async (from) => {
      await vr(['ip', '-6', 'addr', 'del', '2001:db8:200:1::1/64', 'dev', IF.vrTier1]);
      const isWhole = async () => (await readAddresses(vrLab.lab, NS.vr, IF.vrTier1)).some((a) => a.address === '2001:db8:200:1::1');
      return settle('guest gateway removed', from, isWhole, repairedSays(/^address 2001:db8:200:1::1\/64 was missing on eth2$/));
    }],
    ['public interface down and up', async (from) => {
      const before = (await readAddresses(vrLab.lab, NS.vr, IF.vrPublic)).find((a) => a.scope === 'global')?.address;
      await vr(['ip', 'link', 'set', IF.vrPublic, 'down']);
      // Up again once the agent has seen it down: it reports the lost address, or brings the link up itself.
      const isNoticed = (e: SimEvent) => (e.event === 'observed' && (e.message as any).publicAddress == null) || repairedSays(/^link eth1 was down$/)(e);
      await waitFor(async () => readSimEvents(vrLab).slice(from).some(isNoticed), { timeoutMs: REPAIR_MS, what: 'the agent to notice eth1 down' }).catch(() => undefined);
      await vr(['ip', 'link', 'set', IF.vrPublic, 'up']);
      const isWhole = async () => (await readAddresses(vrLab.lab, NS.vr, IF.vrPublic)).some((a) => a.address === before && !a.isTentative);
      const result = await settle('public interface down and up', from, isWhole, (e) => e.event === 'observed' && (e.message as any).publicAddress?.address === before);
      return { ...result, isReported: result.isReported && readSimEvents(vrLab).slice(from).some(isNoticed) };
    }],
    ['zebra killed', async (from) => {
      const pid = pidIn('frr/zebra.pid');
      process.kill(pid, 'SIGKILL');
      const isWhole = async () => pidIn('frr/zebra.pid') !== pid && (await countRaDaemons(vrLab)).zebra === 1;
      return settle('zebra killed', from, isWhole, repairedSays(/^zebra was not running$/));
    }],
  ];

  /**
   * A push the agent cannot persist: rejected with an ack naming `cause`, the
   * persisted file byte for byte as before, the previous state still applied
   * (a reconcile now reports its generation, converged); `heal` undoes the
   * fault and the same push is then accepted.
   */
  async function stateDirFault(fault: string, inject: () => Promise<void>, heal: () => Promise<void>, cause: RegExp): Promise<FaultResult> {
    const persistedBefore = readFileSync(agentPaths(vrLab).desired, 'utf8');
    const previous = current;
    const next = spec(previous.spec.raBackend, previous.generation + 1);
    const problems: string[] = [];
    await inject();
    try {
      const from = simEventCount(vrLab);
      const { generation } = await pushDesired(vrLab, next);
      const ack = await waitForMessage(vrLab, 'ack', (m) => m.generation === generation, 20_000, from);
      if (ack.status !== 'rejected' || !ack.errors.some((e) => cause.test(e.message))) problems.push(`ack ${JSON.stringify(ack)}`);
      if (readFileSync(agentPaths(vrLab).desired, 'utf8') !== persistedBefore) problems.push('desired.json changed');
      const reconciled = await reconcileNow(vrLab);
      if (reconciled.generation !== previous.generation || !reconciled.ok) problems.push(`reconcile now: ${reconciled.text.slice(0, 300)}`);
      problems.push(...(await checkWorldMatches(vrLab, previous.spec)));
      // A restart while the fault lasts must come back with the last good state.
      await stopAgent(vrLab);
      const restartFrom = simEventCount(vrLab);
      await startAgent(vrLab);
      const hello = await waitForMessage(vrLab, 'hello', () => true, 20_000, restartFrom);
      if (hello.lastAcceptedGeneration !== previous.generation) problems.push(`restarted agent accepted ${hello.lastAcceptedGeneration}`);
      const isReported = ack.status === 'rejected' && ack.errors.some((e) => cause.test(e.message));
      await heal();
      await apply(next);
      if (readPersistedGeneration(vrLab) !== current.generation) problems.push('the healed push was not persisted');
      return { fault, isRepaired: problems.length === 0, isReported, detail: problems.join('; ') };
    } finally {
      await heal();
    }
  }

  async function fill(): Promise<void> {
    // Fills the tmpfs to the last byte; dd's "No space left" is the point.
    await runCommand(['dd', 'if=/dev/zero', `of=${join(stateDir, 'filler')}`, 'bs=4k'], { allowFailure: true });
  }

  beforeAll(async () => {
    vrLab = await startVrLab({}, { tiers: 2 });
    stateDir = agentPaths(vrLab).stateDir;
    mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    // A small state disk of its own: mounted before the agent starts, so its mount namespace has it too.
    await runCommand(['mount', '-t', 'tmpfs', '-o', `size=${STATE_DIR_BYTES},mode=0700`, 'vr6-soak-state', stateDir]);
    isMounted = true;
    await startAgent(vrLab);
    await waitForMessage(vrLab, 'hello', () => true, 20_000);
    await apply(spec('radvd'));
  }, 120_000);

  afterAll(async () => {
    if (isMounted) await runCommand(['umount', '-l', stateDir], { allowFailure: true });
    await vrLab?.lab.cleanup();
  });

  it('detects, repairs and reports each fault, and a full or read-only state directory never costs the last good state', async () => {
    const rounds = trialCount(1);
    const startedAt = Date.now();
    const results: FaultResult[] = [];
    for (let round = 1; round <= rounds; round++) {
      for (const [name, run] of hostFaults) {
        if (name === 'zebra killed') await apply(spec('frr'));
        if (name !== 'zebra killed' && current.spec.raBackend !== 'radvd') await apply(spec('radvd'));
        // Settled first: one converged resync, so the next step is a repair of this state.
        await waitFor(async () => (await reconcileNow(vrLab)).ok, { timeoutMs: 30_000, what: 'a converged reconcile' });
        results.push(await run(simEventCount(vrLab)));
      }
      results.push(await stateDirFault('state directory full', fill, async () => rmSync(join(stateDir, 'filler'), { force: true }), /ENOSPC|no space/i));
      const readOnly = () => runCommand(['mount', '-o', 'remount,ro', stateDir]).then(() => undefined);
      // An agent started while it was read-only has copied the read-only mount into its own namespace.
      const writable = async () => {
        await runCommand(['mount', '-o', 'remount,rw', stateDir]);
        await runCommand(['nsenter', '-t', String(vrLab.agent!.pid), '-m', 'mount', '-o', 'remount,rw', stateDir]);
      };
      results.push(await stateDirFault('state directory read-only', readOnly, writable, /EROFS|read-only/i));
    }
    const failed = results.filter((r) => !r.isRepaired || !r.isReported);
    reportFigures(
      'host-faults',
      { faults: results.length, repaired: results.filter((r) => r.isRepaired).length, reported: results.filter((r) => r.isReported).length },
      `${rounds} round${rounds === 1 ? '' : 's'} of ${hostFaults.length + 2} faults, ${Math.round((Date.now() - startedAt) / 1000)} s`,
    );
    for (const r of failed) console.log(`  ${r.fault}: repaired ${r.isRepaired}, reported ${r.isReported}${r.detail ? `: ${r.detail}` : ''}`);
    expect(failed).toEqual([]);
  });
});
