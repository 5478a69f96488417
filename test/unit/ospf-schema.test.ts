import { describe, expect, it } from 'vitest';
import { DesiredState } from '../../src/schema/desired-state.js';
import { isDefaultFromRouting } from '../../src/schema/routing.js';
import { parseWith } from '../../src/schema/validation.js';
import { ospfInput } from '../support/states.js';

type Input = Record<string, any>;

function parsed(change: (input: Input) => void) {
  const input = ospfInput();
  change(input);
  return parseWith(DesiredState, input);
}

const errorsOf = (change: (input: Input) => void) => {
  const result = parsed(change);
  return result.ok ? [] : result.errors;
};

describe('the routing section with OSPF', () => {
  it('fills in the backbone area, cost 10 and the RFC 2328 timers, and holds a numeric area as a dotted quad', () => {
    const result = parsed(() => undefined);
    expect(result.ok && result.value.routing.ospf).toEqual({
      routerId: '192.0.2.10',
      area: '0.0.0.0',
      cost: 10,
      helloIntervalSeconds: 10,
      deadIntervalSeconds: 40,
      accept: 'default-route',
      announce: { aggregates: [{ address: '2001:db8:200::', length: 56 }], guestPrefixes: false },
    });
    expect(result.ok && isDefaultFromRouting(result.value)).toBe(true);
    const numeric = parsed((i) => (i.routing.ospf.area = 16909060));
    expect(numeric.ok && numeric.value.routing.ospf?.area).toBe('1.2.3.4');
    const top = parsed((i) => (i.routing.ospf.area = 4294967295));
    expect(top.ok && top.value.routing.ospf?.area).toBe('255.255.255.255');
  });

  // [what, the change, the error's path, its message]
  const REFUSED: [string, (input: Input) => void, string, RegExp][] = [
    ['no router id', (i) => delete i.routing.ospf.routerId, '$.routing.ospf.routerId', /./],
    ['a router id of 0.0.0.0', (i) => (i.routing.ospf.routerId = '0.0.0.0'), '$.routing.ospf.routerId', /RFC 5340/],
    ['a router id that is no dotted quad', (i) => (i.routing.ospf.routerId = '10.0.0'), '$.routing.ospf.routerId', /OSPF router ID in dotted-quad/],
    ['an area that is no dotted quad', (i) => (i.routing.ospf.area = '0.0.0.256'), '$.routing.ospf.area', /./],
    ['an area above 32 bits', (i) => (i.routing.ospf.area = 4294967296), '$.routing.ospf.area', /./],
    ['a negative area', (i) => (i.routing.ospf.area = -1), '$.routing.ospf.area', /./],
    ['cost 0', (i) => (i.routing.ospf.cost = 0), '$.routing.ospf.cost', /./],
    ['a cost above 16 bits', (i) => (i.routing.ospf.cost = 65536), '$.routing.ospf.cost', /./],
    ['a hello interval of 0', (i) => (i.routing.ospf.helloIntervalSeconds = 0), '$.routing.ospf.helloIntervalSeconds', /./],
    ['a dead interval above 16 bits', (i) => (i.routing.ospf.deadIntervalSeconds = 65536), '$.routing.ospf.deadIntervalSeconds', /./],
    [
      'a dead interval no longer than the hello interval',
      (i) => Object.assign(i.routing.ospf, { helloIntervalSeconds: 10, deadIntervalSeconds: 10 }),
      '$.routing.ospf.deadIntervalSeconds',
      /above helloIntervalSeconds \(10/,
    ],
    ['OSPF settings without protocol ospf', (i) => (i.routing.protocol = 'static'), '$.routing.ospf', /applies only to protocol ospf/],
    ['protocol ospf without settings', (i) => delete i.routing.ospf, '$.routing.ospf', /is required for protocol ospf/],
    ['BGP settings beside protocol ospf', (i) => (i.routing.bgp = { localAs: 1, routerId: '1.1.1.1', peers: [] }), '$.routing.bgp', /./],
    ['an unknown field', (i) => (i.routing.ospf.passive = true), '$.routing.ospf', /passive/],
    ['an aggregate shorter than /40', (i) => (i.routing.ospf.announce.aggregates = ['2001:db8::/32']), '$.routing.ospf.announce.aggregates[0]', /\/40 to \/64/],
    [
      'an aggregate over the public /64',
      (i) => (i.routing.ospf.announce.aggregates = ['2001:db8:100::/48', '2001:db8:200::/56']),
      '$.routing.ospf.announce.aggregates[0]',
      /overlaps the public prefix 2001:db8:100::\/64/,
    ],
    ['an aggregate that covers no guest', (i) => i.routing.ospf.announce.aggregates.push('2001:db8:300::/48'), '$.routing.ospf.announce.aggregates[1]', /covers no guest prefix/],
    [
      'overlapping aggregates',
      (i) => i.routing.ospf.announce.aggregates.push('2001:db8:200::/60'),
      '$.routing.ospf.announce.aggregates[1]',
      /overlaps routing\.ospf\.announce\.aggregates\[0\]/,
    ],
    [
      'a guest prefix no aggregate announces',
      (i) => (i.guestNetworks[0].prefix = '2001:db8:300:1::/64'),
      '$.guestNetworks[0].prefix',
      /announced by no routing\.ospf\.announce aggregate/,
    ],
  ];

  it.each(REFUSED)('refuses %s, naming the field', (_what, change, path, message) => {
    expect(errorsOf(change)).toContainEqual({ path, message: expect.stringMatching(message) });
  });

  it('accepts the edges next to each refusal', () => {
    const accepted: ((input: Input) => void)[] = [
      (i) => (i.routing.ospf.area = '0.0.0.1'),
      (i) => (i.routing.ospf.area = 0),
      (i) => (i.routing.ospf.area = '255.255.255.255'),
      (i) => (i.routing.ospf.cost = 1),
      (i) => (i.routing.ospf.cost = 65535),
      (i) => Object.assign(i.routing.ospf, { helloIntervalSeconds: 1, deadIntervalSeconds: 2 }),
      (i) => Object.assign(i.routing.ospf, { helloIntervalSeconds: 65534, deadIntervalSeconds: 65535 }),
      (i) => (i.routing.ospf.accept = 'nothing'),
      (i) => Object.assign(i.routing.ospf.announce, { aggregates: [], guestPrefixes: true }),
      (i) => (i.routing.ospf.announce.aggregates = ['2001:db8:200:1::/64']),
    ];
    for (const [index, change] of accepted.entries()) expect(errorsOf(change), `case ${index}`).toEqual([]);
  });
});
