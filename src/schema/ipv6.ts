import ipaddr from 'ipaddr.js';

/** An IPv6 prefix in canonical form: the network address with host bits cleared, plus its length. */
export interface Ipv6Prefix {
  readonly address: string;
  readonly length: number;
}

/** Why a string is not the IPv6 value a field needs; the message is shown to the operator. */
export class Ipv6SyntaxError extends Error {
  constructor(readonly input: string, reason: string) {
    super(reason);
    this.name = 'Ipv6SyntaxError';
  }
}

// A strict lexical gate before ipaddr.js: hex digits, colons and at most one
// dotted tail. It keeps zone ids, whitespace and anything nft would try to
// resolve through DNS out (docs/field-notes.md#nftables).
const ADDRESS_CHARS = /^[0-9A-Fa-f:.]{2,45}$/;

function parseAddressObject(text: string): ipaddr.IPv6 {
  if (!ADDRESS_CHARS.test(text)) throw new Ipv6SyntaxError(text, 'is not an IPv6 address');
  let address: ipaddr.IPv6;
  try {
    // One parse: isValid() would parse it once more only to say the same.
    address = ipaddr.IPv6.parse(text);
  } catch {
    const isIpv4 = ipaddr.IPv4.isValidFourPartDecimal(text);
    throw new Ipv6SyntaxError(text, isIpv4 ? 'is an IPv4 address where IPv6 is required' : 'is not an IPv6 address');
  }
  if (address.isIPv4MappedAddress()) {
    throw new Ipv6SyntaxError(text, 'is an IPv4-mapped address where IPv6 is required');
  }
  return address;
}

// ipaddr.js parsing is most of the cost of validating a large policy, and a
// desired state repeats the same CIDRs in every push: results are memoised
// and shared, which the rule on DesiredState (desired-state.ts) makes sound;
// the bound keeps a hostile push from growing the memo.
const MEMO_LIMIT = 100_000;

function memoise<T>(parse: (text: string) => T): (text: string) => T {
  const memo = new Map<string, T>();
  return (text) => {
    const known = memo.get(text);
    if (known !== undefined) return known;
    const value = parse(text);
    if (memo.size >= MEMO_LIMIT) memo.clear();
    memo.set(text, value);
    return value;
  };
}

/** Parses an IPv6 address and returns it in RFC 5952 form; throws Ipv6SyntaxError otherwise. */
export const parseIpv6Address = memoise((text: string): string => parseAddressObject(text).toRFC5952String());

/** Parses "address/length"; the address keeps its host bits (use for interface addresses). */
export const parseIpv6Interface = memoise((text: string): { readonly address: string; readonly length: number } => {
  const { address, length } = parseCidrObject(text);
  return { address: address.toRFC5952String(), length };
});

function parseCidrObject(text: string): { readonly address: ipaddr.IPv6; readonly length: number } {
  const slash = text.indexOf('/');
  if (slash < 0) throw new Ipv6SyntaxError(text, 'needs a prefix length, as in 2001:db8::1/64');
  const lengthText = text.slice(slash + 1);
  if (!/^\d{1,3}$/.test(lengthText) || Number(lengthText) > 128) {
    throw new Ipv6SyntaxError(text, 'has a prefix length outside 0-128');
  }
  return { address: parseAddressObject(text.slice(0, slash)), length: Number(lengthText) };
}

/** Parses a CIDR and clears its host bits, so "2001:db8::1/64" becomes 2001:db8::/64. */
export const parseIpv6Prefix = memoise((text: string): Ipv6Prefix => {
  const { address, length } = parseCidrObject(text);
  const parts = address.parts.map((part, index) => part & groupMask(length - 16 * index));
  return { address: new ipaddr.IPv6(parts).toRFC5952String(), length };
});

// The mask of one 16-bit group that keeps its first `bits` bits (all of them from 16 on).
function groupMask(bits: number): number {
  if (bits <= 0) return 0;
  return bits >= 16 ? 0xffff : (0xffff << (16 - bits)) & 0xffff;
}

/** Formats a prefix as "address/length". */
export function formatPrefix(prefix: Ipv6Prefix): string {
  return `${prefix.address}/${prefix.length}`;
}

/**
 * An address's 128 bits as a number, for comparing and ordering addresses;
 * the address must already be valid. Memoised as the parsers are: the checks
 * that span a state ask it of every routed prefix and next hop of every push.
 */
export const addressValue = memoise((address: string): bigint =>
  ipaddr.IPv6.parse(address).parts.reduce((value, part) => (value << 16n) | BigInt(part), 0n),
);

/** True when the address lies inside the prefix. Both must already be valid. */
export function isInPrefix(address: string, prefix: Ipv6Prefix): boolean {
  const hostBits = BigInt(128 - prefix.length);
  return addressValue(address) >> hostBits === addressValue(prefix.address) >> hostBits;
}

/** True when the two prefixes share any address. */
export function isOverlapping(a: Ipv6Prefix, b: Ipv6Prefix): boolean {
  const shorter = a.length <= b.length ? a : b;
  const longer = shorter === a ? b : a;
  return isInPrefix(longer.address, shorter);
}

/** True for fe80::/10. */
export function isLinkLocal(address: string): boolean {
  return isInPrefix(address, LINK_LOCAL);
}

const LINK_LOCAL: Ipv6Prefix = { address: 'fe80::', length: 10 };

/**
 * The modified EUI-64 address (RFC 4291 appendix A) that SLAAC derives from a
 * 48-bit MAC inside a /64, as the kernel does with addr_gen_mode=0.
 */
export function eui64Address(prefix: Ipv6Prefix, mac: string): string {
  const octets = mac.split(':').map((part) => Number.parseInt(part, 16));
  if (octets.length !== 6 || octets.some((o) => !Number.isInteger(o) || o < 0 || o > 255)) {
    throw new Ipv6SyntaxError(mac, 'is not a 48-bit MAC address');
  }
  const [o0, o1, o2, o3, o4, o5] = octets as [number, number, number, number, number, number];
  const parts = ipaddr.IPv6.parse(prefix.address).parts.slice(0, 4);
  parts.push(((o0 ^ 0x02) << 8) | o1, (o2 << 8) | 0xff, (0xfe << 8) | o3, (o4 << 8) | o5);
  return new ipaddr.IPv6(parts).toRFC5952String();
}

/** The address with the given (small) interface identifier inside a prefix: hostAddress(2001:db8::/64, 1) is 2001:db8::1. */
export function hostAddress(prefix: Ipv6Prefix, interfaceId: number): string {
  const parts = ipaddr.IPv6.parse(prefix.address).parts.slice();
  parts[7] = (parts[7] ?? 0) | (interfaceId & 0xffff);
  return new ipaddr.IPv6(parts).toRFC5952String();
}
