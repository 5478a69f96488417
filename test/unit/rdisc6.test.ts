import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseRdisc6 } from '../lab/rdisc6.js';

/**
 * The lab compares RAs of radvd and zebra through this parser, so it must
 * equate what is equivalent and nothing else. The fixtures are rdisc6's output
 * for radvd 2.19 and zebra 8.4.4 configured alike (docs/research/ra-backends.md).
 */
const radvd = readFileSync('test/fixtures/rdisc6-radvd.txt', 'utf8');
const zebra = readFileSync('test/fixtures/rdisc6-zebra.txt', 'utf8');

describe('rdisc6 output', () => {
  it('reads every field of an RA', () => {
    expect(parseRdisc6(radvd)).toEqual({
      header: {
        'Hop limit': '64 (      0x40)',
        'Stateful address conf.': 'No',
        'Stateful other conf.': 'No',
        'Mobile home agent': 'No',
        'Router preference': 'medium',
        'Neighbor discovery proxy': 'No',
        'Router lifetime': '30 (0x0000001e) seconds',
        'Reachable time': 'unspecified (0x00000000)',
        'Retransmit time': 'unspecified (0x00000000)',
      },
      prefixes: [
        '2001:db8:1::/64 on-link=Yes autonomous=Yes valid=86400 preferred=9720',
        '2001:db8:2::/64 on-link=Yes autonomous=Yes valid=0 preferred=0',
      ],
      routes: [],
      mtu: '1480 bytes (valid)',
      dnsServers: ['2001:db8:1::53 20', '2001:db8:1::54 20'],
      searchDomains: ['a.example 20', 'b.example 20'],
      sourceLinkLayer: '3E:63:62:EA:B4:23',
      from: 'fe80::3c63:62ff:feea:b423',
      otherOptions: [],
    });
  });

  it("equates radvd's packed RDNSS/DNSSL options with zebra's one per entry, in any order", () => {
    expect(parseRdisc6(zebra)).toEqual(parseRdisc6(radvd));
  });

  it('tells apart RAs that differ in one lifetime', () => {
    const other = zebra.replace('DNS server lifetime     :           20 (0x00000014)', 'DNS server lifetime     :           30 (0x0000001e)');
    expect(other).not.toBe(zebra);
    expect(parseRdisc6(other).dnsServers).toEqual(['2001:db8:1::53 30', '2001:db8:1::54 20']);
    expect(parseRdisc6(other)).not.toEqual(parseRdisc6(radvd));
  });
});
