import { waitFor, type Lab } from './netns.js';
import { addRoute, waitForSlaacAddress } from './probes.js';
import { GUEST_BLOCK, GUEST_TIERS, IF, INTERNET_HOST, NS, UPSTREAM_ADDRESS, type TopologyOptions } from './topology.js';
import { pushAndApply, startAgent, startVrLab, waitForMessage, type VrLab } from './vr-lab.js';
import { describeFlow, probeFlow, runFlowMatrix, type FlowCase, type FlowEndpoint } from './flow-matrix.js';

/**
 * The firewall lab: the VR lab with the agent running and a desired state
 * applied, the upstream routing the guest block to the VR, and every guest
 * holding its SLAAC address, ready for packets.
 */
export interface FirewallLab {
  readonly vrLab: VrLab;
  readonly lab: Lab;
  /** The VR's SLAAC address on the public link, as the agent reported it. */
  readonly publicAddress: string;
  /** Each guest's SLAAC address, by short namespace name. */
  readonly guestAddresses: ReadonlyMap<string, string>;
}

/**
 * Builds the topology, starts the simulator and the bundled agent, pushes
 * `spec`, waits for it to be applied and for every guest's SLAAC address.
 * Cleans the lab up itself if any of that fails.
 */
export async function startFirewallLab(spec: unknown, options: TopologyOptions): Promise<FirewallLab> {
  const vrLab = await startVrLab(spec, options);
  const { lab } = vrLab;
  try {
    await startAgent(vrLab);
    await waitForMessage(vrLab, 'hello', () => true, 10_000);
    await pushAndApply(vrLab, spec);
    const observed = await waitForMessage(vrLab, 'observed', (m) => m.publicAddress?.source === 'slaac', 15_000);
    const publicAddress = observed.publicAddress!.address;
    await addRoute(lab, NS.upstream, GUEST_BLOCK, publicAddress, IF.upstream);
    const tiers = GUEST_TIERS.filter((tier) => vrLab.topology.guests.includes(tier.ns));
    const addresses = await Promise.all(tiers.map((tier) => waitForSlaacAddress(lab, tier.ns, IF.guest, tier.prefix, 20_000)));
    const guestAddresses = new Map(tiers.map((tier, index) => [tier.ns, addresses[index]!.address]));
    return { vrLab, lab, publicAddress, guestAddresses };
  } catch (error) {
    await lab.cleanup();
    throw error;
  }
}

/** The upstream router and the internet host as matrix endpoints; both live in the upstream namespace. */
export function renderUpstreamEndpoints(): Record<'upstream' | 'internet', FlowEndpoint> {
  return {
    upstream: { ns: NS.upstream, address: UPSTREAM_ADDRESS, source: UPSTREAM_ADDRESS },
    internet: { ns: NS.upstream, address: INTERNET_HOST, source: INTERNET_HOST },
  };
}

/** A guest as a matrix endpoint: reached at, and sending from, its SLAAC address. */
export function renderGuestEndpoint(firewallLab: FirewallLab, ns: string): FlowEndpoint {
  const address = firewallLab.guestAddresses.get(ns);
  if (address === undefined) throw new Error(`guest ${ns} has no address in this lab`);
  return { ns, address };
}

/**
 * Waits until every row of `rows` behaves as it expects (allowed flows pass,
 * denied ones are denied), probing all of them every 200 ms. Returns what the
 * first round saw, so a test can show the damage it waited to be repaired.
 */
export async function waitForFlows(
  firewallLab: FirewallLab,
  endpoints: Readonly<Record<string, FlowEndpoint>>,
  rows: readonly FlowCase[],
  options: { what: string; timeoutMs: number },
): Promise<string[]> {
  let first: string[] | undefined;
  await waitFor(
    async (note) => {
      const outcomes = await Promise.all(rows.map((row) => probeFlow(firewallLab.lab, endpoints, row)));
      const seen = rows.map((row, i) => `${row.from}→${row.to} ${row.protocol}${row.port === undefined ? '' : `/${row.port}`} ${outcomes[i] ? 'passed' : 'denied'}`);
      first ??= seen;
      note(seen);
      return rows.every((row, i) => outcomes[i] === (row.expected === 'pass'));
    },
    { timeoutMs: options.timeoutMs, what: options.what, intervalMs: 200 },
  );
  return first ?? [];
}

/**
 * The control experiment: freezes the agent (SIGSTOP, so radvd keeps running
 * and no resync can race), deletes its table, probes every row expecting a
 * pass, and lets the agent run again. Returns the rows that did not pass:
 * none, when every "deny" of the matrix is the firewall's doing.
 */
export async function probeWithoutFirewall(
  firewallLab: FirewallLab,
  endpoints: Readonly<Record<string, FlowEndpoint>>,
  rows: readonly FlowCase[],
): Promise<string[]> {
  const agent = firewallLab.vrLab.agent;
  if (agent === null) throw new Error('the agent is not running');
  process.kill(agent.pid, 'SIGSTOP');
  try {
    await firewallLab.lab.exec(NS.vr, ['nft', 'delete', 'table', 'ip6', 'vr6_agent']);
    const results = await runFlowMatrix(firewallLab.lab, endpoints, rows.map((row) => ({ ...row, expected: 'pass' as const })));
    return results.filter((result) => !result.passed).map((result) => describeFlow(result.row));
  } finally {
    process.kill(agent.pid, 'SIGCONT');
  }
}
