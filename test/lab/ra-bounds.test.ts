import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor, WaitTimeoutError } from './netns.js';
import { parseRdisc6, type CapturedRa } from './rdisc6.js';
import { IF, NS } from './topology.js';
import { canRunLab } from './lab-guard.js';
import { labDesiredState, pushDesired, simEventCount, startAgent, startVrLab, waitForMessage, type VrLab } from './vr-lab.js';

/**
 * Issue 12: the RA bounds that were wrong, on a real kernel with the real
 * daemons. Each case is pushed through the agent as the management server
 * would push it, and the RA that reaches guest g1 must carry it, from radvd
 * and from zebra alike. On the schema before the fix, each case is refused at
 * the ack (or, for the search list too long for one RA, accepted), so every
 * case fails there.
 */

const TOOLS = ['ip', 'nft', 'radvd', 'ping', 'rdisc6', 'nc', 'python3', 'vtysh', '/usr/lib/frr/zebra'];
const describeLab = canRunLab(TOOLS) ? describe : describe.skip;

type Backend = 'radvd' | 'frr';
type Ra = Record<string, any>;

const DNS_SERVERS = ['2001:db8:100::53', '2001:db8:100::54'];
const SEARCH_DOMAINS = ['cloud.example', 'lab.example'];

/**
 * The lab's state with RDNSS and DNSSL on both tiers, no route options (zebra
 * cannot send them), the DNS lifetimes left to the agent's defaults, and
 * `edit` applied to each tier's RA settings.
 */
function spec(backend: Backend, edit: (ra: Ra) => void = () => undefined): Record<string, any> {
  const state = JSON.parse(JSON.stringify(labDesiredState()));
  state.raBackend = backend;
  for (const network of state.guestNetworks) {
    for (const key of ['routes', 'rdnssLifetimeSeconds', 'dnsslLifetimeSeconds', 'dnsLifetimeSeconds']) delete network.ra[key];
    Object.assign(network.ra, { dnsServers: DNS_SERVERS, searchDomains: SEARCH_DOMAINS });
    edit(network.ra);
  }
  return state;
}

/** What an RA must show at the guest: its router lifetime and each server and name with its lifetime, as parseRdisc6 flattens them. */
interface Expected {
  readonly routerLifetime: string;
  readonly dnsServers: readonly string[];
  readonly searchDomains: readonly string[];
}

const withLifetime = (entries: readonly string[], lifetime: string) => entries.map((entry) => `${entry} ${lifetime}`).sort();

interface Case {
  readonly what: string;
  readonly edit: (ra: Ra) => void;
  readonly expected: Expected;
}

const servers = (count: number) => Array.from({ length: count }, (_, i) => `2001:db8:100::${(0x53 + i).toString(16)}`);
const names = (count: number) => Array.from({ length: count }, (_, i) => `d${i}.example`);

const CASES: Case[] = [
  {
    // The guest network. Before: refused at minIntervalSeconds (a fixed default of 200) and dnsLifetimeSeconds (at most 2 × Max).
    what: 'Max 60 s with no Min and dnsLifetimeSeconds 1800: both lifetimes 1800, router lifetime 3 × Max',
    edit: (ra) => {
      delete ra.minIntervalSeconds;
      delete ra.routerLifetimeSeconds;
      Object.assign(ra, { maxIntervalSeconds: 60, dnsLifetimeSeconds: 1800 });
    },
    expected: { routerLifetime: '180', dnsServers: withLifetime(DNS_SERVERS, '1800'), searchDomains: withLifetime(SEARCH_DOMAINS, '1800') },
  },
  {
    // Before: both fields unknown, and infinity above 2 × Max.
    what: 'an infinite RDNSS lifetime next to a DNSSL lifetime of its own',
    edit: (ra) => Object.assign(ra, { rdnssLifetimeSeconds: 4294967295, dnsslLifetimeSeconds: 40 }),
    expected: { routerLifetime: '30', dnsServers: withLifetime(DNS_SERVERS, 'infinite'), searchDomains: withLifetime(SEARCH_DOMAINS, '40') },
  },
  {
    // Before: refused at minIntervalSeconds (200 > 0.75 × 10); with Min given, router lifetime 1800 and DNS lifetimes 20.
    what: 'the defaults from maxIntervalSeconds alone: router, RDNSS and DNSSL lifetimes 3 × Max',
    edit: (ra) => {
      delete ra.minIntervalSeconds;
      delete ra.routerLifetimeSeconds;
    },
    expected: { routerLifetime: '30', dnsServers: withLifetime(DNS_SERVERS, '30'), searchDomains: withLifetime(SEARCH_DOMAINS, '30') },
  },
  {
    // Before: at most 3 servers and 8 names. radvd takes 3 addresses per RDNSS block; zebra one option per server.
    what: 'five RDNSS servers and ten search domains',
    edit: (ra) => Object.assign(ra, { dnsServers: servers(5), searchDomains: names(10) }),
    expected: { routerLifetime: '30', dnsServers: withLifetime(servers(5), '30'), searchDomains: withLifetime(names(10), '30') },
  },
];

describeLab('RA bounds on the wire, from both backends', () => {
  let vrLab: VrLab;

  /** Pushes a state and returns the agent's ack, and its applied report when accepted. */
  async function push(state: Record<string, any>) {
    const from = simEventCount(vrLab);
    const { generation } = await pushDesired(vrLab, state);
    const ack = await waitForMessage(vrLab, 'ack', (m) => m.generation === generation, 10_000, from);
    const applied = ack.status === 'accepted' ? await waitForMessage(vrLab, 'applied', (m) => m.generation === generation, 20_000, from) : null;
    return { ack, applied };
  }

  async function apply(state: Record<string, any>): Promise<void> {
    const { ack, applied } = await push(state);
    expect(ack).toMatchObject({ status: 'accepted', errors: [] });
    expect(applied?.errors).toEqual([]);
  }

  const rdisc6 = async () => parseRdisc6((await vrLab.lab.exec(NS.g1, ['rdisc6', '-1', '-r', '3', '-w', '1000', IF.guest], { allowFailure: true })).stdout);
  const shown = (ra: CapturedRa): Expected => ({
    routerLifetime: (ra.header['Router lifetime'] ?? '').replace(/\s*\(0x[0-9a-f]+\).*$/i, ''),
    dnsServers: ra.dnsServers,
    searchDomains: ra.searchDomains,
  });

  /** The first RA at g1 that shows `expected`, soliciting until one does; on the deadline, the last one seen, to compare. */
  async function raShowing(expected: Expected): Promise<Expected> {
    let last: Expected | undefined;
    try {
      return await waitFor(
        async () => {
          last = shown(await rdisc6());
          return JSON.stringify(last) === JSON.stringify(expected) ? last : undefined;
        },
        { timeoutMs: 10_000, what: `an RA at g1 showing ${JSON.stringify(expected)}`, intervalMs: 100 },
      );
    } catch (error) {
      if (error instanceof WaitTimeoutError && last !== undefined) return last;
      throw error;
    }
  }

  beforeAll(async () => {
    vrLab = await startVrLab(spec('radvd'));
    await startAgent(vrLab);
    await waitForMessage(vrLab, 'hello', () => true, 10_000);
    await apply(spec('radvd'));
  }, 90_000);

  afterAll(async () => {
    await vrLab?.lab.cleanup();
  });

  describe.each(['radvd', 'frr'] as const)('%s', (backend) => {
    it.each(CASES.map((c) => [c.what, c] as const))('%s', async (_what, { edit, expected }) => {
      await apply(spec(backend, edit));
      expect(await raShowing(expected)).toEqual(expected);
    });

    it('refuses a search list too long for one RA on a 1280-byte link, and the guests keep the last good RA', async () => {
      // A state the schema before the fix accepts too, so that this case fails there only at the refusal.
      const good = (ra: Ra) => (ra.dnsLifetimeSeconds = 20);
      await apply(spec(backend, good));
      // Eight names of 253 characters: 2112 bytes of DNSSL options as zebra sends them, which left some out; radvd sent one fragmented option.
      const long = (i: number) => `${String(i).repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(61)}`;
      const { ack } = await push(
        spec(backend, (ra) => {
          good(ra);
          ra.searchDomains = Array.from({ length: 8 }, (_, i) => long(i));
        }),
      );
      expect(ack.status).toBe('rejected');
      expect(ack.errors).toContainEqual({ path: '$.spec.guestNetworks[0].ra.searchDomains', message: expect.stringMatching(/1280-byte link/) });
      const expected = { routerLifetime: '30', dnsServers: withLifetime(DNS_SERVERS, '20'), searchDomains: withLifetime(SEARCH_DOMAINS, '20') };
      expect(await raShowing(expected)).toEqual(expected);
    });
  });
});
