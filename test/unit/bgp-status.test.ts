import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { BgpStatusParseError, parseBgpNeighbors, readBgpStatus, selectBgpDefaultRoute } from '../../src/observe/bgp-status.js';
import { parseRoutes } from '../../src/observe/ip-json.js';
import { agentConfigIn } from '../support/agent-config.js';
import { MemoryHost } from '../support/memory-host.js';

/**
 * The parser of bgpd's `show bgp neighbors json`, on real answers of FRR
 * 8.4.4 (test/fixtures/frr-show-bgp-neighbors-*.json, measured with two
 * bgpd in namespaces: a session up, one refused for a wrong AS, one shut
 * down by the peer with a message, one being configured).
 */

const fixture = (name: string) => readFileSync(`test/fixtures/${name}`, 'utf8');

describe('parseBgpNeighbors', () => {
  it('reads an Established session: its up-since epoch, and the reset reason bgpd keeps from before it came up', () => {
    expect(parseBgpNeighbors(fixture('frr-show-bgp-neighbors-one.json'))).toEqual([
      {
        address: '2001:db8:ff::1',
        state: 'Established',
        upSinceEpochSeconds: 1796286507,
        prefixesReceived: 0,
        prefixesSent: 0,
        connectionsDropped: 0,
        lastReset: 'No AFI/SAFI activated for peer',
        lastNotification: null,
      },
    ]);
  });

  it('counts the prefixes accepted after the import policy, and reads a NOTIFICATION the VR sent to a peer in Idle', () => {
    const [refused, up] = parseBgpNeighbors(fixture('frr-show-bgp-neighbors-established.json'));
    // The peer sent ::/0 and a /48; the import policy let only ::/0 in. The VR sent its block and ::/0.
    expect(up).toMatchObject({ address: '2001:db8:ff::1', state: 'Established', upSinceEpochSeconds: 1796315752, prefixesReceived: 1, prefixesSent: 2 });
    expect(refused).toEqual({
      address: '2001:db8:fe::1',
      state: 'Idle',
      upSinceEpochSeconds: null,
      prefixesReceived: null,
      prefixesSent: null,
      connectionsDropped: 0,
      lastReset: 'BGP Notification send',
      lastNotification: 'OPEN Message Error/Bad Peer AS (sent)',
    });
  });

  it("reads a session the peer shut down, with the peer's RFC 8203 message, and counts the drop", () => {
    const [, down] = parseBgpNeighbors(fixture('frr-show-bgp-neighbors-down.json'));
    expect(down).toEqual({
      address: '2001:db8:ff::1',
      state: 'Active',
      upSinceEpochSeconds: null,
      prefixesReceived: null,
      prefixesSent: null,
      connectionsDropped: 1,
      lastReset: 'BGP Notification received',
      lastNotification: 'Cease/Administrative Shutdown (received): planned maintenance',
    });
  });

  it('reads a peer being configured, which bgpd has no counts for yet', () => {
    expect(parseBgpNeighbors(fixture('frr-show-bgp-neighbors-connecting.json')).map((p) => [p.address, p.state, p.prefixesSent, p.lastReset])).toEqual([
      ['2001:db8:fe::1', 'Idle', null, 'No AFI/SAFI activated for peer'],
      ['2001:db8:ff::1', 'Idle', null, 'No AFI/SAFI activated for peer'],
    ]);
  });

  it('takes what is missing as unknown, normalises the addresses, and leaves out keys that are no IPv6 neighbour', () => {
    const text = JSON.stringify({
      '2001:DB8:0::1': {},
      '2001:db8::2': { bgpState: 'Established', connectionsDropped: -1, addressFamilyInfo: { ipv4Unicast: { acceptedPrefixCounter: 3 } } },
      '192.0.2.1': { bgpState: 'Established' },
      vrfName: 'default',
      '2001:db8::3': 'Established',
    });
    expect(parseBgpNeighbors(text)).toEqual([
      { address: '2001:db8::1', state: 'Unknown', upSinceEpochSeconds: null, prefixesReceived: null, prefixesSent: null, connectionsDropped: 0, lastReset: null, lastNotification: null },
      { address: '2001:db8::2', state: 'Established', upSinceEpochSeconds: null, prefixesReceived: null, prefixesSent: null, connectionsDropped: 0, lastReset: null, lastNotification: null },
    ]);
    expect(parseBgpNeighbors('{}\n')).toEqual([]);
  });

  it('refuses what is not a JSON object, keeping the text', () => {
    expect(() => parseBgpNeighbors('% No BGP process is configured')).toThrow(BgpStatusParseError);
    expect(() => parseBgpNeighbors('[]')).toThrow(/not a JSON object/);
    try {
      parseBgpNeighbors('');
    } catch (error) {
      expect(error).toMatchObject({ name: 'BgpStatusParseError', text: '' });
    }
  });
});

describe('selectBgpDefaultRoute', () => {
  it("finds the default route zebra installed for bgpd (`ip -j` protocol bgp) and not one learned from an RA", () => {
    expect(selectBgpDefaultRoute(parseRoutes(JSON.parse(fixture('ip-j-6-route-show-default-bgp.json'))))).toEqual({ gateway: 'fe80::dcf7:f7ff:feab:3ec9', interface: 'pub0' });
    expect(selectBgpDefaultRoute(parseRoutes(JSON.parse(fixture('ip-j-6-route-show-default.json'))))).toBeNull();
  });
});

describe('readBgpStatus on the in-memory host', () => {
  const config = agentConfigIn('/vr');

  it('says null while no bgpd runs, and reads the neighbours of the one that does', async () => {
    const host = new MemoryHost(['eth1']);
    expect(await readBgpStatus(host, config)).toBeNull();
    const pid = await host.spawnDaemon(['/usr/lib/frr/bgpd', '-f', '/dev/null', '-i', '/vr/frr/bgpd.pid']);
    host.routing.runCommands('router bgp 65010\n neighbor 2001:db8:100::1 remote-as 65000\nexit\n');
    host.bgpSessions.sessions.set('2001:db8:100::1', { state: 'Established', prefixesAccepted: 1, prefixesSent: 1, upSinceEpochSeconds: 1_000 });
    const [peer, ...others] = (await readBgpStatus(host, config)) ?? [];
    expect(others).toEqual([]);
    expect(peer).toMatchObject({ address: '2001:db8:100::1', state: 'Established', prefixesReceived: 1, prefixesSent: 1 });
    expect([1_000, 1_001]).toContain(peer!.upSinceEpochSeconds);
    host.signal(pid, 'SIGKILL');
    expect(await readBgpStatus(host, config)).toBeNull();
  });

  it('gives up on a bgpd that does not answer, at the timeout it sets', async () => {
    const host = new MemoryHost(['eth1']);
    await host.spawnDaemon(['/usr/lib/frr/bgpd', '-f', '/dev/null', '-i', '/vr/frr/bgpd.pid']);
    host.bgpSessions.isStuck = true;
    const started = Date.now();
    expect(await readBgpStatus(host, config)).toBeNull();
    expect(Date.now() - started).toBeLessThan(10_000);
  });
});
