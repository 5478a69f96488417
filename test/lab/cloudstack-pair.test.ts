import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFixture } from '../support/cloudstack-fixtures.js';
import { canRunLab } from './lab-guard.js';
import { waitFor } from './netns.js';
import { createPairLab, holdsGateway, readGuestRouter, startPairAgent, PAIR_IF, PAIR_LAB_COMMANDS, PAIR_NS, VRS, type PairLab, type VrName } from './pair-lab.js';
import { isInPrefix, readAllAddresses, waitForSlaacAddress } from './probes.js';

/**
 * A CloudStack redundant VPC router as a pair, both VRs running from their
 * merged databags (`source: cloudstack`) with only the sync link in their
 * agent.json: they elect one primary by the VRRP id CloudStack's router_id
 * gives, only it holds the tier's gateway, and the guest takes the tier's
 * prefix and the shared link-local router at the virtual MAC.
 */

const describeLab = canRunLab(PAIR_LAB_COMMANDS) ? describe : describe.skip;

const START_MS = 40_000;
const TIER_PREFIX = '2001:db8:550:1::/64';

// The fixture's VPC with its one tier on the lab's guest link (eth2); the lab has no eth3.
function pairDatabags(vr: VrName): Record<string, unknown> {
  const bags = readFixture('vpcPair');
  delete bags.guestnetwork.eth3;
  bags.cmdline.config.name = `r-55-${vr}`;
  return bags;
}

describeLab('a CloudStack redundant router from its databags', () => {
  let pair: PairLab;

  beforeAll(async () => {
    pair = await createPairLab({ databags: pairDatabags });
    for (const vr of VRS) await startPairAgent(pair, vr);
  }, 120_000);

  afterAll(async () => {
    await pair?.lab.cleanup();
  }, 60_000);

  it('elects one primary, which alone holds the tier gateway, and the guest routes by the shared link-local address', async () => {
    // Equal priorities and nopreempt, as CloudStack's keepalived: either VR may win.
    const primary = await waitFor(
      async () => {
        const [vr1, vr2] = await Promise.all(VRS.map((vr) => holdsGateway(pair, vr)));
        return vr1 !== vr2 ? (vr1 ? 'vr1' : 'vr2') : undefined;
      },
      { timeoutMs: START_MS, what: 'one primary', intervalMs: 50 },
    );
    const backup: VrName = primary === 'vr1' ? 'vr2' : 'vr1';
    const tierAddresses = async (vr: VrName) =>
      [...(await readAllAddresses(pair.lab, vr)).entries()].flatMap(([ifname, list]) => list.filter((a) => isInPrefix(a.address, TIER_PREFIX)).map((a) => `${ifname} ${a.address}`));
    expect(await tierAddresses(primary)).toEqual([`${PAIR_IF.vmacGuest} 2001:db8:550:1::1`]);
    expect(await tierAddresses(backup)).toEqual([]);
    await waitForSlaacAddress(pair.lab, PAIR_NS.guest, PAIR_IF.guestNic, TIER_PREFIX, 20_000);
    // VRRP id 55, CloudStack's router_id: the virtual MAC 00:00:5e:00:02:37 (RFC 5798 §7.3).
    await waitFor(async () => (await readGuestRouter(pair)).mac ?? undefined, { timeoutMs: 20_000, what: 'the guest to resolve its router' }).catch(async () => {
      await pair.lab.exec(PAIR_NS.guest, ['ping', '-6', '-c', '1', '-W', '1', `fe80::1%${PAIR_IF.guestNic}`], { allowFailure: true });
    });
    expect(await readGuestRouter(pair)).toEqual({ gateway: 'fe80::1', mac: '00:00:5e:00:02:37' });
  }, 90_000);
});
