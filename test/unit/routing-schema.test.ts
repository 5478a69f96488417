import { describe, expect, it } from 'vitest';
import { DesiredState } from '../../src/schema/desired-state.js';
import { parseWith } from '../../src/schema/validation.js';
import { bgpInput } from '../support/states.js';

type Input = Record<string, any>;

function parsed(change: (input: Input) => void) {
  const input = bgpInput();
  change(input);
  return parseWith(DesiredState, input);
}

function errorsOf(change: (input: Input) => void) {
  const result = parsed(change);
  return result.ok ? [] : result.errors;
}

describe('the routing section', () => {
  it('defaults to static routing, and parses a BGP section with every default filled in', () => {
    const { bgp: _, ...isStatic } = bgpInput().routing;
    expect(parsed((input) => delete input.routing)).toMatchObject({ ok: true, value: { routing: { protocol: 'static' } } });
    expect(isStatic).toEqual({ protocol: 'bgp' });
    const result = parsed(() => undefined);
    expect(result.ok && result.value.routing.bgp).toEqual({
      localAs: 65010,
      routerId: '192.0.2.10',
      peers: [
        {
          address: '2001:db8:100::1',
          remoteAs: 65000,
          holdTimeSeconds: 90,
          keepaliveSeconds: 30,
          hasGracefulRestart: false,
          accept: 'default-route',
          maxPrefixes: 1,
        },
      ],
      announce: { aggregates: [{ address: '2001:db8:200::', length: 56 }], guestPrefixes: false },
    });
  });

  // [what, the change, the error's path, its message]
  const REFUSED: [string, (input: Input) => void, string, RegExp][] = [
    ['AS 0', (i) => (i.routing.bgp.localAs = 0), '$.routing.bgp.localAs', /RFC 7607/],
    ['AS_TRANS', (i) => (i.routing.bgp.peers[0].remoteAs = 23456), '$.routing.bgp.peers[0].remoteAs', /AS_TRANS/],
    ['an AS above 4 bytes', (i) => (i.routing.bgp.localAs = 4294967296), '$.routing.bgp.localAs', /4294967295/],
    ['no router id', (i) => delete i.routing.bgp.routerId, '$.routing.bgp.routerId', /./],
    ['a router id of 0.0.0.0', (i) => (i.routing.bgp.routerId = '0.0.0.0'), '$.routing.bgp.routerId', /RFC 6286/],
    ['a router id that is no dotted quad', (i) => (i.routing.bgp.routerId = '192.0.2.256'), '$.routing.bgp.routerId', /dotted-quad/],
    ['BGP settings without protocol bgp', (i) => (i.routing.protocol = 'static'), '$.routing.bgp', /applies only to protocol bgp/],
    ['protocol bgp without settings', (i) => delete i.routing.bgp, '$.routing.bgp', /is required for protocol bgp/],
    ['no peer', (i) => (i.routing.bgp.peers = []), '$.routing.bgp.peers', /at least 1|>=1/],
    [
      'a peer off every connected link without multihop',
      (i) => (i.routing.bgp.peers[0].address = '2001:db8:ffff::1'),
      '$.routing.bgp.peers[0].address',
      /on no link of the VR/,
    ],
    [
      'a single-hop peer when the public prefix is unknown',
      (i) => delete i.public.expectedPrefix,
      '$.routing.bgp.peers[0].address',
      /expectedPrefix, or multihopTtl/,
    ],
    ['a link-local peer without interface', (i) => (i.routing.bgp.peers[0].address = 'fe80::1'), '$.routing.bgp.peers[0].interface', /required for a link-local/],
    [
      'a link-local peer on an interface the VR does not use',
      (i) => Object.assign(i.routing.bgp.peers[0], { address: 'fe80::1', interface: 'eth9' }),
      '$.routing.bgp.peers[0].interface',
      /neither the public interface nor a guest interface/,
    ],
    [
      'a link-local peer, which FRR 8.4 cannot reach without advertising the VR on that link',
      (i) => Object.assign(i.routing.bgp.peers[0], { address: 'fe80::1', interface: 'eth1' }),
      '$.routing.bgp.peers[0].address',
      /never connects to an explicit link-local neighbour/,
    ],
    ['an interface with a global peer', (i) => (i.routing.bgp.peers[0].interface = 'eth1'), '$.routing.bgp.peers[0].interface', /only to a link-local/],
    ['a password longer than TCP-MD5 takes', (i) => (i.routing.bgp.peers[0].password = 'x'.repeat(81)), '$.routing.bgp.peers[0].password', /kernel's TCP-MD5 key limit/],
    ['an empty description, which FRR takes for an incomplete command', (i) => (i.routing.bgp.peers[0].description = ''), '$.routing.bgp.peers[0].description', /1 to 80/],
    ['a description of spaces only', (i) => (i.routing.bgp.peers[0].description = '  '), '$.routing.bgp.peers[0].description', /words separated by one space/],
    ['a description with a run of spaces, which FRR folds', (i) => (i.routing.bgp.peers[0].description = 'a  b'), '$.routing.bgp.peers[0].description', /folds runs of spaces/],
    ['a password with a space', (i) => (i.routing.bgp.peers[0].password = 'two words'), '$.routing.bgp.peers[0].password', /without spaces/],
    [
      'two peers with the same address',
      (i) => i.routing.bgp.peers.push({ ...i.routing.bgp.peers[0], remoteAs: 65001 }),
      '$.routing.bgp.peers[1].address',
      /duplicates routing\.bgp\.peers\[0\]\.address/,
    ],
    ['an iBGP peer', (i) => (i.routing.bgp.peers[0].remoteAs = 65010), '$.routing.bgp.peers[0].remoteAs', /eBGP only/],
    [
      'multihop and TTL security together',
      (i) => Object.assign(i.routing.bgp.peers[0], { multihopTtl: 2, ttlSecurityHops: 1 }),
      '$.routing.bgp.peers[0].ttlSecurityHops',
      /cannot be combined/,
    ],
    ['a hold time of 2 s', (i) => (i.routing.bgp.peers[0].holdTimeSeconds = 2), '$.routing.bgp.peers[0].holdTimeSeconds', /RFC 4271 §4\.2/],
    [
      'a keepalive above a third of the hold time',
      (i) => Object.assign(i.routing.bgp.peers[0], { holdTimeSeconds: 9, keepaliveSeconds: 4 }),
      '$.routing.bgp.peers[0].keepaliveSeconds',
      /at most a third of holdTimeSeconds \(3/,
    ],
    [
      'an aggregate shorter than /40',
      (i) => (i.routing.bgp.announce.aggregates = ['2001:db8::/32']),
      '$.routing.bgp.announce.aggregates[0]',
      /must be a \/40 to \/64/,
    ],
    [
      'an aggregate that overlaps the public /64',
      (i) => (i.routing.bgp.announce.aggregates = ['2001:db8:100::/48', '2001:db8:200::/56']),
      '$.routing.bgp.announce.aggregates[0]',
      /overlaps the public prefix/,
    ],
    [
      'an aggregate that covers no guest prefix',
      (i) => i.routing.bgp.announce.aggregates.push('2001:db8:300::/48'),
      '$.routing.bgp.announce.aggregates[1]',
      /covers no guest prefix/,
    ],
    [
      'two aggregates that overlap',
      (i) => i.routing.bgp.announce.aggregates.push('2001:db8:200::/60'),
      '$.routing.bgp.announce.aggregates[1]',
      /overlaps routing\.bgp\.announce\.aggregates\[0\]/,
    ],
    [
      'a guest prefix no aggregate announces',
      (i) => (i.guestNetworks[0].prefix = '2001:db8:300:1::/64'),
      '$.guestNetworks[0].prefix',
      /announced by no routing\.bgp\.announce aggregate/,
    ],
  ];

  it.each(REFUSED)('refuses %s, naming the field', (_what, change, path, message) => {
    expect(errorsOf(change)).toContainEqual({ path, message: expect.stringMatching(message) });
  });

  it('accepts the edges next to each refusal', () => {
    const accepted: ((input: Input) => void)[] = [
      (i) => (i.routing.bgp.localAs = 4294967294),
      (i) => (i.routing.bgp.localAs = 1),
      (i) => (i.routing.bgp.peers[0].password = 'x'.repeat(80)),
      (i) => (i.routing.bgp.peers[0].description = 'x'),
      (i) => (i.routing.bgp.peers[0].description = 'upstream a: rack 7/row-2 @ dc1'),
      (i) => Object.assign(i.routing.bgp.peers[0], { address: '2001:db8:ffff::1', multihopTtl: 2 }),
      (i) => Object.assign(i.routing.bgp.peers[0], { holdTimeSeconds: 9, keepaliveSeconds: 3 }),
      (i) => Object.assign(i.routing.bgp.peers[0], { holdTimeSeconds: 0, keepaliveSeconds: 0 }),
      (i) => Object.assign(i.routing.bgp.peers[0], { holdTimeSeconds: 3 }),
      (i) => (i.routing.bgp.announce.aggregates = ['2001:db8:200::/40']),
      (i) => (i.routing.bgp.announce.aggregates = ['2001:db8:200:1::/64']),
      (i) => Object.assign(i.routing.bgp.announce, { aggregates: [], guestPrefixes: true }),
      (i) => {
        i.guestNetworks.push({ id: 'net-2', interface: 'eth3', prefix: '2001:db8:300:1::/64' });
        i.routing.bgp.announce.guestPrefixes = true;
      },
    ];
    for (const [index, change] of accepted.entries()) expect(errorsOf(change), `case ${index}`).toEqual([]);
  });
});
