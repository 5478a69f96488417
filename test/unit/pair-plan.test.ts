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
