import { describe, expect, it } from 'vitest';
import { parseVrrpNotifyLine } from '../../src/observe/vrrp-notify.js';
import { formatRedundancySummary } from '../../src/cli/format.js';
import { renderObservedReport } from '../../src/observe/public-address.js';
import { DesiredState } from '../../src/schema/desired-state.js';
import { redundantInput } from '../support/states.js';

describe('keepalived notify FIFO lines', () => {
  it('reads instance and group transitions', () => {
    expect(parseVrrpNotifyLine('INSTANCE "eth2" MASTER 200')).toEqual({ kind: 'instance', name: 'eth2', state: 'primary' });
    expect(parseVrrpNotifyLine('GROUP "vr6" FAULT\n')).toEqual({ kind: 'group', name: 'vr6', state: 'fault' });
    expect(parseVrrpNotifyLine('GROUP "vr6" BACKUP')).toMatchObject({ state: 'backup' });
    expect(parseVrrpNotifyLine('INSTANCE "eth1" STOP 0')).toMatchObject({ state: 'stopped' });
  });

  it('ignores what is no VRRP transition', () => {
    for (const line of ['', 'VS "x" UP', 'INSTANCE "eth2" DELETED', 'GROUP vr6 MASTER', 'INSTANCE "eth2']) expect(parseVrrpNotifyLine(line)).toBeNull();
  });
});

describe('vr6ctl status, vrrp row', () => {
  it('says the role, the peer and the last transition with its age and cause', () => {
    const report = {
      role: 'primary' as const,
      isPeerSeen: true,
      isSplitBrain: false,
      transitions: [{ at: '2026-01-01T00:00:00.000Z', from: 'backup', to: 'primary' as const, cause: 'no advertisement' }],
    };
    expect(formatRedundancySummary(report, Date.parse('2026-01-01T00:00:05.000Z'))).toMatch(/^primary, peer seen; backup -> primary 5s ago: no advertisement$/);
    expect(formatRedundancySummary({ ...report, isSplitBrain: true, transitions: [] }, 0)).toBe('primary, SPLIT BRAIN');
  });
});

describe('the observed report of a pair', () => {
  it('asks the upstream to route each guest prefix to the address the pair shares, even before this VR has one of its own', () => {
    const state = DesiredState.parse(redundantInput());
    expect(renderObservedReport(state, [], [], []).upstreamRoutes).toEqual([{ prefix: '2001:db8:200:1::/64', via: '2001:db8:100::100' }]);
  });
});
