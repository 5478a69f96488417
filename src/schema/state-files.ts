import { z } from 'zod';
import { InterfaceName, Ipv6Address, Ipv6Cidr } from './fields.js';
import { Generation } from './protocol.js';

/**
 * The files the agent persists for itself, read back through one schema
 * each. They are the agent's own writing, but a crash, a full disk or an
 * older agent can leave them damaged: what does not parse counts as absent
 * (or, in a list, the entry does), never as a crash, and no value from them
 * reaches an argv unvalidated.
 */

/** The value of a persisted file, or null when it is absent, not JSON, or not of the schema's shape. */
export function parseStateFile<T>(text: string | null, schema: z.ZodType<T>): T | null {
  if (text === null) return null;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  const parsed = schema.safeParse(value);
  return parsed.success ? parsed.data : null;
}

/** A list whose entries that fail `entry` are left out, so one damaged entry does not lose the rest. */
function tolerantList<T>(entry: z.ZodType<T>) {
  return z.array(z.unknown()).transform((items) => items.flatMap((item) => {
    const parsed = entry.safeParse(item);
    return parsed.success ? [parsed.data] : [];
  }));
}

/** desired.json: the last accepted desired state, exactly as the server sent it. */
export const AcceptedStateFile = z.object({ generation: Generation, spec: z.unknown() });

/** owned-addresses.json: the addresses the agent added and has not removed, its sweep list. */
export const OwnedAddressesFile = tolerantList(
  z.object({ interface: InterfaceName, address: Ipv6Address, prefixLength: z.number().int().min(0).max(128) }),
);

/** deprecated-prefixes.json: the prefixes guest links lost, advertised with lifetimes 0 until `untilSeconds`. */
export const DeprecatedPrefixesFile = tolerantList(
  z.object({ interface: InterfaceName, prefix: Ipv6Cidr, gateway: Ipv6Address, untilSeconds: z.number() }),
);

const stringRecord = z.record(z.string(), z.unknown()).transform(
  (record) => new Map(Object.entries(record).filter((entry): entry is [string, string] => typeof entry[1] === 'string')),
);

/** ruleset-memory.json: what the agent last loaded into its table, and the generation id at which that is the truth. */
export const RulesetMemoryFile = z.object({
  generation: z.number().nullable().catch(null),
  rendered: stringRecord.catch(() => new Map<string, string>()),
  listed: stringRecord.catch(() => new Map<string, string>()),
  unlisted: z
    .array(z.unknown())
    .transform((names) => new Set(names.filter((name): name is string => typeof name === 'string')))
    .catch(() => new Set<string>()),
});
