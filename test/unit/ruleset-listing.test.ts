import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseRulesetListing } from '../../src/observe/ruleset-listing.js';

/** The fixture is the real `nft list table ip6 vr6_agent` of the golden case isolated-basic (nft 1.0.6). */
const listing = readFileSync('test/fixtures/nft-list-table-ip6-vr6_agent.txt', 'utf8');

describe('parsing nft list table', () => {
  const parsed = parseRulesetListing(listing);

  it('finds every chain and named counter', () => {
    expect([...parsed.chains.keys()]).toEqual(['input', 'forward', 'egress_eth2', 'ingress_eth2']);
    expect(parsed.counters).toEqual(new Map([['usage_egress_eth2', { packets: 0, bytes: 0 }], ['usage_ingress_eth2', { packets: 0, bytes: 0 }]]));
  });

  it('ignores counter values, so traffic is not drift', () => {
    const busy = listing
      .replace('counter packets 0 bytes 0 drop comment "default ingress deny"', 'counter packets 17 bytes 1800 drop comment "default ingress deny"')
      .replace(/(counter usage_egress_eth2 \{\n\t\tpackets) 0 bytes 0/, '$1 5 bytes 640');
    const again = parseRulesetListing(busy);
    expect(again.chains).toEqual(parsed.chains);
    expect(again.counters.get('usage_egress_eth2')).toEqual({ packets: 5, bytes: 640 });
  });

  it('tells an edited chain from the others', () => {
    const edited = parseRulesetListing(listing.replace('tcp dport 80 accept comment "firewall rule fw-web"', 'tcp dport 81 accept comment "firewall rule fw-web"'));
    const changed = [...parsed.chains.keys()].filter((name) => edited.chains.get(name) !== parsed.chains.get(name));
    expect(changed).toEqual(['ingress_eth2']);
  });
});
