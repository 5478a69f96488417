import type { z } from 'zod';
import { digestText } from '../model/digest.js';
import type { CloudStackPairConfig } from '../schema/agent-config.js';
import { DesiredState } from '../schema/desired-state.js';
import { parseDesiredState } from '../schema/desired-state-parser.js';
import type { FieldError, Parsed } from '../schema/validation.js';
import { parseDatabags, type CmdlineBag, type Databags, type RawDatabags } from './databags.js';
import { fieldError, Provenance } from './provenance.js';
import { translatePair } from './pair.js';
import { translateFirewall } from './rules.js';
import { lengthOf, networkOf, translateTiers, type PublicFromTier } from './tiers.js';

/**
 * The desired state that CloudStack's merged databags give
 * (docs/cloudstack.md): a pure function of their JSON, so `vr6ctl
 * import-cloudstack`, the agent's cloudstack source and the tests all get
 * the same state, and the same errors, from the same files.
 */

/** The desired state's input form, as a push would carry it. */
export type DesiredSpec = z.input<typeof DesiredState>;

/** What a directory of databags gives: the spec, and the state it validates to. */
export interface CloudStackImport {
  readonly spec: DesiredSpec;
  readonly state: DesiredState;
}

// CsHelper's PUBLIC_INTERFACES: where each router type's public NIC is, unless ips.json says otherwise.
const PUBLIC_INTERFACE = { router: 'eth2', vpcrouter: 'eth1' } as const;
// merge.py's processCL: a router's eth0 is its guest NIC.
const ISOLATED_GUEST = 'eth0';

/** What the agent config adds to the databags (`cloudstack` in agent.json): a redundant pair's sync link. */
export interface ImportOptions {
  readonly pair?: CloudStackPairConfig | undefined;
}

/**
 * Translates the databags and validates the result as a push is validated.
 * Every error names a databag file and a JSON path in it; an error the
 * desired-state schema finds is named by the field it came from.
 */
export function importCloudStack(raw: RawDatabags, options: ImportOptions = {}): Parsed<CloudStackImport> {
  const bags = parseDatabags(raw);
  if (!bags.ok) return bags;
  const provenance = new Provenance();
  const translated = translateDatabags(bags.value, provenance, options);
  if (!translated.ok) return translated;
  const parsed = parseDesiredState(translated.value);
  if (!parsed.ok) return { ok: false, errors: parsed.errors.map((error) => provenance.locate(error)) };
  return { ok: true, value: { spec: translated.value, state: parsed.value } };
}

/**
 * The digest of a translated spec: the same databags give the same spec text
 * (the translation builds it in a fixed order), so the agent's report and
 * `vr6ctl cloudstack-wait` can tell whether the agent took these databags.
 */
export function digestSpec(spec: DesiredSpec): string {
  return digestText(JSON.stringify(spec));
}

/** The desired state's spec from parsed databags, before its own validation; `provenance` learns where each part came from. */
export function translateDatabags(bags: Databags, provenance: Provenance, options: ImportOptions = {}): Parsed<DesiredSpec> {
  const config = bags.cmdline.config;
  const type = config.type;
  if (type !== 'router' && type !== 'vpcrouter') {
    return { ok: false, errors: [fieldError('cmdline', ['config', 'type'], `is "${type}": only a router or a vpcrouter has guest networks`)] };
  }
  const errors: FieldError[] = refuseIpv6StaticRoutes(bags);
  const source = publicSource(bags, type);
  provenance.record(['router', 'id'], 'cmdline', ['config', 'name']);
  const single: DesiredSpec =
    type === 'router'
      ? { schemaVersion: 1, router: { id: config.name, kind: 'isolated' }, ...translateIsolated(bags, source.interface, provenance) }
      : { schemaVersion: 1, router: { id: config.name, kind: 'vpc' }, ...translateVpc(bags, source.interface, provenance, errors) };
  const spec = translatePair(single, config, options.pair, provenance, errors);
  const routing = translateBgp(bags, source.ipv4, provenance, errors);
  if (errors.length > 0) return { ok: false, errors };
  return { ok: true, value: routing === null ? spec : { ...spec, routing } };
}

/** The public NIC (the source-NAT public address of ips.json, else the router type's) and its IPv4 address. */
function publicSource(bags: Databags, type: keyof typeof PUBLIC_INTERFACE): { interface: string; ipv4: string | undefined } {
  for (const [device, addresses] of bags.ips) {
    const found = addresses.find((ip) => ip.nw_type?.toLowerCase() === 'public' && ip.source_nat === true && ip.add !== false);
    if (found) return { interface: device, ipv4: found.public_ip };
  }
  const fallback = PUBLIC_INTERFACE[type];
  const ipv4 = (bags.cmdline.config as Record<string, unknown>)[`${fallback}ip`];
  return { interface: fallback, ipv4: typeof ipv4 === 'string' ? ipv4 : undefined };
}

function translateIsolated(bags: Databags, publicInterface: string, provenance: Provenance): Pick<DesiredSpec, 'public' | 'guestNetworks'> {
  const config = bags.cmdline.config as CmdlineBag['config'] & Record<string, unknown>;
  const text = (key: string) => (typeof config[key] === 'string' && config[key] !== '' ? (config[key] as string) : undefined);
  const publicAddress = text(`${publicInterface}ip6`);
  const publicLength = text(`${publicInterface}ip6prelen`) ?? '64';
  provenance.record(['public', 'address'], 'cmdline', ['config', `${publicInterface}ip6`]);
  provenance.record(['public', 'gateway'], 'cmdline', ['config', 'ip6gateway']);
  const pub =
    publicAddress === undefined
      ? { interface: publicInterface, mode: 'slaac' as const }
      : staticPublic(publicInterface, publicAddress, publicLength, config.ip6gateway);
  const guestAddress = config.eth0ip6;
  if (!guestAddress) return { public: pub, guestNetworks: [] };
  const at = ['guestNetworks', 0];
  provenance.record(at, 'cmdline', ['config', 'eth0ip6']);
  provenance.record([...at, 'prefix'], 'cmdline', ['config', 'eth0ip6prelen']);
  provenance.record([...at, 'ra', 'dnsServers'], 'cmdline', ['config', 'ip6dns1']);
  provenance.record([...at, 'ra', 'searchDomains'], 'cmdline', ['config', 'domain']);
  provenance.record([...at, 'ra', 'mtu'], 'cmdline', ['config', 'privateMtu']);
  const length = config.eth0ip6prelen ?? 64;
  const network = {
    id: ISOLATED_GUEST,
    interface: ISOLATED_GUEST,
    prefix: networkOf(guestAddress, length) ?? `${guestAddress}/${length}`,
    gateway: guestAddress,
    ra: {
      dnsServers: [config.ip6dns1, config.ip6dns2].filter((dns): dns is string => !!dns),
      searchDomains: config.domain ? [config.domain] : [],
      ...(config.privateMtu === undefined ? {} : { mtu: config.privateMtu }),
    },
    firewall: translateFirewall(bags.ipv6firewallrules, provenance, [...at, 'firewall']),
  };
  return { public: pub, guestNetworks: [network] };
}

function translateVpc(bags: Databags, publicInterface: string, provenance: Provenance, errors: FieldError[]): Pick<DesiredSpec, 'public' | 'guestNetworks' | 'aclLists'> {
  const tiers = translateTiers(bags, provenance);
  errors.push(...tiers.errors);
  return { public: publicOfTier(publicInterface, tiers.publicAddress, provenance), guestNetworks: tiers.networks, aclLists: tiers.aclLists };
}

/** CloudStack gives the public address itself (the EUI-64 of the NIC's MAC in the public /64): static, with the upstream as gateway. */
function staticPublic(interfaceName: string, address: string, length: string | number, gateway: string | undefined): DesiredSpec['public'] {
  const prefix = Number(length) === 64 ? networkOf(address, 64) : undefined;
  return {
    interface: interfaceName,
    mode: 'static',
    address: `${address}/${length}`,
    ...(gateway ? { gateway } : {}),
    ...(prefix ? { expectedPrefix: prefix } : {}),
  };
}

function publicOfTier(interfaceName: string, tier: PublicFromTier | null, provenance: Provenance): DesiredSpec['public'] {
  if (tier === null) return { interface: interfaceName, mode: 'slaac' };
  provenance.record(['public', 'address'], 'guestnetwork', [tier.device, tier.index, 'router_ip6']);
  provenance.record(['public', 'gateway'], 'guestnetwork', [tier.device, tier.index, 'router_ip6_gateway']);
  provenance.record(['public', 'expectedPrefix'], 'guestnetwork', [tier.device, tier.index, 'router_ip6_cidr']);
  return staticPublic(interfaceName, tier.address, lengthOf(tier.prefix) ?? 64, tier.gateway);
}

function refuseIpv6StaticRoutes(bags: Databags): FieldError[] {
  return bags.staticroutes
    .filter(([, route]) => !route.revoke && route.network.includes(':'))
    .map(([key]) => fieldError('staticroutes', [key, 'network'], 'is an IPv6 static route, which desired state v1 cannot carry'));
}

/**
 * BGP from bgppeers.json: every peer with an IPv6 address, the VR's AS
 * (network_as_number, the same on every peer), and each guest /64 announced,
 * as CloudStack's dynamic routing announces the networks' prefixes. The BGP
 * identifier is the VR's public IPv4 address (RFC 6286 wants 4 octets).
 */
function translateBgp(bags: Databags, publicIpv4: string | undefined, provenance: Provenance, errors: FieldError[]): DesiredSpec['routing'] | null {
  const peers = bags.bgppeers.peers.map((peer, index) => ({ peer, index })).filter(({ peer }) => !!peer.ip6_address);
  if (peers.length === 0) return null;
  const first = peers[0]!;
  if (first.peer.network_as_number === undefined) {
    errors.push(fieldError('bgppeers', ['peers', first.index, 'network_as_number'], "is missing: the VR's own AS"));
    return null;
  }
  for (const { peer, index } of peers) {
    if (peer.network_as_number !== undefined && peer.network_as_number !== first.peer.network_as_number) {
      errors.push(fieldError('bgppeers', ['peers', index, 'network_as_number'], `is not ${first.peer.network_as_number}, as peers[${first.index}] says: a VR has one AS`));
    }
  }
  if (publicIpv4 === undefined) errors.push(fieldError('ips', [], 'has no source-NAT public IPv4 address to be the BGP identifier'));
  provenance.record(['routing', 'bgp', 'localAs'], 'bgppeers', ['peers', first.index, 'network_as_number']);
  provenance.record(['routing', 'bgp', 'routerId'], 'ips', []);
  peers.forEach(({ index }, i) => provenance.record(['routing', 'bgp', 'peers', i], 'bgppeers', ['peers', index]));
  return {
    protocol: 'bgp',
    bgp: {
      localAs: first.peer.network_as_number,
      routerId: publicIpv4 ?? '0.0.0.0',
      peers: peers.map(({ peer }) => ({ address: peer.ip6_address!, remoteAs: peer.as_number, ...(peer.password ? { password: peer.password } : {}) })),
      announce: { guestPrefixes: true },
    },
  };
}


