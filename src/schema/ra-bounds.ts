/**
 * The bounds and defaults of the router advertisement settings, each held
 * against the current RFC and against what the two senders on Debian 12,
 * radvd 2.19 and FRR 8.4's zebra, accept and put on the wire. Where the RFC
 * allows more than either daemon can send, the bound is the daemons' and its
 * error says so. docs/desired-state.md has the table of every bound.
 */

/** 0xffffffff: an infinite lifetime in a prefix, route, RDNSS or DNSSL option (RFC 4861 §4.6.2, RFC 4191 §2.3, RFC 8106 §5). */
export const INFINITE_LIFETIME = 0xffffffff;

/** MaxRtrAdvInterval, seconds: RFC 4861 §6.2.1's floor of 4, and the 1800 both daemons send at most. */
export const MAX_INTERVAL = { min: 4, max: 1800 } as const;

/** MinRtrAdvInterval, seconds: RFC 4861 §6.2.1's floor of 3; the ceiling is 0.75 × MaxRtrAdvInterval. */
export const MIN_INTERVAL = { min: 3, max: 0.75 * MAX_INTERVAL.max } as const;

/** Router lifetime, seconds, when not 0: at least MaxRtrAdvInterval, and the 9000 both daemons send at most. */
export const ROUTER_LIFETIME_MAX = 9000;

// RFC 8319 §4 raised both ceilings to 65535 s; radvd 2.19 checks its old ones only when it
// sets an interface up (radvd -c passes), then never advertises there; zebra's CLI refuses them.
/** Why maxIntervalSeconds stops at 1800 where the RFC goes on. */
export const MAX_INTERVAL_MESSAGE =
  `must be at most ${MAX_INTERVAL.max}: RFC 8319 allows up to 65535, but radvd 2.19 never advertises with a longer ` +
  'MaxRtrAdvInterval and zebra 8.4 refuses one';

/** Why routerLifetimeSeconds stops at 9000 where the RFC goes on. */
export const ROUTER_LIFETIME_MESSAGE =
  `must be at most ${ROUTER_LIFETIME_MAX}: RFC 8319 allows up to 65535, but radvd 2.19 never advertises with a longer ` +
  'AdvDefaultLifetime and zebra 8.4 refuses one';

/**
 * The MinRtrAdvInterval default of RFC 4861 §6.2.1 (with erratum 3154):
 * a third of MaxRtrAdvInterval from 9 s up, else 0.75 × Max; whole seconds,
 * never below the floor of 3. A fixed default would be refused with a small
 * maxIntervalSeconds.
 */
export function defaultMinInterval(maxIntervalSeconds: number): number {
  const share = maxIntervalSeconds >= 9 ? maxIntervalSeconds / 3 : 0.75 * maxIntervalSeconds;
  return Math.max(MIN_INTERVAL.min, Math.floor(share));
}

/**
 * The default of the router, RDNSS and DNSSL lifetimes: 3 × MaxRtrAdvInterval
 * (RFC 4861 §6.2.1 AdvDefaultLifetime, RFC 8106 §5.1 "at least 3 ×"), which
 * is also what radvd and zebra use for the router lifetime.
 */
export function defaultLifetime(maxIntervalSeconds: number): number {
  return 3 * maxIntervalSeconds;
}

/**
 * Bytes the RDNSS and DNSSL options may take in one RA. An RA must reach a
 * guest unfragmented (hosts drop fragmented ND, RFC 6980 §5) on any IPv6
 * link, down to the 1280-byte minimum MTU (RFC 8200 §5): 1240 bytes of
 * ICMPv6. Less the RA header (16), source link-layer address (8), MTU (8)
 * and four prefix options (the network's and three being deprecated, 32
 * each), 1080 remain; 1024 is what the DNS options get. Beyond the link MTU,
 * zebra 8.4 silently omits the options that do not fit and radvd 2.19 sends
 * a DNSSL option that exceeds 1280 bytes fragmented.
 */
export const DNS_OPTIONS_BUDGET = 1024;

/** Bytes of one RDNSS option per server, as zebra sends them (RFC 8106 §5.1: 8 + 16); radvd's packing is smaller. */
const RDNSS_BYTES_PER_SERVER = 24;

/** The most servers or names the budget can hold: lists longer than this are refused before anything is counted. */
export const DNS_SERVERS_MAX = Math.floor(DNS_OPTIONS_BUDGET / RDNSS_BYTES_PER_SERVER);
export const SEARCH_DOMAINS_MAX = Math.floor(DNS_OPTIONS_BUDGET / dnsslOptionBytes('a'));

/** One DNSSL option for one name, as zebra sends it: 8 bytes, then the name as RFC 1035 §3.1 labels, padded to 8 (RFC 8106 §5.2). */
function dnsslOptionBytes(domain: string): number {
  // "a.example" is 1 a 7 example 0: the text's length plus the first length byte and the root.
  const encoded = domain.replace(/\.$/, '').length + 2;
  return 8 + Math.ceil(encoded / 8) * 8;
}

/**
 * The bytes the RDNSS and DNSSL options of these servers and names take in
 * an RA, counted the way that takes most: one option per server and per
 * name, as zebra sends them. radvd packs three servers, and all names, into
 * one option each, which is never larger.
 */
export function dnsOptionsBytes(dnsServers: readonly string[], searchDomains: readonly string[]): number {
  return dnsServers.length * RDNSS_BYTES_PER_SERVER + searchDomains.reduce((sum, domain) => sum + dnsslOptionBytes(domain), 0);
}
