import { z } from 'zod';
import { Ipv6SyntaxError, parseIpv6Address, parseIpv6Interface, parseIpv6Prefix } from './ipv6.js';
import { isRadvdToken } from './radvd-words.js';

/**
 * Field types shared by the desired state, the protocol and the agent config.
 * Every string that reaches a rendered config or an argv passes one of these
 * first, so nothing can inject a newline, a brace or a DNS lookup.
 */

function ipv6Field<T>(parse: (text: string) => T, description: string) {
  return z
    .string()
    // Aborting: a refinement of the enclosing object must never see the raw text
    // (zod runs it after a mere length issue, and ipaddr.js would throw on it).
    .max(64, { abort: true })
    .transform((text, ctx) => {
      try {
        return parse(text);
      } catch (error) {
        if (!(error instanceof Ipv6SyntaxError)) throw error;
        ctx.addIssue({ code: 'custom', message: `"${text}" ${error.message}` });
        return z.NEVER;
      }
    })
    .meta({ description });
}

/** An IPv6 address, normalised to RFC 5952 form. IPv4 and IPv4-mapped addresses are refused. */
export const Ipv6Address = ipv6Field(parseIpv6Address, 'IPv6 address, e.g. 2001:db8::1');

/** An IPv6 CIDR; host bits are cleared ("2001:db8::1/64" means 2001:db8::/64). */
export const Ipv6Cidr = ipv6Field(parseIpv6Prefix, 'IPv6 prefix in CIDR notation, e.g. 2001:db8::/48');

/** A /64, the only length SLAAC works with (RFC 4862 §5.5.3, RFC 4291 §2.5.1). */
export const Ipv6Prefix64 = Ipv6Cidr.refine((prefix) => prefix.length === 64, {
  message: 'must be a /64: SLAAC needs a 64-bit interface identifier',
}).meta({ description: 'IPv6 /64 prefix, e.g. 2001:db8:0:1::/64' });

/** An interface address with its prefix length, host bits kept: "2001:db8::5/64". */
export const Ipv6InterfaceAddress = ipv6Field(parseIpv6Interface, 'IPv6 address with prefix length, e.g. 2001:db8::5/64');

/**
 * A Linux interface name. The kernel takes 1-15 bytes without '/', ':' or
 * white space (dev_valid_name); the agent narrows that to characters that are
 * safe in every config it renders.
 */
export const InterfaceName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$/, {
    message: 'must be a Linux interface name: 1-15 of A-Z a-z 0-9 _ . -, starting with a letter or digit',
  })
  // radvd.conf cannot quote a name: "on" or "0" there is a keyword or a number, and radvd refuses the file.
  .refine((name) => !isRadvdToken(name), { message: 'is a keyword or number to radvd.conf, not an interface name' })
  .meta({ description: 'Linux interface name, e.g. eth2' });

/** An identifier from the management server: a CloudStack uuid, name or number as text. */
export const Identifier = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/, {
    message: 'must be 1-64 of A-Z a-z 0-9 _ . : -, starting with a letter or digit',
  })
  .meta({ description: 'identifier, e.g. a CloudStack uuid' });

/** A DNS search domain (RFC 1035 labels), as radvd and FRR put it in a DNSSL option. */
export const DomainName = z
  .string()
  .max(253)
  .regex(/^(?!-)[A-Za-z0-9-]{1,63}(?<!-)(\.(?!-)[A-Za-z0-9-]{1,63}(?<!-))*\.?$/, {
    message: 'must be a DNS domain name such as cloud.example.com',
  })
  .meta({ description: 'DNS domain name, e.g. cloud.example.com' });

/** A non-negative whole number up to max; `tooBig`, when given, is the message for one above it. */
export function wholeNumber(max: number, tooBig?: string) {
  return z.number().int().min(0).max(max, tooBig === undefined ? undefined : { message: tooBig });
}

/** A TCP or UDP port. */
export const Port = wholeNumber(65535);
