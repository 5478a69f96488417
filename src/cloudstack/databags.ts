import { z } from 'zod';
import { formatJsonPath, type FieldError, type Parsed } from '../schema/validation.js';

/**
 * CloudStack's merged databags, as the VR keeps them in /etc/cloudstack/:
 * update_config.py merges each file the management server sends into
 * `<type>.json`, named by the file's `type` (docs/cloudstack.md). These
 * schemas say only what the translation reads; every other key passes
 * through untouched, since CloudStack adds keys between releases.
 */

/** The databags the translation reads, by their merged file's base name. */
export const DATABAG_NAMES = ['cmdline', 'ips', 'guestnetwork', 'networkacl', 'ipv6firewallrules', 'bgppeers', 'staticroutes'] as const;
export type DatabagName = (typeof DATABAG_NAMES)[number];

/** The file a databag is merged into (`agent` names the agent's own agent.json). */
export function databagFile(name: DatabagName | 'agent'): string {
  return `${name}.json`;
}

/** The parsed JSON of each databag present; an absent one is undefined. */
export type RawDatabags = { readonly [K in DatabagName]?: unknown };

// The scripts' own values: cmdline values are strings, GSON writes numbers and booleans.
const Text = z.string();
const Whole = z.union([z.number().int().min(0), z.string().regex(/^\d+$/, { message: 'must be a whole number' }).transform(Number)]);
const Flag = z.union([z.boolean(), z.enum(['true', 'false']).transform((text) => text === 'true')]);

/** /etc/cloudstack/cmdline.json: the boot parameters under `config`, all strings. */
export const CmdlineBag = z.looseObject({
  config: z.looseObject({
    type: Text,
    name: Text,
    eth0ip6: Text.optional(),
    eth0ip6prelen: Whole.optional(),
    eth2ip6: Text.optional(),
    eth2ip6prelen: Whole.optional(),
    ip6gateway: Text.optional(),
    ip6dns1: Text.optional(),
    ip6dns2: Text.optional(),
    domain: Text.optional(),
    privateMtu: Whole.optional(),
    redundant_router: Flag.optional(),
    router_pr: Whole.optional(),
    advert_int: Whole.optional(),
    router_id: Whole.optional(),
  }),
});
export type CmdlineBag = z.output<typeof CmdlineBag>;

const IpEntry = z.looseObject({
  public_ip: Text.optional(),
  nw_type: Text.optional(),
  source_nat: Flag.optional(),
  add: Flag.optional(),
});

/** /etc/cloudstack/ips.json: each device's IPv4 addresses, keyed by device. */

const GuestNetworkEntry = z.looseObject({
  add: Flag,
  device: Text,
  network_id: z.union([z.number(), z.string()]).optional(),
  router_guest_ip6: Text.optional(),
  router_guest_ip6_gateway: Text.optional(),
  router_guest_ip6_cidr: Text.optional(),
  router_ip6: Text.optional(),
  router_ip6_gateway: Text.optional(),
  router_ip6_cidr: Text.optional(),
  dns6: Text.optional(),
  domain_name: Text.optional(),
  mtu: Whole.optional(),
  is_vr_guest_gateway: Flag.optional(),
});
export type GuestNetworkEntry = z.output<typeof GuestNetworkEntry>;

/** /etc/cloudstack/guestnetwork.json: each tier's entries, keyed by device; `add: false` means removed. */

const AclRule = z.looseObject({
  type: Text,
  cidr: Text.default(''),
  allowed: Flag,
  first_port: z.number().int().optional(),
  last_port: z.number().int().optional(),
  icmp_type: z.number().int().optional(),
  icmp_code: z.number().int().optional(),
  protocol: Whole.optional(),
});
export type AclRule = z.output<typeof AclRule>;

/** One device's entry of /etc/cloudstack/networkacl.json: its whole ACL, replaced per device. */
const AclEntry = z.looseObject({
  device: Text.optional(),
  private_gateway_acl: Flag.default(false),
  nic_ip6_cidr: Text.optional(),
  ingress_rules: z.array(AclRule).default([]),
  egress_rules: z.array(AclRule).default([]),
});
export type AclEntry = z.output<typeof AclEntry>;

/** One rule of /etc/cloudstack/ipv6firewallrules.json, an isolated network's rules keyed by rule id. */
const FirewallRuleEntry = z.looseObject({
  id: Whole,
  protocol: z.union([Text, z.number().int()]),
  traffic_type: z.enum(['Ingress', 'Egress']),
  revoked: Flag.default(false),
  default_egress_policy: Flag.optional(),
  source_cidr_list: z.array(Text).default([]),
  dest_cidr_list: z.array(Text).default([]),
  src_port_range: z.tuple([z.number().int(), z.number().int()]).optional(),
  icmp_type: z.number().int().optional(),
  icmp_code: z.number().int().optional(),
});
export type FirewallRuleEntry = z.output<typeof FirewallRuleEntry>;

const BgpPeerEntry = z.looseObject({
  ip6_address: Text.optional(),
  as_number: Whole,
  network_as_number: Whole.optional(),
  password: Text.optional(),
});
export type BgpPeerEntry = z.output<typeof BgpPeerEntry>;

/** /etc/cloudstack/bgppeers.json: the peers, cleared and replaced by each file. */
export const BgpPeersBag = z.looseObject({ peers: z.array(BgpPeerEntry).default([]) });

/** One route of /etc/cloudstack/staticroutes.json, a VPC's static routes keyed by destination. */
const StaticRouteEntry = z.looseObject({ network: Text, gateway: Text.optional(), revoke: Flag.default(false) });

/** A keyed databag's entries without its `id` key, in key order: [key, entry]. */
export type Keyed<T> = ReadonlyArray<readonly [string, T]>;

/** The databags after their schemas: each one present, parsed. */
export interface Databags {
  readonly cmdline: CmdlineBag;
  readonly ips: Keyed<ReadonlyArray<z.output<typeof IpEntry>>>;
  readonly guestnetwork: Keyed<readonly GuestNetworkEntry[]>;
  readonly networkacl: Keyed<AclEntry>;
  readonly ipv6firewallrules: Keyed<FirewallRuleEntry>;
  readonly bgppeers: z.output<typeof BgpPeersBag>;
  readonly staticroutes: Keyed<z.output<typeof StaticRouteEntry>>;
}

const KEYED_ENTRIES = {
  ips: z.array(IpEntry),
  guestnetwork: z.array(GuestNetworkEntry),
  networkacl: AclEntry,
  ipv6firewallrules: FirewallRuleEntry,
  staticroutes: StaticRouteEntry,
} as const;
type KeyedName = keyof typeof KEYED_ENTRIES;

/**
 * Checks each databag against the fields the translation reads. Only
 * cmdline.json is required; a missing other one counts as empty, as it does
 * to CloudStack's own scripts. Every error names the file and the JSON path.
 */
export function parseDatabags(raw: RawDatabags): Parsed<Databags> {
  const errors: FieldError[] = [];
  const check = <S extends z.ZodType>(name: DatabagName, schema: S, value: unknown, at: PropertyKey[] = []): z.output<S> | undefined => {
    const result = schema.safeParse(value);
    if (result.success) return result.data;
    for (const issue of result.error.issues) {
      errors.push({ path: `${databagFile(name)}: ${formatJsonPath([...at, ...issue.path])}`, message: issue.message });
    }
    return undefined;
  };
  if (raw.cmdline === undefined) errors.push({ path: `${databagFile('cmdline')}: $`, message: 'is missing: the boot parameters say what kind of router this is' });
  const cmdline = raw.cmdline === undefined ? undefined : check('cmdline', CmdlineBag, raw.cmdline);
  const bgppeers = check('bgppeers', BgpPeersBag, raw.bgppeers ?? {});
  const keyed: Partial<Record<KeyedName, Keyed<unknown>>> = {};
  for (const name of Object.keys(KEYED_ENTRIES) as KeyedName[]) {
    const bag = check(name, z.record(z.string(), z.unknown()), raw[name] ?? {});
    keyed[name] = Object.entries(bag ?? {})
      .filter(([key]) => key !== 'id')
      .map(([key, value]) => [key, check(name, KEYED_ENTRIES[name], value, [key])] as const);
  }
  if (errors.length > 0 || cmdline === undefined || bgppeers === undefined) return { ok: false, errors };
  return { ok: true, value: { cmdline, bgppeers, ...keyed } as Databags };
}

/** A databag file's text that is not JSON: CloudStack writes them in place, so it may be caught half-written. */
export class DatabagSyntaxError extends Error {
  constructor(
    readonly databag: DatabagName,
    readonly detail: string,
  ) {
    super(`${databagFile(databag)}: $: is not JSON: ${detail}`);
  }
}

/**
 * The parsed JSON of each databag file's text (null: the file is absent).
 * A text that does not parse is an error naming the file: the caller that
 * watches files written in place reads again before it believes one.
 */
export function parseDatabagTexts(texts: { readonly [K in DatabagName]?: string | null }): Parsed<RawDatabags> {
  const raw: { [K in DatabagName]?: unknown } = {};
  const errors: FieldError[] = [];
  for (const name of DATABAG_NAMES) {
    const text = texts[name];
    if (text === undefined || text === null) continue;
    try {
      raw[name] = JSON.parse(text);
    } catch (error) {
      const failure = new DatabagSyntaxError(name, (error as Error).message);
      errors.push({ path: `${databagFile(name)}: $`, message: `is not JSON: ${failure.detail}` });
    }
  }
  return errors.length > 0 ? { ok: false, errors } : { ok: true, value: raw };
}
