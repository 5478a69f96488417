import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { deriveDeprecatedPrefixes } from '../../src/render/deprecated-prefixes.js';
import { renderHost } from '../../src/render/host-facts.js';
import { parseDesiredState } from '../../src/schema/desired-state-parser.js';
import type { DesiredState } from '../../src/schema/desired-state.js';
import { vpcInput } from '../support/states.js';

/**
 * The caches of the core share a DesiredState's parts and key on identity or
 * text, which is sound because a DesiredState and its parts are never mutated
 * (the rule on the type, in src/schema/desired-state.ts). Here: the types
 * refuse writes, and rendering writes nothing.
 */

// Never called: tsc (`make test` runs it over test/) must refuse every write, and an
// unused @ts-expect-error is itself an error, so a type that lost its readonly fails.
function writeEverywhere(state: DesiredState): void {
  // @ts-expect-error the state itself
  state.raBackend = 'frr';
  // @ts-expect-error a nested object
  state.public.interface = 'eth9';
  // @ts-expect-error an array
  state.guestNetworks.push(state.guestNetworks[0]!);
  // @ts-expect-error an element of an array
  state.guestNetworks[0]!.ra.dnsServers[0] = '2001:db8::53';
  // @ts-expect-error a prefix, which the IPv6 parser shares between all states
  state.guestNetworks[0]!.prefix.length = 48;
  // @ts-expect-error an ACL item, deep inside a list the parser shares between pushes
  state.aclLists[0]!.items[0]!.cidrs[0]!.address = '::';
  // @ts-expect-error sorting in place
  state.aclLists[0]!.items.sort((a, b) => a.number - b.number);
}

function parsed(input: unknown): DesiredState {
  const result = parseDesiredState(input);
  if (!result.ok) throw new Error(`refused: ${JSON.stringify(result.errors)}`);
  return result.value;
}

describe('a DesiredState', () => {
  it('is left as it was parsed by rendering, for every golden case and for a push that shares lists', () => {
    const states = readdirSync('test/golden').map((name) => parsed(JSON.parse(readFileSync(join('test/golden', name, 'desired.json'), 'utf8'))));
    const before = parsed(vpcInput());
    const input = vpcInput();
    input.guestNetworks[1].prefix = '2001:db8:200:3::/64';
    input.aclLists[0].items[0].action = 'deny';
    const after = parsed(input);
    expect(after.aclLists[1]).toBe(before.aclLists[1]);
    const copies = [...states, before, after].map((state) => structuredClone(state));
    for (const state of states) renderHost(state);
    renderHost(before);
    renderHost(after, deriveDeprecatedPrefixes(before, after, [], 1_000, 3_600));
    renderHost(before);
    expect([...states, before, after]).toEqual(copies);
  });
});
