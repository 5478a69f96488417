import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The project's CloudStack databag fixtures (test/fixtures/cloudstack/):
 * merged databags as /etc/cloudstack/ holds them, written in merge.py's
 * layout (sorted keys, two-space indent) for an isolated VR and a two-tier
 * VPC, and each as one VR of a redundant pair (`redundant_router`, as
 * cs_cmdline.py merges it, with the boot parameters CloudStack adds for a
 * pair: `advert_int`, `redundant_state`, and a VPC's `router_id` and
 * `router_password`). Tests take a fresh copy and change it the way
 * CloudStack would.
 */

/** The fixture directories. */
export const FIXTURE_DIRS = {
  isolated: join('test', 'fixtures', 'cloudstack', 'isolated'),
  vpc: join('test', 'fixtures', 'cloudstack', 'vpc'),
  isolatedPair: join('test', 'fixtures', 'cloudstack', 'isolated-pair'),
  vpcPair: join('test', 'fixtures', 'cloudstack', 'vpc-pair'),
} as const;

/** A fresh, mutable copy of a fixture's databags, by name. */
export function readFixture(kind: keyof typeof FIXTURE_DIRS): Record<string, any> {
  const dir = FIXTURE_DIRS[kind];
  return Object.fromEntries(
    readdirSync(dir)
      .filter((file) => file.endsWith('.json'))
      .map((file) => [file.slice(0, -'.json'.length), JSON.parse(readFileSync(join(dir, file), 'utf8'))]),
  );
}

/** A databag as merge.py writes it: sorted keys, two-space indent, no trailing newline. */
export function renderDatabag(value: unknown): string {
  return JSON.stringify(sortKeys(value), null, 2);
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.keys(value)
      .sort()
      .map((key) => [key, sortKeys((value as Record<string, unknown>)[key])]),
  );
}
