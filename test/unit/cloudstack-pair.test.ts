import { describe, expect, it } from 'vitest';
import { importCloudStack, type ImportOptions } from '../../src/cloudstack/import.js';
import { vrrpIdOf } from '../../src/cloudstack/pair.js';
import { renderKeepalivedConf } from '../../src/render/keepalived-conf.js';
import { CloudStackPairConfig } from '../../src/schema/agent-config.js';
import type { FieldError } from '../../src/schema/validation.js';
import { readFixture } from '../support/cloudstack-fixtures.js';

// What the operator names in agent.json: CloudStack has no sync link of its own for the pair.
const pair = (extra: Record<string, unknown> = {}): ImportOptions => ({
  pair: CloudStackPairConfig.parse({ peer: { interface: 'eth9', localAddress: 'fd00:5::1/64', address: 'fd00:5::2' }, ...extra }),
});

function imported(bags: Record<string, unknown>, options: ImportOptions = pair()) {
  const result = importCloudStack(bags, options);
  if (!result.ok) throw new Error(`refused: ${JSON.stringify(result.errors)}`);
  return result.value;
}

function refused(bags: Record<string, unknown>, options: ImportOptions = pair()): FieldError[] {
  const result = importCloudStack(bags, options);
  if (result.ok) throw new Error('accepted');
  return result.errors;
}

describe('a CloudStack redundant router as a redundancy section', () => {
  it('makes an isolated pair: the shared public address held by the primary, each VR on its own by SLAAC', () => {
    const { state } = imported(readFixture('isolatedPair'));
    expect(state.public).toMatchObject({ interface: 'eth2', mode: 'slaac', expectedPrefix: { address: '2001:db8:30f::', length: 64 } });
    expect(state.public.address).toBeUndefined();
    expect(state.redundancy).toMatchObject({
      publicAddress: { address: '2001:db8:30f:0:1c00:62ff:fe00:17', length: 64 },
      // advert_int 1 s; no router_pr (CloudStack's keepalived leaves both at one priority); nopreempt as its template.
      advertisementIntervalCentiseconds: 100,
      priority: 100,
      preempt: false,
      peer: { interface: 'eth9', localAddress: { address: 'fd00:5::1', length: 64 }, address: 'fd00:5::2' },
      virtualGateways: [],
    });
    // No router_id for an isolated network: the id comes from the public address both VRs share.
    expect(state.redundancy!.vrrpId).toBe(vrrpIdOf(undefined, '2001:db8:30f:0:1c00:62ff:fe00:17'));
  });

  it('puts the guest gateway and the shared link-local fe80::1 on the virtual MAC, for the primary only', () => {
    const { state } = imported(readFixture('isolatedPair'));
    const conf = renderKeepalivedConf(state, { config: '/run/k.conf', health: '/run/h', notifyFifo: '/run/f', pidFile: '/run/p', vrrpPidFile: '/run/v' } as never)!;
    expect(conf.instances.find((i) => i.interface === 'eth0')!.addresses).toEqual(['fe80::1/64', '2001:db8:310:1::1/64']);
    expect(conf.instances.find((i) => i.interface === 'eth2')!.addresses).toContain('2001:db8:30f:0:1c00:62ff:fe00:17/64');
  });

  it("makes a VPC pair whose VRRP id is the VPC's router_id and whose interval is advert_int", () => {
    const { state } = imported(readFixture('vpcPair'));
    expect(state.redundancy).toMatchObject({ vrrpId: 55, advertisementIntervalCentiseconds: 200, priority: 100, preempt: false });
    expect(state.redundancy!.publicAddress).toEqual({ address: '2001:db8:55f:0:1c00:55ff:fe00:1', length: 64 });
    expect(state.public).toMatchObject({ interface: 'eth1', mode: 'slaac' });
    expect(state.guestNetworks.map((n) => n.interface)).toEqual(['eth2', 'eth3']);
  });

  it('gives both VRs of a pair the same section but for what each is told of itself', () => {
    const first = readFixture('vpcPair');
    const second = readFixture('vpcPair');
    Object.assign(second.cmdline.config, { name: 'r-56-VM', redundant_state: 'PRIMARY', eth0ip: '169.254.5.56' });
    const mine = imported(first).state.redundancy!;
    const theirs = imported(second, pair({ peer: { interface: 'eth9', localAddress: 'fd00:5::2/64', address: 'fd00:5::1' } })).state.redundancy!;
    // redundant_state is rewritten by CloudStack's own scripts at every IPv4 transition: it decides nothing here.
    expect({ ...theirs, peer: mine.peer }).toEqual(mine);
  });

  it("takes an older release's router_pr as the priority, and the operator's vrrpId over the derived one", () => {
    const bags = readFixture('vpcPair');
    bags.cmdline.config.router_pr = '150';
    expect(imported(bags, pair({ vrrpId: 7 })).state.redundancy).toMatchObject({ priority: 150, vrrpId: 7 });
  });

  it('folds a router_id above 255 into 1-255', () => {
    expect([1, 255, 256, 510, 511].map((id) => vrrpIdOf(id, '::'))).toEqual([1, 255, 1, 255, 1]);
    const derived = Array.from({ length: 50 }, (_, i) => vrrpIdOf(undefined, `2001:db8::${i}`));
    expect(derived.every((id) => id >= 1 && id <= 255)).toBe(true);
  });

  it('refuses a pair without the sync link, naming the boot parameter and the agent.json key', () => {
    const [error, ...rest] = refused(readFixture('isolatedPair'), {});
    expect(rest).toEqual([]);
    expect(error!.path).toBe('cmdline.json: $.config.redundant_router');
    expect(error!.message).toMatch(/sync link.*\$\.cloudstack\.pair\.peer/);
  });

  it('refuses a pair with no public IPv6 address to share', () => {
    const bags = readFixture('isolatedPair');
    delete bags.cmdline.config.eth2ip6;
    const [error] = refused(bags);
    expect(error!.path).toBe('cmdline.json: $.config.redundant_router');
    expect(error!.message).toMatch(/no public IPv6 address/);
  });

  it('names the databag field behind a value the redundancy section refuses', () => {
    const bags = readFixture('vpcPair');
    bags.cmdline.config.router_pr = '255';
    bags.cmdline.config.advert_int = '41';
    expect(refused(bags).map((e) => e.path).sort()).toEqual(['cmdline.json: $.config.advert_int', 'cmdline.json: $.config.router_pr']);
    const notWhole = readFixture('vpcPair');
    notWhole.cmdline.config.router_id = 'vpc-55';
    expect(refused(notWhole).map((e) => e.path)).toEqual(['cmdline.json: $.config.router_id']);
  });

  it("names agent.json when the operator's sync link clashes with a tier", () => {
    const errors = refused(readFixture('vpcPair'), pair({ peer: { interface: 'eth2', localAddress: 'fd00:5::1/64', address: 'fd00:5::2' } }));
    expect(errors.map((e) => e.path)).toEqual(['agent.json: $.cloudstack.pair.peer']);
    expect(errors[0]!.message).toMatch(/\(as \$\.redundancy\.peer\.interface\)/);
  });

  it('leaves a router without redundant_router as it was', () => {
    expect(imported(readFixture('vpc')).state.redundancy).toBeUndefined();
    expect(imported(readFixture('isolated'), {}).state.public.mode).toBe('static');
  });
});
