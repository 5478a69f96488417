import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canRunLab } from './lab-guard.js';
import { waitFor } from './netns.js';
import { createPairLab, holdsPublicAddress, readPairStatus, setPublicPort, startPairAgent, type PairLab, type VrName } from './pair-lab.js';

/**
 * A pair with no guest network yet, as a VPC's VRs are before its first
 * tier: one VRRP instance, the public one, which keepalived takes without a
 * sync group. The primary holds the public address; a cut public link hands
 * it to the other VR, and preemption gives it back; both agents report the
 * roles and the transitions.
 */

const describeLab = canRunLab(['ip', 'nft', 'keepalived']) ? describe : describe.skip;

const START_MS = 40_000;
const TAKEOVER_MS = 15_000;

describeLab('a redundant pair without guest networks', () => {
  let pair: PairLab;

  async function waitForHolder(vr: VrName): Promise<void> {
    const other: VrName = vr === 'vr1' ? 'vr2' : 'vr1';
    await waitFor(async () => (await holdsPublicAddress(pair, vr)) && !(await holdsPublicAddress(pair, other)), {
      timeoutMs: START_MS,
      what: `${vr} alone to hold the public address`,
      intervalMs: 20,
    });
  }

  async function waitForRole(vr: VrName, role: string): Promise<Record<string, any>> {
    return waitFor(async (note) => ((status) => (note(status.redundancy), status.redundancy?.role === role && status.redundancy.transitions.at(-1)?.to === role ? status : undefined))(await readPairStatus(pair, vr)), {
      timeoutMs: TAKEOVER_MS,
      what: `${vr} to report ${role} and its transition`,
    });
  }

  beforeAll(async () => {
    pair = await createPairLab({ hasGuestNetwork: false });
    await startPairAgent(pair, 'vr1');
    await startPairAgent(pair, 'vr2');
  }, 60_000);

  afterAll(async () => pair?.lab.cleanup(), 60_000);

  it('elects vr1, which alone holds the public address, and both report their roles', async () => {
    await waitForHolder('vr1');
    const primary = await waitForRole('vr1', 'primary');
    expect(primary.applied).toMatchObject({ errors: [], isConverged: true });
    await waitForRole('vr2', 'backup');
  }, 60_000);

  it('hands the address over when vr1’s public link is cut, and back by preemption', async () => {
    await setPublicPort(pair, 'vr1', false);
    await waitForHolder('vr2');
    await waitForRole('vr2', 'primary');
    await setPublicPort(pair, 'vr1', true);
    await waitForHolder('vr1');
    await waitForRole('vr1', 'primary');
  }, 90_000);
});
