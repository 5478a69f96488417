import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canRunLab } from './lab-guard.js';
import { waitFor } from './netns.js';
import { createPairLab, holdsGateway, pairDesiredState, startPairAgents, startRaCapture, PAIR_GATEWAY, PAIR_GUEST_PREFIX, PAIR_IF, PAIR_LAB_COMMANDS, PAIR_NS, VRS, type PairLab, type PortRa, type VrName } from './pair-lab.js';
import { isInPrefix, readAddresses, readAllAddresses, waitForSlaacAddress } from './probes.js';
import { pushDesired, simEventCount, waitForMessage } from './vr-lab.js';

/**
 * A prefix change in a redundant pair: the old prefix is deprecated for its
 * RFC 9096 window, and its gateway stays, on the primary alone (on its
 * virtual-MAC interface, as keepalived's address), so the backup answers
 * no neighbour solicitation for it; the guest sees the old prefix with
 * lifetime 0 in the primary's RAs, and no RA at all from the backup.
 */

const describeLab = canRunLab(PAIR_LAB_COMMANDS) ? describe : describe.skip;

const START_MS = 40_000;
const NEW_PREFIX = '2001:db8:200:2::/64';
const NEW_GATEWAY = '2001:db8:200:2::1';
// Long enough for the checks below, short enough to see the window end.
const WINDOW_SECONDS = 40;

describeLab('a redundant pair deprecating a prefix', () => {
  let pair: PairLab;
  let readRas: () => Record<VrName, PortRa[]>;
  let oldGuestAddress: string;
  let settledAt: number;

  beforeAll(async () => {
    pair = await createPairLab({ withSimulators: true, deprecationWindowSeconds: WINDOW_SECONDS });
    readRas = await startRaCapture(pair);
    await startPairAgents(pair, START_MS);
    // Before both agents have started the first one up may be primary for a moment: the RAs count from here.
    settledAt = Date.now();
    oldGuestAddress = (await waitForSlaacAddress(pair.lab, PAIR_NS.guest, PAIR_IF.guestNic, PAIR_GUEST_PREFIX, START_MS)).address;
  }, 120_000);

  afterAll(async () => {
    await pair?.lab.cleanup();
  }, 60_000);

  it('keeps the old gateway on the primary alone for the window, the guest takes the old prefix as deprecated, and the gateway goes at its end', async () => {
    const pushedAt = Date.now();
    for (const vr of VRS) {
      const renumbered = pairDesiredState(vr);
      renumbered.guestNetworks[0].prefix = NEW_PREFIX;
      const sim = pair.simulators![vr];
      const from = simEventCount(sim);
      const { generation } = await pushDesired(sim, renumbered);
      expect(await waitForMessage(sim, 'applied', (m) => m.generation === generation, 20_000, from)).toMatchObject({ ok: true, isConverged: true });
    }
    // The primary holds both gateways on its virtual-MAC interface: the new one, and the old one for the window.
    await waitFor(
      async () => {
        const held = (await readAddresses(pair.lab, 'vr1', PAIR_IF.vmacGuest)).map((a) => a.address);
        return (held.includes(NEW_GATEWAY) && held.includes(PAIR_GATEWAY)) || undefined;
      },
      { timeoutMs: 10_000, what: 'the primary to hold the new and the old gateway on its virtual-MAC interface' },
    );
    // The backup holds no address of the old prefix on any interface, and the primary none on its parent.
    const oldOn = async (vr: VrName) =>
      [...(await readAllAddresses(pair.lab, vr)).entries()].flatMap(([ifname, list]) => list.filter((a) => isInPrefix(a.address, PAIR_GUEST_PREFIX)).map((a) => `${ifname} ${a.address}`));
    expect(await oldOn('vr2')).toEqual([]);
    expect(await oldOn('vr1')).toEqual([`${PAIR_IF.vmacGuest} ${PAIR_GATEWAY}`]);
    // The guest renumbers from the primary's RAs, which carry the old prefix with lifetimes 0 (RFC 9096 §3.5).
    await waitForSlaacAddress(pair.lab, PAIR_NS.guest, PAIR_IF.guestNic, NEW_PREFIX, 20_000);
    const old = await waitFor(
      async () => (await readAddresses(pair.lab, PAIR_NS.guest, PAIR_IF.guestNic)).find((a) => a.address === oldGuestAddress && a.isDeprecated),
      { timeoutMs: 15_000, what: `the guest's old address ${oldGuestAddress} to be deprecated` },
    );
    expect(old.preferredLifetimeSeconds).toBe(0);
    const ras = readRas();
    expect(ras.vr1.filter((ra) => ra.atMs > pushedAt).length).toBeGreaterThan(0);
    expect(ras.vr2.filter((ra) => ra.atMs > settledAt)).toEqual([]);
    // Still so a resync later (every 5 s): nothing put the old gateway back on a parent interface.
    await new Promise((resolve) => setTimeout(resolve, 6000));
    expect(await oldOn('vr2')).toEqual([]);
    expect(await oldOn('vr1')).toEqual([`${PAIR_IF.vmacGuest} ${PAIR_GATEWAY}`]);
    // The window ends: keepalived, reloaded, takes the old gateway away, and the primary stays primary.
    await waitFor(async () => (await oldOn('vr1')).length === 0 || undefined, { timeoutMs: (WINDOW_SECONDS + 20) * 1000, what: 'the old gateway to go at the end of the window' });
    expect(await holdsGateway(pair, 'vr1')).toBe(true);
    expect(await holdsGateway(pair, 'vr2')).toBe(false);
    expect(await oldOn('vr2')).toEqual([]);
  }, 150_000);
});
