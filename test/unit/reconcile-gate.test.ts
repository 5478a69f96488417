import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { GateClosedError, Reconciler } from '../../src/reconcile/reconciler.js';
import { DesiredState } from '../../src/schema/desired-state.js';
import { agentConfigIn } from '../support/agent-config.js';
import { MemoryHost } from '../support/memory-host.js';
import { isolatedInput } from '../support/states.js';

const config = agentConfigIn('/vr');

/** The isolated state with its guest network on `prefix`. */
function stateWith(prefix: string): DesiredState {
  const input = isolatedInput();
  input.guestNetworks[0].prefix = prefix;
  return DesiredState.parse(input);
}

/** The whole in-memory host, files included (the list of the addresses the agent owns among them): what a run behind a closed gate must leave as it found it. */
function worldOf(host: MemoryHost): string {
  return JSON.stringify({ a: host.addresses, r: host.routes, s: [...host.sysctls], t: host.listTable(), f: [...host.files], p: [...host.processes.keys()] });
}

/** A host the reconciler has converged on `state`, and the world it left. */
async function convergedOn(state: DesiredState) {
  const host = new MemoryHost(['eth1', 'eth2', 'eth3']);
  const reconciler = new Reconciler(host, config, pino({ level: 'silent' }));
  await reconciler.load();
  expect((await reconciler.reconcile(state)).ok).toBe(true);
  return { host, reconciler, before: worldOf(host) };
}

describe('a reconcile behind a gate', () => {
  it('changes nothing, and lets no room write, when its gate rejects; the next run with an open gate applies', async () => {
    const state = stateWith('2001:db8:200:1::/64');
    const moved = stateWith('2001:db8:200:7::/64');
    const { host, reconciler, before } = await convergedOn(state);
    const closed = () => Promise.reject(new Error('ENOSPC: no space left on device'));

    await expect(reconciler.reconcile(moved, [], closed())).rejects.toBeInstanceOf(GateClosedError);
    expect(worldOf(host)).toBe(before);
    // With nothing to apply the run still waits for its gate: no result speaks for a state the gate turned down.
    await expect(reconciler.reconcile(state, [], closed())).rejects.toThrow(/before its first step: ENOSPC/);
    expect(worldOf(host)).toBe(before);

    const result = await reconciler.reconcile(moved, [], Promise.resolve());
    expect(result.ok).toBe(true);
    expect(host.addresses.map((a) => a.address)).toContain('2001:db8:200:7::1');
  });

  it('turns down a run whose observation failed when its gate then rejects: the rooms hear nothing of it', async () => {
    const state = stateWith('2001:db8:200:1::/64');
    const { host, reconciler, before } = await convergedOn(state);
    host.failOn = /^ip -6 -j -batch -$/;
    const gate = Promise.reject(new Error('ENOSPC: no space left on device'));
    await expect(reconciler.reconcile(stateWith('2001:db8:200:7::/64'), [], gate)).rejects.toBeInstanceOf(GateClosedError);
    expect(worldOf(host)).toBe(before);
  });
});
