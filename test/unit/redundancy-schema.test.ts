import { describe, expect, it } from 'vitest';
import { DesiredState } from '../../src/schema/desired-state.js';
import { parseWith } from '../../src/schema/validation.js';
import { virtualLinkLocalOf, virtualMacOf } from '../../src/schema/redundancy.js';
import { bgpInput, redundantInput } from '../support/states.js';

type Input = Record<string, any>;

function parsed(change: (input: Input) => void) {
  const input = redundantInput();
  change(input);
  return parseWith(DesiredState, input);
}

function errorsOf(change: (input: Input) => void) {
  const result = parsed(change);
  return result.ok ? [] : result.errors;
}

describe('the redundancy section', () => {
  it('is absent by default, and parses with every default filled in', () => {
    const without = parsed((i) => delete i.redundancy);
    expect(without.ok && 'redundancy' in without.value).toBe(false);
    const result = parsed(() => undefined);
    expect(result.ok && result.value.redundancy).toEqual({
      vrrpId: 51,
      priority: 200,
      advertisementIntervalCentiseconds: 10,
      preempt: true,
      peer: { interface: 'eth9', localAddress: { address: 'fd00:5::1', length: 64 }, address: 'fd00:5::2' },
      publicAddress: { address: '2001:db8:100::100', length: 64 },
      virtualGateways: [],
      stateSync: true,
    });
    expect(result.ok && virtualLinkLocalOf(result.value.redundancy!, 'net-1')).toBe('fe80::1');
  });

  it('names the RFC 5798 virtual MAC in hex', () => {
    expect(virtualMacOf(51)).toBe('00:00:5e:00:02:33');
    expect(virtualMacOf(1)).toBe('00:00:5e:00:02:01');
    expect(virtualMacOf(255)).toBe('00:00:5e:00:02:ff');
  });

  // [what, the change, the error's path, its message]
  const REFUSED: [string, (input: Input) => void, string, RegExp][] = [
    ['VRRP id 0', (i) => (i.redundancy.vrrpId = 0), '$.redundancy.vrrpId', /1|>=1/],
    ['VRRP id 256', (i) => (i.redundancy.vrrpId = 256), '$.redundancy.vrrpId', /255|<=255/],
    ['priority 0, which means "I quit" on the wire', (i) => (i.redundancy.priority = 0), '$.redundancy.priority', /1|>=1/],
    ['priority 255 on a VR that owns no address', (i) => (i.redundancy.priority = 255), '$.redundancy.priority', /owns the virtual addresses \(RFC 5798 §5\.2\.4\)/],
    ['an interval of 0', (i) => (i.redundancy.advertisementIntervalCentiseconds = 0), '$.redundancy.advertisementIntervalCentiseconds', /1|>=1/],
    ['an interval past 12 bits', (i) => (i.redundancy.advertisementIntervalCentiseconds = 4096), '$.redundancy.advertisementIntervalCentiseconds', /RFC 5798 §5\.2\.7/],
    ['a fractional interval', (i) => (i.redundancy.advertisementIntervalCentiseconds = 2.5), '$.redundancy.advertisementIntervalCentiseconds', /integer|int/],
    ['a shared address outside fe80::/64', (i) => (i.redundancy.virtualGateways = [{ networkId: 'net-1', linkLocal: 'fe80:1::1' }]), '$.redundancy.virtualGateways[0].linkLocal', /fe80::\/64/],
    ['a global shared link-local', (i) => (i.redundancy.virtualGateways = [{ networkId: 'net-1', linkLocal: '2001:db8::1' }]), '$.redundancy.virtualGateways[0].linkLocal', /fe80::\/64/],
    ['a gateway of no network', (i) => (i.redundancy.virtualGateways = [{ networkId: 'net-9', linkLocal: 'fe80::9' }]), '$.redundancy.virtualGateways[0].networkId', /names no entry/],
    [
      'two gateways for one network',
      (i) => (i.redundancy.virtualGateways = [{ networkId: 'net-1', linkLocal: 'fe80::9' }, { networkId: 'net-1', linkLocal: 'fe80::8' }]),
      '$.redundancy.virtualGateways[1].networkId',
      /duplicates/,
    ],
    ['raBackend frr', (i) => (i.raBackend = 'frr'), '$.redundancy', /random link-local address.*router lifetime 0/],
    ['a sync link that is a guest link', (i) => (i.redundancy.peer.interface = 'eth2'), '$.redundancy.peer.interface', /a link of its own/],
    ['a peer outside the sync prefix', (i) => (i.redundancy.peer.address = 'fd00:6::2'), '$.redundancy.peer.address', /inside fd00:5::\/64/],
    ['a peer that is this VR', (i) => (i.redundancy.peer.address = 'fd00:5::1'), '$.redundancy.peer.address', /other VR/],
    ['a public address outside the public prefix', (i) => (i.redundancy.publicAddress = '2001:db8:101::100/64'), '$.redundancy.publicAddress', /inside the public prefix/],
    ['a link-local public address', (i) => (i.redundancy.publicAddress = 'fe80::100/64'), '$.redundancy.publicAddress', /global/],
    [
      'a guest interface too long for its virtual MAC interface name',
      (i) => (i.guestNetworks[0].interface = 'guest-network1'),
      '$.guestNetworks[0].interface',
      /at most 11 characters/,
    ],
    ['an unknown key', (i) => (i.redundancy.vrid = 1), '$.redundancy', /vrid/],
  ];

  it.each(REFUSED)('refuses %s, naming the field', (_what, change, path, message) => {
    expect(errorsOf(change)).toContainEqual({ path, message: expect.stringMatching(message) });
  });

  it('accepts the edges next to each refusal', () => {
    const accepted: ((input: Input) => void)[] = [
      (i) => Object.assign(i.redundancy, { vrrpId: 1, priority: 1 }),
      (i) => Object.assign(i.redundancy, { vrrpId: 255, priority: 254 }),
      (i) => (i.redundancy.advertisementIntervalCentiseconds = 1),
      (i) => (i.redundancy.advertisementIntervalCentiseconds = 4095),
      (i) => (i.redundancy.virtualGateways = [{ networkId: 'net-1', linkLocal: 'fe80::ffff:ffff:ffff:ffff' }]),
      (i) => (i.guestNetworks[0].interface = 'guest-netw1'),
      (i) => delete i.public.expectedPrefix,
    ];
    for (const [index, change] of accepted.entries()) expect(errorsOf(change), `case ${index}`).toEqual([]);
  });

  it("refuses a BGP peer inside a guest /64, which the backup cannot reach and the pair's next hops do not suit", () => {
    const guestPeer = { address: '2001:db8:200:1::9', remoteAs: 65001 };
    const single = bgpInput();
    single.routing.bgp.peers.push(guestPeer);
    expect(parseWith(DesiredState, single).ok).toBe(true);
    expect(
      errorsOf((i) => {
        i.routing = bgpInput().routing;
        i.routing.bgp.peers.push(guestPeer, { ...guestPeer, address: '2001:db8:200:1::a', multihopTtl: 2 });
      }),
    ).toEqual(
      [1, 2].map((peer) => ({
        path: `$.routing.bgp.peers[${peer}].address`,
        message: expect.stringMatching(/^is inside a guest prefix, which a redundant pair does not peer in: .*backup.*cannot reach the peer; peer on the public link \(guestNetworks\[0\]\.prefix\)$/),
      })),
    );
  });
});
