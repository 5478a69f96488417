import { describe, expect, it } from 'vitest';
import { renderBgpLines } from '../../src/render/frr-bgp.js';
import { DesiredState } from '../../src/schema/desired-state.js';
import { bgpInput } from '../support/states.js';

describe('routed prefixes over BGP', () => {
  it('announces a routed prefix outside every aggregate by itself, and adds nothing for one inside', () => {
    const input = bgpInput();
    input.schemaVersion = 2;
    input.guestNetworks[0].routedPrefixes = [
      { prefix: '2001:db8:200:10::/60', nextHop: '2001:db8:200:1::10' },
      { prefix: '2001:db8:300::/56', nextHop: '2001:db8:200:1::11' },
    ];
    const lines = renderBgpLines(DesiredState.parse(input)).map(({ line }) => line);
    expect(lines.filter((line) => line.startsWith('network '))).toEqual(['network 2001:db8:200:1::/64', 'network 2001:db8:300::/56']);
    expect(lines.filter((line) => line.startsWith('ipv6 prefix-list VR6-ANNOUNCE') && line.includes('permit'))).toEqual([
      'ipv6 prefix-list VR6-ANNOUNCE seq 10 permit 2001:db8:200::/56',
      'ipv6 prefix-list VR6-ANNOUNCE seq 20 permit 2001:db8:300::/56',
    ]);
    expect(lines.join('\n')).not.toContain('2001:db8:200:10::/60');
  });
});
