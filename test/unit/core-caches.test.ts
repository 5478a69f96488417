import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { deriveDeprecatedPrefixes } from '../../src/daemon/deprecations.js';
import { renderHost } from '../../src/render/host-facts.js';
import { renderBaseChains, renderRuleset } from '../../src/render/ruleset.js';
import { egressChainName, ingressChainName, renderAclPolicy, renderIsolatedPolicy } from '../../src/render/ruleset-policy.js';
import { parseDesiredState } from '../../src/schema/desired-state-parser.js';
import type { DesiredState } from '../../src/schema/desired-state.js';
import { bgpInput, isolatedInput, redundantInput, vpcInput } from '../support/states.js';

/**
 * The caches of the core share a DesiredState's parts and key on identity or
 * text, which is sound because a DesiredState and its parts are never mutated
 * (the rule on the type, in src/schema/desired-state.ts). Here: the types
 * refuse writes, rendering writes nothing, and a memoised render is a fresh one.
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

// The chains of each network from the policy renderers, which keep nothing: what the caches must give.
function renderFreshNetworkChains(state: DesiredState) {
  return [...state.guestNetworks]
    .sort((a, b) => (a.interface < b.interface ? -1 : 1))
    .flatMap((network) => {
      const list = state.aclLists.find((l) => l.id === network.aclId);
      const policy = state.router.kind === 'vpc' ? renderAclPolicy(list) : renderIsolatedPolicy(network);
      return [
        { name: egressChainName(network.interface), rules: policy.egress },
        { name: ingressChainName(network.interface), rules: policy.ingress },
      ];
    });
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

  it('renders from its caches what the policy renderers give afresh, push after push', () => {
    const pushes: Record<string, any>[] = [vpcInput()];
    const next = (change: (input: Record<string, any>) => void) => {
      const input = structuredClone(pushes.at(-1)!);
      change(input);
      pushes.push(input);
    };
    next((s) => (s.guestNetworks[1].aclId = 'acl-web')); // two tiers share one list
    next((s) => ([s.guestNetworks[0].interface, s.guestNetworks[1].interface] = ['eth3', 'eth2'])); // the tiers swap links
    next((s) => (s.aclLists[0].items[0].action = 'deny'));
    next((s) => (s.guestNetworks[0].aclId = 'acl-db'));
    next(() => undefined);
    pushes.push(isolatedInput());
    next((s) => (s.guestNetworks[0].firewall.defaultEgress = 'deny'));
    next((s) => (s.guestNetworks[0].firewall.defaultEgress = 'allow'));
    const states = pushes.map(parsed);
    const networkChains = (state: DesiredState) => renderRuleset(state).chains.filter((chain) => chain.base === undefined);
    for (const state of states) expect(networkChains(state)).toEqual(renderFreshNetworkChains(state));
    // The push that changed nothing: its lists are the very objects before, and so are their tiers' chains.
    expect(states[5]!.aclLists[0]).toBe(states[4]!.aclLists[0]);
    expect(networkChains(states[5]!)).toHaveLength(4);
    networkChains(states[4]!).forEach((chain, i) => expect(networkChains(states[5]!)[i]).toBe(chain));
  });

  it('renders the base chains once for pushes that only move routed prefixes, and afresh for any other change', () => {
    const routed = vpcInput();
    routed.schemaVersion = 2;
    routed.guestNetworks[0].routedPrefixes = Array.from({ length: 50 }, (_, i) => ({ prefix: `2001:db8:${(0x1000 + i).toString(16)}::/56`, nextHop: '2001:db8:200:1::a' }));
    const pushes: Record<string, any>[] = [routed];
    const next = (change: (input: Record<string, any>) => void) => {
      const input = structuredClone(pushes.at(-1)!);
      change(input);
      pushes.push(input);
    };
    next((s) => (s.guestNetworks[0].routedPrefixes[7].nextHop = '2001:db8:200:1::b')); // a move
    next((s) => (s.guestNetworks[0].routedPrefixes[7].description = 'moved')); // a description
    next((s) => (s.guestNetworks[1].routedPrefixes = [{ prefix: '2001:db8:2000::/56', nextHop: '2001:db8:200:2::b' }]));
    next((s) => (s.guestNetworks[0].routedPrefixes[3].prefix = '2001:db8:3000::/48'));
    next((s) => ([s.guestNetworks[0].interface, s.guestNetworks[1].interface] = ['eth3', 'eth2']));
    next((s) => (s.guestNetworks[0].vrServices = [{ protocol: 'udp', port: 53 }]));
    next((s) => (s.public.interface = 'eth4'));
    next((s) => (s.aclLists[0].items[0].action = 'deny'));
    pushes.push(bgpInput(), redundantInput(), isolatedInput());
    const states = pushes.map(parsed);
    const baseChains = (state: DesiredState, deprecated = deriveDeprecatedPrefixes(null, state, [], 1_000, 3_600)) =>
      renderRuleset(state, deprecated).chains.filter((chain) => chain.base !== undefined);
    for (const state of states) expect(baseChains(state)).toEqual(renderBaseChains(state));
    // A deprecated prefix is a valid source on its link until its window ends.
    const deprecated = deriveDeprecatedPrefixes(states[0]!, states[5]!, [], 1_000, 3_600);
    expect(deprecated).not.toEqual([]);
    expect(baseChains(states[5]!, deprecated)).toEqual(renderBaseChains(states[5]!, deprecated));
    // The move and the new description: the very chains of the push before, digests and all.
    baseChains(states[0]!).forEach((chain, i) => expect(baseChains(states[1]!)[i]).toBe(chain));
    baseChains(states[1]!).forEach((chain, i) => expect(baseChains(states[2]!)[i]).toBe(chain));
    baseChains(states[2]!).forEach((chain, i) => expect(baseChains(states[3]!)[i]).not.toBe(chain));
  });
});
