import fc from 'fast-check';
import ipaddr from 'ipaddr.js';
import { describe, expect, it } from 'vitest';
import { Ipv6SyntaxError, parseIpv6Address, parseIpv6Interface, parseIpv6Prefix } from '../../src/schema/ipv6.js';

/**
 * The IPv6 parsers parse each text once and clear host bits themselves; the
 * reference is ipaddr.js's own multi-pass answer (isValid, parse,
 * networkAddressFromCIDR), which they must equal on every input.
 */
const group = fc.integer({ min: 0, max: 0xffff });
const address = fc.array(group, { minLength: 8, maxLength: 8 }).map((parts) => new ipaddr.IPv6(parts));
const fixedLength = (a: ipaddr.IPv6) => a.parts.map((part) => part.toString(16).padStart(4, '0')).join(':');
// Every spelling ipaddr.js prints: RFC 5952, the full form, and the normal (uncompressed short) form.
const spelling = fc.tuple(address, fc.constantFrom('rfc5952', 'fixed', 'normal')).map(([a, form]) =>
  form === 'rfc5952' ? a.toRFC5952String() : form === 'fixed' ? fixedLength(a) : a.toNormalizedString(),
);

function reference(text: string): { address: string; length: number } | 'invalid' {
  const [addressText = '', lengthText = ''] = text.split('/');
  if (!ipaddr.IPv6.isValid(addressText) || !/^\d{1,3}$/.test(lengthText) || Number(lengthText) > 128) return 'invalid';
  const parsed = ipaddr.IPv6.parse(addressText);
  if (parsed.isIPv4MappedAddress()) return 'invalid';
  return { address: ipaddr.IPv6.networkAddressFromCIDR(text).toRFC5952String(), length: Number(lengthText) };
}

describe('IPv6 parsing', () => {
  it('clears host bits exactly as ipaddr.js networkAddressFromCIDR does, for every length', () => {
    fc.assert(
      fc.property(spelling, fc.integer({ min: 0, max: 128 }), (text, length) => {
        const cidr = `${text}/${length}`;
        const expected = reference(cidr);
        if (expected === 'invalid') expect(() => parseIpv6Prefix(cidr)).toThrow(Ipv6SyntaxError);
        else expect(parseIpv6Prefix(cidr)).toEqual(expected);
      }),
      { numRuns: 3000 },
    );
  });

  it('keeps host bits of an interface address and prints it in RFC 5952 form', () => {
    fc.assert(
      fc.property(address, fc.integer({ min: 0, max: 128 }), (a, length) => {
        const text = `${fixedLength(a)}/${length}`;
        if (a.isIPv4MappedAddress()) return;
        expect(parseIpv6Interface(text)).toEqual({ address: a.toRFC5952String(), length });
      }),
    );
  });

  it.each([
    ['2001:db8::1/64', { address: '2001:db8::', length: 64 }],
    ['2001:DB8:0:0:1:0:0:1/127', { address: '2001:db8:0:0:1::', length: 127 }],
    ['2001:db8:1:2:3:4:5:6/0', { address: '::', length: 0 }],
    ['2001:db8::ffff/113', { address: '2001:db8::8000', length: 113 }],
    ['2001:db8::ffff/128', { address: '2001:db8::ffff', length: 128 }],
  ])('%s is %o', (text, expected) => {
    expect(parseIpv6Prefix(text)).toEqual(expected);
  });

  it.each([
    ['192.0.2.1', /IPv4 address where IPv6/],
    ['::ffff:192.0.2.1', /IPv4-mapped/],
    ['2001:db8::1%eth0', /not an IPv6 address/],
    ['2001:db8:::1', /not an IPv6 address/],
    ['example.com', /not an IPv6 address/],
    ['', /not an IPv6 address/],
  ])('refuses %j', (text, message) => {
    expect(() => parseIpv6Address(text)).toThrow(message);
  });

  it.each([
    ['2001:db8::', /needs a prefix length/],
    ['2001:db8::/129', /outside 0-128/],
    ['2001:db8::/-1', /outside 0-128/],
    ['2001:db8::/ 64', /outside 0-128/],
  ])('refuses the prefix %j', (text, message) => {
    expect(() => parseIpv6Prefix(text)).toThrow(message);
  });
});
