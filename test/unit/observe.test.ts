import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseMonitorLine } from '../../src/observe/address-monitor.js';
import { parseAddresses, parseIpBatch, parseLinks, parseRoutes } from '../../src/observe/ip-json.js';
import { observedReportKey, renderObservedReport } from '../../src/observe/public-address.js';
import { DesiredState } from '../../src/schema/desired-state.js';
import { isolatedInput } from '../support/states.js';

/**
 * Fixtures are named after the command that produced them, captured from a
 * real kernel: a host with use_tempaddr=2 that took SLAAC from two prefixes
 * (one advertised with preferred lifetime 0) and has a tentative static address.
 */
const fixture = (name: string) => JSON.parse(readFileSync(`test/fixtures/${name}.json`, 'utf8'));
const addresses = parseAddresses(fixture('ip-j-6-addr-show'));
const links = parseLinks(fixture('ip-j-link-show'));
const routes = parseRoutes(fixture('ip-j-6-route-show-default'));

function state(pub: Record<string, unknown>) {
  const input = isolatedInput();
  input.public = pub;
  return DesiredState.parse(input);
}

describe('observing the public address', () => {
  it('parses the flags iproute2 reports, and only addresses that have one', () => {
    expect(addresses.map((a) => [a.address, a.isDynamic, a.isTemporary, a.isDeprecated, a.isTentative])).toEqual([
      ['2001:db8:9::1', false, false, false, true],
      ['2001:db8:101:0:5054:ff:fe12:3456', true, false, true, false],
      ['2001:db8:100:0:cec8:750a:57d6:ef42', true, true, false, false],
      ['2001:db8:100:0:5054:ff:fe12:3456', true, false, false, false],
      ['fe80::5054:ff:fe12:3456', false, false, false, false],
    ]);
  });

  it('picks the stable SLAAC address: not temporary, deprecated or tentative, and checks its EUI-64', () => {
    const report = renderObservedReport(state({ interface: 'eth1' }), addresses, links, routes);
    expect(report.publicAddress).toMatchObject({
      address: '2001:db8:100:0:5054:ff:fe12:3456',
      prefixLength: 64,
      source: 'slaac',
      matchesEui64: true,
      validLifetimeSeconds: 86399,
    });
    expect(report.defaultRouter).toBe('fe80::3cbe:86ff:fefd:591');
    expect(report.upstreamRoutes).toEqual([{ prefix: '2001:db8:200:1::/64', via: '2001:db8:100:0:5054:ff:fe12:3456' }]);
    expect(report.warnings).toEqual([]);
  });

  it('reports nothing when no address lies in the expected prefix', () => {
    const report = renderObservedReport(state({ interface: 'eth1', expectedPrefix: '2001:db8:101::/64' }), addresses, links, routes);
    expect(report.publicAddress).toBeNull();
    expect(report.upstreamRoutes).toEqual([]);
  });

  it('warns when the public interface is missing', () => {
    const report = renderObservedReport(state({ interface: 'eth9' }), addresses, links, routes);
    expect(report.warnings).toEqual(['public interface eth9 does not exist']);
  });

  it('keys reports without their ticking lifetimes', () => {
    const report = renderObservedReport(state({ interface: 'eth1' }), addresses, links, routes);
    const later = { ...report, publicAddress: { ...report.publicAddress!, validLifetimeSeconds: 80000 } };
    expect(observedReportKey(later)).toBe(observedReportKey(report));
    expect(observedReportKey({ ...report, defaultRouter: null })).not.toBe(observedReportKey(report));
  });
});

describe('ip -6 -j -batch -', () => {
  const names = ['ip-j-link-show', 'ip-j-6-addr-show', 'ip-j-6-route-show-default'];
  const printed = names.map((name) => `${JSON.stringify(fixture(name))}\n`).join('');

  it('splits one JSON line per command, in order', () => {
    expect(parseIpBatch(printed, 3)).toEqual(names.map(fixture));
  });

  it('refuses output with a result missing, rather than observe a host without links', () => {
    expect(() => parseIpBatch(printed.split('\n').slice(1).join('\n'), 3)).toThrow(/2 results for 3 commands/);
  });
});

describe('ip -o monitor lines', () => {
  it.each([
    ['3: a0    inet6 2001:db8:5::1/64 scope global nodad \\       valid_lft forever preferred_lft forever', { kind: 'address', interface: 'a0', isDeleted: false }],
    ['Deleted 3: a0    inet6 2001:db8:5::1/64 scope global nodad \\       valid_lft forever', { kind: 'address', interface: 'a0', isDeleted: true }],
    ['3: a0@b0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP group default', { kind: 'link', interface: 'a0', isDeleted: false }],
    ['5: vx.1@vy: <BROADCAST,MULTICAST,M-DOWN> mtu 1500 qdisc noop state DOWN', { kind: 'link', interface: 'vx.1', isDeleted: false }],
    ['Deleted 4: eth3: <BROADCAST,MULTICAST> mtu 1500', { kind: 'link', interface: 'eth3', isDeleted: true }],
  ])('parses %s', (line, event) => {
    expect(parseMonitorLine(line)).toEqual(event);
  });

  it('ignores lines it does not understand', () => {
    expect(parseMonitorLine('')).toBeNull();
    expect(parseMonitorLine('garbage')).toBeNull();
  });
});

describe('usage in the observed report', () => {
  it('maps the named counters to networks and directions, skipping counters not yet created', () => {
    const counters = new Map([
      ['usage_ingress_eth2', { packets: 3, bytes: 300 }],
      ['usage_egress_eth2', { packets: 4, bytes: 420 }],
      ['usage_egress_eth9', { packets: 9, bytes: 900 }],
    ]);
    const report = renderObservedReport(state({ interface: 'eth1' }), addresses, links, routes, counters);
    expect(report.usage).toEqual([
      { network: 'net-1', direction: 'ingress', packets: 3, bytes: 300 },
      { network: 'net-1', direction: 'egress', packets: 4, bytes: 420 },
    ]);
    expect(observedReportKey({ ...report, usage: [] })).toBe(observedReportKey(report));
  });
});
