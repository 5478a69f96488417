import { parseDatabagTexts } from '../src/cloudstack/databags.js';
import { digestSpec, importCloudStack } from '../src/cloudstack/import.js';
import { parseDesiredState } from '../src/schema/desired-state-parser.js';
import { median } from './stats.js';

/**
 * What the cloudstack source costs on each change of the databags: the
 * texts of a VPC with TIERS tiers and RULES ACL rules per tier (half ingress,
 * half egress, mixed IPv4/IPv6 CIDR lists, as CloudStack writes them) parsed,
 * translated and validated, then parsed again as the agent takes it (which
 * finds every ACL list already validated). `make bench-cloudstack`.
 */

const TIERS = Number(process.env.BENCH_CS_TIERS ?? 50);
const RULES = Number(process.env.BENCH_CS_RULES ?? 200);
const RUNS = Number(process.env.BENCH_CS_RUNS ?? 7);

function rule(tier: number, index: number) {
  const kinds = [
    { type: 'tcp', first_port: 1000 + index, last_port: 1000 + index },
    { type: 'udp', first_port: 2000 + index, last_port: 2100 + index },
    { type: 'icmp', icmp_type: 8, icmp_code: -1 },
    { type: 'protocol', protocol: 47 },
  ];
  const cidr = `10.${tier}.${index % 250}.0/24,2001:db8:${(tier + 0x100).toString(16)}:${index.toString(16)}::/64`;
  return { ...kinds[index % kinds.length], cidr, allowed: index % 3 !== 0 };
}

function databagTexts(): Record<string, string> {
  const guestnetwork: Record<string, unknown> = { id: 'guestnetwork' };
  const networkacl: Record<string, unknown> = { id: 'networkacl' };
  for (let t = 0; t < TIERS; t++) {
    const device = `eth${t + 2}`;
    const prefix = `2001:db8:500:${t.toString(16)}::`;
    guestnetwork[device] = [
      { add: true, device, network_id: 1000 + t, router_guest_ip6: `${prefix}1`, router_guest_ip6_gateway: `${prefix}1`, router_guest_ip6_cidr: `${prefix}/64`, router_ip6: '2001:db8:5ff::20', router_ip6_gateway: '2001:db8:5ff::1', router_ip6_cidr: '2001:db8:5ff::/64', dns6: '2001:db8:53::53', domain_name: 'bench.internal', mtu: 1500 },
    ];
    const rules = Array.from({ length: RULES }, (_, i) => rule(t, i));
    networkacl[device] = { device, private_gateway_acl: false, ingress_rules: rules.slice(0, RULES / 2), egress_rules: rules.slice(RULES / 2) };
  }
  const bags = {
    cmdline: { id: 'cmdline', config: { type: 'vpcrouter', name: 'r-bench-VM' } },
    ips: { id: 'ips', eth1: [{ add: true, nw_type: 'public', source_nat: true, public_ip: '198.51.100.9' }] },
    guestnetwork,
    networkacl,
  };
  return Object.fromEntries(Object.entries(bags).map(([name, bag]) => [name, JSON.stringify(bag, null, 2)]));
}

function time<T>(body: () => T): { ms: number; value: T } {
  const start = process.hrtime.bigint();
  const value = body();
  return { ms: Number(process.hrtime.bigint() - start) / 1e6, value };
}

const texts = databagTexts();
const bytes = Object.values(texts).reduce((sum, text) => sum + text.length, 0);
const imports: number[] = [];
const takes: number[] = [];
let items = 0;
for (let run = 0; run < RUNS; run++) {
  // A change of one rule's port each run: new texts, as a changed databag gives.
  texts.networkacl = texts.networkacl!.replace(`"last_port": ${2101 + run},`, `"last_port": ${2102 + run},`);
  const imported = time(() => {
    const raw = parseDatabagTexts(texts);
    if (!raw.ok) throw new Error(JSON.stringify(raw.errors));
    const result = importCloudStack(raw.value);
    if (!result.ok) throw new Error(JSON.stringify(result.errors.slice(0, 3)));
    digestSpec(result.value.spec);
    return result.value;
  });
  imports.push(imported.ms);
  items = imported.value.state.aclLists.reduce((sum, list) => sum + list.items.length, 0);
  const taken = time(() => parseDesiredState(imported.value.spec, '$.spec'));
  if (!taken.value.ok) throw new Error('the agent refused the spec');
  takes.push(taken.ms);
}
console.log(
  `cloudstack import: ${TIERS} tiers, ${TIERS * RULES} ACL rules (${items} IPv6 items), ${(bytes / 1024).toFixed(0)} KiB of databags: ` +
    `parse+translate+validate+digest median ${median(imports).toFixed(1)} ms (first ${imports[0]!.toFixed(1)} ms); ` +
    `the agent's own parse after it median ${median(takes).toFixed(1)} ms; ${RUNS} runs, Node ${process.version}`,
);
