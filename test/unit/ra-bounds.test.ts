import { describe, expect, it } from 'vitest';
import { parseFrrRunningConfig } from '../../src/observe/frr-running.js';
import { planFrrChange } from '../../src/plan/frr-plan.js';
import { renderFrrConf } from '../../src/render/frr-conf.js';
import { renderRadvdConf } from '../../src/render/radvd-conf.js';
import { DesiredState } from '../../src/schema/desired-state.js';
import { DNS_OPTIONS_BUDGET, dnsOptionsBytes } from '../../src/schema/ra-bounds.js';
import { parseWith } from '../../src/schema/validation.js';
import { isolatedInput } from '../support/states.js';

/**
 * Every bound of the RA settings at its edge: the last value accepted and the
 * first refused, with the JSON path of the error, on both backends (the
 * bounds are the same for both; docs/desired-state.md has the table).
 */

type Ra = Record<string, unknown>;

function stateWith(ra: Ra, raBackend: 'radvd' | 'frr') {
  const input = isolatedInput();
  input.raBackend = raBackend;
  input.guestNetworks[0].ra = ra;
  return parseWith(DesiredState, input);
}

const servers = (count: number) => Array.from({ length: count }, (_, i) => `2001:db8:53::${(i + 1).toString(16)}`);
// A 62-character label: 64 bytes encoded (RFC 1035 §3.1), 72 with its DNSSL option header.
const longName = (i: number) => `${'x'.repeat(59)}${String(i).padStart(3, '0')}`;
const longNames = (count: number) => Array.from({ length: count }, (_, i) => longName(i));
// Up to 7 characters: 16 bytes each with the option header, the least a name takes.
const shortNames = (count: number) => Array.from({ length: count }, (_, i) => `n${i}`);

// [what, the RA settings around the edge, the field, last accepted, first refused, the error's message]
const EDGES: [string, Ra, string, unknown, unknown, RegExp][] = [
  ['MaxRtrAdvInterval floor (RFC 4861 §6.2.1)', {}, 'maxIntervalSeconds', 4, 3, />=4/],
  ['MaxRtrAdvInterval ceiling (radvd 2.19, zebra 8.4; RFC 8319 allows 65535)', {}, 'maxIntervalSeconds', 1800, 1801, /RFC 8319 .*radvd 2\.19.*zebra 8\.4/],
  ['MinRtrAdvInterval floor (RFC 4861 §6.2.1)', { maxIntervalSeconds: 600 }, 'minIntervalSeconds', 3, 2, />=3/],
  ['MinRtrAdvInterval ≤ 0.75 × Max (RFC 4861 §6.2.1)', { maxIntervalSeconds: 600 }, 'minIntervalSeconds', 450, 451, /0\.75 × maxIntervalSeconds \(450\)/],
  ['router lifetime ≥ Max (RFC 4861 §6.2.1)', { maxIntervalSeconds: 600 }, 'routerLifetimeSeconds', 600, 599, /at least maxIntervalSeconds \(600\)/],
  ['router lifetime ceiling (radvd 2.19, zebra 8.4; RFC 8319 allows 65535)', {}, 'routerLifetimeSeconds', 9000, 9001, /RFC 8319 .*radvd 2\.19.*zebra 8\.4/],
  ['valid lifetime ceiling (RFC 4861 §4.6.2: 32 bits)', {}, 'validLifetimeSeconds', 4294967295, 4294967296, /<=4294967295/],
  ['preferred ≤ valid (RFC 4862 §5.5.3 c)', { validLifetimeSeconds: 86400 }, 'preferredLifetimeSeconds', 86400, 86401, /validLifetimeSeconds/],
  ['MTU floor (RFC 8200 §5)', {}, 'mtu', 1280, 1279, />=1280/],
  ['MTU ceiling (zebra 8.4, RFC 8200 §3 payload length)', {}, 'mtu', 65535, 65536, /<=65535/],
  ...(['rdnssLifetimeSeconds', 'dnsslLifetimeSeconds', 'dnsLifetimeSeconds'] as const).flatMap((field): [string, Ra, string, unknown, unknown, RegExp][] => [
    [`${field} floor, MaxRtrAdvInterval (radvd 2.19)`, { maxIntervalSeconds: 60 }, field, 60, 59, /0 or at least maxIntervalSeconds \(60\)/],
    [`${field} ceiling, infinity (RFC 8106 §5)`, { maxIntervalSeconds: 60 }, field, 4294967295, 4294967296, /<=4294967295/],
  ]),
  ['route lifetime ceiling, infinity (RFC 4191 §2.3)', {}, 'routes', [{ prefix: '2001:db8:ff::/48', lifetimeSeconds: 4294967295 }], [{ prefix: '2001:db8:ff::/48', lifetimeSeconds: 4294967296 }], /<=4294967295/],
  ['RDNSS servers (the DNS option budget)', {}, 'dnsServers', servers(42), servers(43), /<=42/],
  ['DNSSL names (the DNS option budget)', {}, 'searchDomains', shortNames(64), shortNames(65), /<=64/],
  ['DNS option bytes in one RA at 1280 (RFC 6980 §5)', { dnsServers: servers(3) }, 'searchDomains', [...longNames(13), 'a'], [...longNames(13), 'abcdefg'], /1032 bytes .* 1024/],
];

describe('the bounds of the RA settings', () => {
  it('counts the DNS option bytes the edges rely on', () => {
    expect(dnsOptionsBytes(servers(3), [...longNames(13), 'a'])).toBe(DNS_OPTIONS_BUDGET);
    expect(dnsOptionsBytes([], shortNames(64))).toBe(DNS_OPTIONS_BUDGET);
    expect(new Set(shortNames(65)).size).toBe(65);
  });

  describe.each(['radvd', 'frr'] as const)('with raBackend %s', (backend) => {
    it.each(EDGES)('%s', (_what, around, field, accepted, refused, message) => {
      // radvd alone sends route information options: on frr their refusal is a bound of its own, below.
      if (backend === 'frr' && field === 'routes') return;
      const ok = stateWith({ ...around, [field]: accepted }, backend);
      expect(ok.ok ? [] : ok.errors).toEqual([]);
      const bad = stateWith({ ...around, [field]: refused }, backend);
      const path = `$.guestNetworks[0].ra.${field}${field === 'routes' ? '[0].lifetimeSeconds' : ''}`;
      expect(bad.ok ? [] : bad.errors).toContainEqual({ path, message: expect.stringMatching(message) });
    });
  });

  it('refuses route information options with frr, at the list', () => {
    const bad = stateWith({ routes: [{ prefix: '2001:db8:ff::/48' }] }, 'frr');
    expect(bad.ok ? [] : bad.errors).toEqual([{ path: '$.guestNetworks[0].ra.routes', message: expect.stringMatching(/radvd/) }]);
  });

  it('refuses dnsLifetimeSeconds next to either field that replaced it, naming both', () => {
    for (const replacement of ['rdnssLifetimeSeconds', 'dnsslLifetimeSeconds']) {
      const bad = stateWith({ dnsLifetimeSeconds: 1800, [replacement]: 1800 }, 'radvd');
      expect(bad.ok ? [] : bad.errors).toEqual([
        { path: '$.guestNetworks[0].ra.dnsLifetimeSeconds', message: expect.stringMatching(/superseded by rdnssLifetimeSeconds and dnsslLifetimeSeconds/) },
      ]);
    }
  });
});

describe('the defaults of the RA settings', () => {
  const raOf = (ra: Ra) => {
    const parsed = stateWith(ra, 'radvd');
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors));
    return parsed.value.guestNetworks[0]!.ra;
  };

  it('derive from maxIntervalSeconds: Min a third of it, router, RDNSS and DNSSL lifetimes 3 ×', () => {
    expect(raOf({})).toMatchObject({ minIntervalSeconds: 200, routerLifetimeSeconds: 1800, rdnssLifetimeSeconds: 1800, dnsslLifetimeSeconds: 1800 });
    expect(raOf({ maxIntervalSeconds: 60 })).toMatchObject({ minIntervalSeconds: 20, routerLifetimeSeconds: 180, rdnssLifetimeSeconds: 180, dnsslLifetimeSeconds: 180 });
    expect(raOf({ maxIntervalSeconds: 1800 })).toMatchObject({ minIntervalSeconds: 600, routerLifetimeSeconds: 5400 });
  });

  it('take 0.75 × Max below 9 s and never go under 3 s (RFC 4861 §6.2.1, erratum 3154)', () => {
    expect([4, 5, 6, 8, 9, 10].map((max) => raOf({ maxIntervalSeconds: max }).minIntervalSeconds)).toEqual([3, 3, 4, 6, 3, 3]);
  });

  it("accept the issue's guest network: Max 60 s with DNS lifetimes of 1800 s", () => {
    expect(raOf({ maxIntervalSeconds: 60, dnsLifetimeSeconds: 1800 })).toMatchObject({ rdnssLifetimeSeconds: 1800, dnsslLifetimeSeconds: 1800 });
    expect(raOf({ maxIntervalSeconds: 60, rdnssLifetimeSeconds: 1800, dnsslLifetimeSeconds: 7200 })).toMatchObject({ rdnssLifetimeSeconds: 1800, dnsslLifetimeSeconds: 7200 });
    expect(raOf({ dnsLifetimeSeconds: 0 })).toMatchObject({ rdnssLifetimeSeconds: 0, dnsslLifetimeSeconds: 0 });
    expect(raOf({ dnsLifetimeSeconds: 900 })).not.toHaveProperty('dnsLifetimeSeconds');
  });
});

describe('rendering the RDNSS and DNSSL lifetimes', () => {
  const state = (ra: Ra) => DesiredState.parse({ ...isolatedInput(), guestNetworks: [{ ...isolatedInput().guestNetworks[0], ra }] });

  it('states each lifetime in radvd.conf, and puts servers in blocks of three', () => {
    const conf = renderRadvdConf(state({ dnsServers: servers(4), searchDomains: ['a.example'], rdnssLifetimeSeconds: 4294967295, dnsslLifetimeSeconds: 1800 }))!;
    expect(conf).toContain('    RDNSS 2001:db8:53::1 2001:db8:53::2 2001:db8:53::3\n    {\n        AdvRDNSSLifetime 4294967295;\n    };\n');
    expect(conf).toContain('    RDNSS 2001:db8:53::4\n    {\n        AdvRDNSSLifetime 4294967295;\n    };\n');
    expect(conf).toContain('    DNSSL a.example\n    {\n        AdvDNSSLLifetime 1800;\n    };\n');
  });

  it('states each lifetime to zebra, and plans nothing once zebra prints infinity back as "infinite"', () => {
    const lines = renderFrrConf({ ...state({ dnsServers: servers(1), searchDomains: ['a.example'], rdnssLifetimeSeconds: 4294967295, dnsslLifetimeSeconds: 1800 }), raBackend: 'frr' })!.interfaces.get('eth2')!;
    expect(lines).toEqual(expect.arrayContaining(['ipv6 nd rdnss 2001:db8:53::1 infinite', 'ipv6 nd dnssl a.example 1800']));
    // As zebra 8.4.4 prints them in `show running-config`: sorted, 0xffffffff as `infinite`.
    const printed = parseFrrRunningConfig(`interface eth2\n${[...lines].sort().map((line) => ` ${line}`).join('\n')}\nexit\n`);
    expect(planFrrChange(new Map([['eth2', lines]]), printed).commands).toBe('');
  });
});
