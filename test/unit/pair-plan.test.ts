import { describe, expect, it } from 'vitest';
import type { ObservedHost } from '../../src/model/observed.js';
import { planKeepalived } from '../../src/plan/pair-plan.js';
import { EMPTY_LEDGER, type Ledger } from '../../src/plan/ledger.js';
import { renderHost } from '../../src/render/host-facts.js';
import { DesiredState } from '../../src/schema/desired-state.js';
import { redundantInput } from '../support/states.js';

const rendered = renderHost(DesiredState.parse(redundantInput()));
const text = rendered.keepalived!.text;
const present = () => true;
const ledgerWith = (config: string): Ledger => ({ ...EMPTY_LEDGER, loaded: new Map([['keepalived', config]]) });

function observedWith(keepalived: ObservedHost['keepalived'], links: string[] = []): ObservedHost {
  return { links: links.map((name) => ({ name, isUp: true, mac: null })), keepalived } as unknown as ObservedHost;
}

describe('planKeepalived', () => {
  it('checks the config before writing it, then starts keepalived', () => {
    const steps = planKeepalived(rendered, observedWith({ config: null, pid: null, vrrpPid: null }), EMPTY_LEDGER, present);
    expect(steps.map((s) => s.kind)).toEqual(['checkKeepalivedConfig', 'writeKeepalivedConfig', 'startKeepalived']);
  });

  it('plans nothing for a running keepalived at the rendered config', () => {
    expect(planKeepalived(rendered, observedWith({ config: text, pid: 10, vrrpPid: 11 }), ledgerWith(text), present)).toEqual([]);
  });

  it('reloads a running keepalived when the config changed', () => {
    const steps = planKeepalived(rendered, observedWith({ config: 'old', pid: 10, vrrpPid: 11 }), ledgerWith('old'), present);
    expect(steps.map((s) => s.kind)).toEqual(['checkKeepalivedConfig', 'writeKeepalivedConfig', 'reloadKeepalived']);
  });

  it('withdraws what a dead keepalived left before starting a new one, and says so', () => {
    const steps = planKeepalived(rendered, observedWith({ config: text, pid: null, vrrpPid: null }, ['eth1', 'vr6-eth1', 'vr6-eth2']), ledgerWith(text), present);
    expect(steps).toEqual([
      { kind: 'removeVirtualMac', interface: 'vr6-eth1', drift: [expect.stringMatching(/keepalived was not running: withdrew vr6-eth1/)] },
      { kind: 'removeVirtualMac', interface: 'vr6-eth2', drift: [expect.stringMatching(/withdrew vr6-eth2/)] },
      { kind: 'startKeepalived', drift: [], loads: { daemon: 'keepalived', config: text } },
    ]);
  });

  it('kills an orphaned VRRP child, and starts nothing until it is gone', () => {
    const steps = planKeepalived(rendered, observedWith({ config: text, pid: null, vrrpPid: 11 }, ['vr6-eth1']), ledgerWith(text), present);
    expect(steps).toEqual([{ kind: 'stopKeepalived', pid: 11, isOrphan: true, loads: { daemon: 'keepalived', config: null } }]);
  });

  it('stops keepalived when the state has no redundancy, then sweeps its leftovers', () => {
    const single = renderHost(DesiredState.parse({ ...redundantInput(), redundancy: undefined }));
    expect(planKeepalived(single, observedWith({ config: text, pid: 10, vrrpPid: 11 }, ['vr6-eth1']), ledgerWith(text), present)).toEqual([
      { kind: 'stopKeepalived', pid: 10, isOrphan: false, loads: { daemon: 'keepalived', config: null } },
    ]);
    expect(planKeepalived(single, observedWith({ config: text, pid: null, vrrpPid: null }, ['vr6-eth1']), EMPTY_LEDGER, present).map((s) => s.kind)).toEqual([
      'removeVirtualMac',
      'removeKeepalivedConfig',
    ]);
  });

  it('waits for every link of the pair', () => {
    expect(planKeepalived(rendered, observedWith({ config: null, pid: null, vrrpPid: null }), EMPTY_LEDGER, (ifname) => ifname !== 'eth2')).toEqual([]);
  });
});

describe('a prefix being deprecated in a pair', () => {
  const state = DesiredState.parse(redundantInput());
  const deprecation = (ifname: string) => ({ interface: ifname, prefix: { address: '2001:db8:200:9::', length: 64 }, gateway: '2001:db8:200:9::1', untilSeconds: 2e9 });

  it('keeps its gateway in keepalived on a link of the pair, held by the primary only and not advertised, not on the parent', () => {
    const host = renderHost(state, [deprecation('eth2')]);
    expect(host.addresses.filter((a) => a.address === '2001:db8:200:9::1')).toEqual([]);
    expect(host.keepalived!.instances.find((i) => i.interface === 'eth2')).toMatchObject({ deprecatedGateways: ['2001:db8:200:9::1/64'] });
    expect(host.keepalived!.text).toMatch(/virtual_ipaddress_excluded \{\n {8}2001:db8:200:9::1\/64\n {4}\}/);
    // radvd on the virtual-MAC interface advertises it with lifetimes 0: only the primary has the source address.
    const block = host.radvdConf!.slice(host.radvdConf!.indexOf('interface vr6-eth2'));
    expect(block.slice(block.indexOf('prefix 2001:db8:200:9::/64'))).toMatch(/^prefix 2001:db8:200:9::\/64\n\s*\{[^}]*AdvValidLifetime 0;\n\s*AdvPreferredLifetime 0;/);
  });

  it('leaves a link no network uses any more as for a single VR: keepalived has no instance there', () => {
    const host = renderHost(state, [deprecation('eth7')]);
    expect(host.addresses).toContainEqual({ interface: 'eth7', address: '2001:db8:200:9::1', prefixLength: 64 });
    expect(host.keepalived!.text).not.toContain('2001:db8:200:9::1');
  });
});
