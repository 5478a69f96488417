import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseDesiredState } from '../../src/schema/desired-state-parser.js';
import { DesiredState } from '../../src/schema/desired-state.js';
import { parseWith } from '../../src/schema/validation.js';
import { REPEATED_ARRAYS } from '../../src/transport/management-client.js';
import { RepeatingJsonParser } from '../../src/transport/repeating-json.js';
import { vpcInput } from '../support/states.js';

/**
 * parseDesiredState validates only ACL lists it has not accepted before; its
 * answer must be the schema's own, whatever the cache holds.
 */

function vpcWithLists(): Record<string, any> {
  const input = vpcInput();
  input.aclLists[1].items = Array.from({ length: 60 }, (_, i) => ({
    number: i + 1,
    action: i % 3 === 0 ? 'deny' : 'allow',
    direction: i % 2 === 0 ? 'ingress' : 'egress',
    protocol: 'udp',
    ports: { start: 1000 + i, end: 1000 + i },
    cidrs: [`2001:db8:${i}::/48`],
  }));
  return input;
}

/** parseDesiredState answers for `input` as the schema does, after a parse of `known()` filled its memory. */
function expectSameAsSchema(input: unknown, known: () => unknown = vpcWithLists): void {
  parseDesiredState(known(), '$.spec');
  expect(parseDesiredState(input, '$.spec')).toEqual(parseWith(DesiredState, input, '$.spec'));
}

/** Parses `build()`, then `build()` as `change` leaves it; both must be accepted. */
function parseBeforeAndAfter(build: () => Record<string, any>, change: (input: Record<string, any>) => void): [DesiredState, DesiredState] {
  const first = parseDesiredState(build());
  const input = build();
  change(input);
  const second = parseDesiredState(input);
  if (!first.ok || !second.ok) throw new Error('expected both states to be accepted');
  return [first.value, second.value];
}

/** With any JSON value at one of `paths` of `build()`, parseDesiredState still answers as the schema does. */
function expectSameAsSchemaForAnyValueAt(build: () => Record<string, any>, paths: (string | number)[][]): void {
  fc.assert(
    fc.property(fc.constantFrom(...paths), fc.jsonValue(), (path, value) => {
      const input = build();
      const parent = path.slice(0, -1).reduce((node: any, key) => node[key], input);
      parent[path.at(-1)!] = value;
      expectSameAsSchema(input, build);
    }),
    { numRuns: 300 },
  );
}

describe('parsing a desired state with known ACL lists', () => {
  it.each([
    ['an unchanged state', () => undefined],
    ['one item changed', (s: any) => (s.aclLists[1].items[51].action = 'allow')],
    ['a bad CIDR in a known list', (s: any) => (s.aclLists[1].items[51].cidrs[0] = '2001:db8::/129')],
    ['a host name as CIDR', (s: any) => (s.aclLists[1].items[51].cidrs = ['2001:db8::/48', 'example.com'])],
    ['a duplicate item number', (s: any) => (s.aclLists[1].items[7].number = 3)],
    ['a duplicate number and a tier naming a missing list', (s: any) => ((s.aclLists[1].items[7].number = 3), (s.guestNetworks[0].aclId = 'nope'))],
    ['a bad list and a bad prefix', (s: any) => ((s.aclLists[0].items[0].protocol = 1), (s.guestNetworks[1].prefix = '2001:db8::/56'))],
    ['a tier naming a missing list', (s: any) => (s.guestNetworks[0].aclId = 'nope')],
    ['duplicate list ids', (s: any) => (s.aclLists[1].id = 'acl-web')],
    ['a list that is not an object', (s: any) => (s.aclLists[1] = 'acl-db')],
    ['aclLists that is not an array', (s: any) => (s.aclLists = { 0: s.aclLists[0] })],
    ['no aclLists', (s: any) => delete s.aclLists],
    ['the same list twice', (s: any) => s.aclLists.push(s.aclLists[1])],
    ['an unknown key beside known lists', (s: any) => (s.extra = 1)],
    ['a hole in a CIDR list', (s: any) => (s.aclLists[1].items[2].cidrs = [, '::/0'])],
    ['a Date where a list id belongs', (s: any) => (s.aclLists[1].id = new Date(0))],
  ])('answers as the schema does for %s', (_name, mutate) => {
    const input = vpcWithLists();
    mutate(input);
    expectSameAsSchema(input);
  });

  it('answers as the schema does when any one value is replaced', () => {
    const paths = [
      ['aclLists', 1, 'items', 51, 'cidrs', 0],
      ['aclLists', 1, 'items', 51, 'ports'],
      ['aclLists', 1, 'items', 0, 'number'],
      ['aclLists', 1, 'defaultEgress'],
      ['aclLists', 0, 'id'],
      ['guestNetworks', 1, 'aclId'],
      ['router', 'kind'],
    ];
    expectSameAsSchemaForAnyValueAt(vpcWithLists, paths);
  });

  it('returns the very output of a list it accepted before, and a new one for a changed list', () => {
    const [first, second] = parseBeforeAndAfter(vpcWithLists, (input) => (input.aclLists[1].items[51].action = 'allow'));
    expect(second.aclLists[0]).toBe(first.aclLists[0]);
    expect(second.aclLists[1]).not.toBe(first.aclLists[1]);
    expect(second.aclLists[1]?.items[51]?.action).toBe('allow');
  });

  it('gives the failing item its full path', () => {
    const input = vpcWithLists();
    input.aclLists[1].items[51].cidrs[0] = '10.0.0.0/8';
    parseDesiredState(vpcWithLists(), '$.spec');
    const parsed = parseDesiredState(input, '$.spec');
    expect(parsed.ok ? [] : parsed.errors.map((e) => e.path)).toEqual(['$.spec.aclLists[1].items[51].cidrs[0]']);
  });

  it('answers as the schema does for frames that repeat lists, parsed as the daemon parses them', () => {
    // The transport shares the lists a frame repeats (with their text); the answer must not change.
    const paths = [
      ['aclLists', 1, 'items', 51, 'cidrs', 0],
      ['aclLists', 1, 'items', 51, 'action'],
      ['aclLists', 0, 'id'],
      ['guestNetworks', 1, 'aclId'],
    ];
    const parser = new RepeatingJsonParser(REPEATED_ARRAYS);
    const frame = (spec: unknown) => Buffer.from(JSON.stringify({ type: 'desired', generation: 1, spec }));
    const parseFrame = (bytes: Buffer) => {
      const { value, sourceOf } = parser.parse(bytes);
      return parseDesiredState((value as { spec: unknown }).spec, '$.spec', { sourceOf });
    };
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.constantFrom(...paths), fc.jsonValue()), { maxLength: 4 }), (changes) => {
        let input = vpcWithLists();
        for (const [path, value] of [[paths[0]!, '2001:db8::/48'] as const, ...changes]) {
          input = structuredClone(input);
          const parent = path.slice(0, -1).reduce((node: any, key) => node[key], input);
          parent[path.at(-1)!] = value;
          const viaFrame = parseFrame(frame(input));
          expect(viaFrame).toEqual(parseWith(DesiredState, JSON.parse(JSON.stringify(input)), '$.spec'));
        }
      }),
      { numRuns: 200 },
    );
  });

  it('keys each list by the text the frame parser gives for it, and prints the list only without one', () => {
    const first = parseDesiredState(vpcWithLists());
    const changed = vpcWithLists();
    changed.aclLists[1].items[51].action = 'allow';
    // The text is trusted: the text of the list as it was accepted stands for the changed list, which is not printed.
    const acceptedText = JSON.stringify(vpcWithLists().aclLists[1]);
    const trusted = parseDesiredState(changed, '$', { sourceOf: (value) => (value === changed.aclLists[1] ? acceptedText : undefined) });
    const printed = parseDesiredState(changed);
    if (!first.ok || !trusted.ok || !printed.ok) throw new Error('expected every state to be accepted');
    expect(trusted.value.aclLists[1]).toBe(first.value.aclLists[1]);
    expect(trusted.value.aclLists[1]?.items[51]?.action).toBe('deny');
    expect(printed.value.aclLists[1]?.items[51]?.action).toBe('allow');
    expect(printed).toEqual(parseWith(DesiredState, changed));
  });
});

/** The VPC state, schemaVersion 2, routing 40 /56s to instances of the web tier and two to the db tier. */
function vpcWithRoutedPrefixes(): Record<string, any> {
  const input = vpcInput();
  input.schemaVersion = 2;
  input.guestNetworks[0].routedPrefixes = Array.from({ length: 40 }, (_, i) => ({ prefix: `2001:db8:${(0x1000 + i).toString(16)}::/56`, nextHop: '2001:db8:200:1::a' }));
  input.guestNetworks[1].routedPrefixes = [
    { prefix: '2001:db8:2000::/56', nextHop: 'fe80::5054:ff:fe00:1', description: 'vpn' },
    { prefix: '2001:db8:2100::/56', nextHop: '2001:db8:200:2::b' },
  ];
  return input;
}

describe('parsing a desired state with known routed prefixes', () => {
  it.each([
    ['an unchanged state', () => undefined],
    ['one prefix moved to another instance', (s: any) => (s.guestNetworks[0].routedPrefixes[17].nextHop = '2001:db8:200:1::b')],
    ['a next hop outside the network', (s: any) => (s.guestNetworks[0].routedPrefixes[17].nextHop = '2001:db8:200:2::b')],
    ["a next hop that is the VR's own address", (s: any) => (s.guestNetworks[0].routedPrefixes[17].nextHop = '2001:db8:200:1::1')],
    ['a bad CIDR', (s: any) => (s.guestNetworks[0].routedPrefixes[3].prefix = '2001:db8::/129')],
    ['a /72', (s: any) => (s.guestNetworks[0].routedPrefixes[3].prefix = '2001:db8:1003::/72')],
    ['a plain CIDR in schemaVersion 2', (s: any) => (s.guestNetworks[0].routedPrefixes[3] = '2001:db8:1003::/56')],
    ['the object form in schemaVersion 1', (s: any) => (s.schemaVersion = 1)],
    ['the same entry twice in one network', (s: any) => s.guestNetworks[0].routedPrefixes.push(s.guestNetworks[0].routedPrefixes[5])],
    ['the same entry in two networks', (s: any) => s.guestNetworks[1].routedPrefixes.push(s.guestNetworks[0].routedPrefixes[5])],
    ['two prefixes that nest', (s: any) => (s.guestNetworks[0].routedPrefixes[8].prefix = '2001:db8:1000::/48')],
    ['an unknown key in an entry', (s: any) => (s.guestNetworks[0].routedPrefixes[9].weight = 1)],
    ['a Date as next hop', (s: any) => (s.guestNetworks[0].routedPrefixes[9].nextHop = new Date(0))],
    ['routedPrefixes that is not an array', (s: any) => (s.guestNetworks[1].routedPrefixes = { 0: s.guestNetworks[1].routedPrefixes[0] })],
    ['a network that is not an object', (s: any) => (s.guestNetworks[1] = 'db')],
    ['guestNetworks that is not an array', (s: any) => (s.guestNetworks = { 0: s.guestNetworks[0] })],
    ['no routedPrefixes', (s: any) => delete s.guestNetworks[0].routedPrefixes],
    ['more than 1024 entries', (s: any) => (s.guestNetworks[0].routedPrefixes = Array.from({ length: 1025 }, (_, i) => ({ prefix: `2001:db8:${(0x4000 + i).toString(16)}::/56`, nextHop: '2001:db8:200:1::a' })))],
    ['a moved prefix and a bad list', (s: any) => ((s.guestNetworks[0].routedPrefixes[17].nextHop = '2001:db8:200:1::b'), (s.aclLists[0].items[0].protocol = 1))],
  ])('answers as the schema does for %s', (_name, mutate) => {
    const input = vpcWithRoutedPrefixes();
    mutate(input);
    expectSameAsSchema(input, vpcWithRoutedPrefixes);
  });

  // The places a test replaces a value at: an entry, a value inside one, and the network and version it is checked against.
  const paths = [
    ['guestNetworks', 0, 'routedPrefixes', 17, 'nextHop'],
    ['guestNetworks', 0, 'routedPrefixes', 17, 'prefix'],
    ['guestNetworks', 0, 'routedPrefixes', 17],
    ['guestNetworks', 1, 'routedPrefixes', 0, 'description'],
    ['guestNetworks', 1, 'prefix'],
    ['schemaVersion'],
  ];

  it('answers as the schema does when any one value of an entry is replaced', () => {
    expectSameAsSchemaForAnyValueAt(vpcWithRoutedPrefixes, paths);
  });

  it('answers as the schema does for frames that repeat routed prefixes, parsed as the daemon parses them', () => {
    // The transport shares the entries a frame repeats, with their texts, which the parser keys them by.
    const entries = fc.oneof(
      fc.constantFrom('2001:db8:200:1::b', '2001:db8:200:2::b', '2001:db8:1000::/48', '2001:db8:2000::/56', 'fe80::1'),
      fc.record({ prefix: fc.constantFrom('2001:db8:1011::/56', '2001:db8:1003::/56', '2001:db8:200:1::/64'), nextHop: fc.constantFrom('2001:db8:200:1::b', '2001:db8:200:2::1') }),
      fc.constantFrom(1, 2),
      fc.jsonValue(),
    );
    const parser = new RepeatingJsonParser(REPEATED_ARRAYS);
    const frame = (spec: unknown) => Buffer.from(JSON.stringify({ type: 'desired', generation: 1, spec }));
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.constantFrom(...paths), entries), { maxLength: 4 }), (changes) => {
        let input = vpcWithRoutedPrefixes();
        for (const [path, value] of [[paths[0]!, '2001:db8:200:1::c'] as const, ...changes]) {
          input = structuredClone(input);
          const parent = path.slice(0, -1).reduce((node: any, key) => node?.[key], input);
          // An entry an earlier change replaced with a primitive has no values inside to replace.
          if (typeof parent !== 'object' || parent === null) continue;
          parent[path.at(-1)!] = value;
          const { value: message, sourceOf } = parser.parse(frame(input));
          const viaFrame = parseDesiredState((message as { spec: unknown }).spec, '$.spec', { sourceOf });
          expect(viaFrame).toEqual(parseWith(DesiredState, JSON.parse(JSON.stringify(input)), '$.spec'));
        }
      }),
      { numRuns: 200 },
    );
  });

  it('returns the very entries it accepted before when one prefix moves, and a new one for the moved prefix', () => {
    const move = (input: Record<string, any>) => (input.guestNetworks[0].routedPrefixes[17].nextHop = '2001:db8:200:1::b');
    const [first, second] = parseBeforeAndAfter(vpcWithRoutedPrefixes, move);
    const [before, after] = [first.guestNetworks[0]!.routedPrefixes, second.guestNetworks[0]!.routedPrefixes];
    expect(after.filter((entry, i) => entry !== before[i]).map((entry) => entry.nextHop)).toEqual(['2001:db8:200:1::b']);
    expect(second.guestNetworks[1]!.routedPrefixes[0]).toBe(first.guestNetworks[1]!.routedPrefixes[0]);
    const input = vpcWithRoutedPrefixes();
    move(input);
    expect(second).toEqual(DesiredState.parse(input));
  });
});

describe('parsing a desired state with a part nested very deep', () => {
  /** An array holding an array, `depth` times: deep enough that a recursive walk runs out of stack. */
  function nested(depth: number): unknown {
    let value: unknown = [];
    for (let i = 0; i < depth; i++) value = [value];
    return value;
  }

  it('refuses a routed-prefix entry or an ACL item nested 50,000 deep at its path, and does not throw', () => {
    const routed = vpcWithRoutedPrefixes();
    routed.guestNetworks[1].routedPrefixes[0].description = nested(50_000);
    const parsedRouted = parseDesiredState(routed, '$.spec');
    expect(parsedRouted.ok ? [] : parsedRouted.errors.map((e) => e.path)).toEqual(['$.spec.guestNetworks[1].routedPrefixes[0]']);
    expect(parsedRouted).toEqual(parseWith(DesiredState, routed, '$.spec'));
    const acl = vpcWithLists();
    acl.aclLists[1].items[3].cidrs = nested(50_000);
    const parsedAcl = parseDesiredState(acl, '$.spec');
    expect(parsedAcl.ok ? [] : parsedAcl.errors.map((e) => e.path)).toEqual(['$.spec.aclLists[1].items[3].cidrs[0]']);
    expect(parsedAcl).toEqual(parseWith(DesiredState, acl, '$.spec'));
  });
});
