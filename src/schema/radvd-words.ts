/**
 * Words radvd 2.19's lexer (Debian 12) reads as something other than a name:
 * its keywords, whole numbers and decimals. As an interface name, radvd
 * refuses the whole config (`interface on`, `interface 0`: syntax error).
 * The keywords are every word of radvd.conf(5) that `radvd -c` refuses as
 * an interface name, plus the undocumented ones of its scanner found the same
 * way; case matters ("ON" is a name).
 */
const RADVD_KEYWORDS = new Set(
  (
    'AdvAutonomous AdvCurHopLimit AdvDNSSLLifetime AdvDefaultLifetime AdvDefaultPreference AdvHomeAgentFlag ' +
    'AdvHomeAgentInfo AdvIntervalOpt AdvLinkMTU AdvManagedFlag AdvMobRtrSupportFlag AdvOnLink AdvOtherConfigFlag ' +
    'AdvPreferredLifetime AdvRASolicitedUnicast AdvRASrcAddress AdvRDNSSLifetime AdvReachableTime AdvRetransTimer ' +
    'AdvRouteLifetime AdvRoutePreference AdvRouterAddr AdvSendAdvert AdvSourceLLAddress AdvValidLifeTime ' +
    'AdvValidLifetime AdvVersionHigh AdvVersionLow Base6Interface Base6to4Interface DNSSL DecrementLifetimes ' +
    'DeprecatePrefix FlushDNSSL FlushRDNSS HomeAgentLifetime HomeAgentPreference IgnoreIfMissing MaxRtrAdvInterval ' +
    'MinDelayBetweenRAs MinRtrAdvInterval RDNSS RemoveRoute UnicastOnly abro clients high infinity interface low ' +
    'medium off on prefix route lowpanco AdvContextLength AdvContextCompressionFlag AdvContextID AdvLifeTime ' +
    'AdvRDNSSOpen AdvRDNSSPreference'
  ).split(' '),
);

/** True when radvd.conf would read the word as a keyword or a number instead of a name. */
export function isRadvdToken(word: string): boolean {
  return RADVD_KEYWORDS.has(word) || /^[0-9]+(\.[0-9]+)?$/.test(word);
}
