import { describe, expect, it } from 'vitest';
import { DesiredState } from '../../src/schema/desired-state.js';
import { parseWith } from '../../src/schema/validation.js';
import { renderBgpLines } from '../../src/render/frr-bgp.js';
import { renderHost } from '../../src/render/host-facts.js';
import { formatFrrLines } from '../../src/model/frr-config.js';
import { planRoutingChange } from '../../src/plan/frr-routing-plan.js';
import { redundantInput, sharedInput } from '../support/states.js';

function errorsOf(input: unknown) {
  const parsed = parseWith(DesiredState, input);
  return parsed.ok ? [] : parsed.errors;
}

const at = (path: string, message: string | RegExp) => ({ path, message: typeof message === 'string' ? message : expect.stringMatching(message) });

describe('shared networks: the desired state', () => {
  it('parses a shared network with its routed prefix', () => {
    const parsed = parseWith(DesiredState, sharedInput());
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    expect(parsed.value.sharedNetworks[0]).toEqual({
      id: 'shared-1',
      interface: 'eth5',
      prefix: { address: '2001:db8:500::', length: 64 },
      address: '2001:db8:500::2',
      routedPrefixes: [{ prefix: { address: '2001:db8:600::', length: 56 }, nextHop: '2001:db8:500::a', description: 'vpn of vm-7' }],
    });
  });

  it('refuses them at schemaVersion 1', () => {
    const input = sharedInput();
    input.schemaVersion = 1;
    expect(errorsOf(input)).toEqual([at('$.sharedNetworks', /needs schemaVersion 2/)]);
  });

  it('refuses them without BGP', () => {
    const input = sharedInput();
    input.routing = { protocol: 'static' };
    expect(errorsOf(input)).toEqual([at('$.sharedNetworks', /needs routing.protocol bgp/)]);
  });

  it('refuses a shared network with no BGP peer in its /64', () => {
    const input = sharedInput();
    input.routing.bgp.peers.pop();
    expect(errorsOf(input)).toEqual([at('$.sharedNetworks[0].prefix', /has no routing.bgp peer in it.*RFC 4271 §5.1.3/)]);
  });

  it('refuses a next hop outside the /64, a link-local one, the VR’s own address and the upstream’s', () => {
    const input = sharedInput();
    input.sharedNetworks[0].routedPrefixes = [
      { prefix: '2001:db8:600::/56', nextHop: '2001:db8:501::a' },
      { prefix: '2001:db8:601::/56', nextHop: 'fe80::a' },
      { prefix: '2001:db8:602::/56', nextHop: '2001:db8:500::2' },
      { prefix: '2001:db8:603::/56', nextHop: '2001:db8:500::1' },
    ];
    const global = "must be a global address inside the network's prefix 2001:db8:500::/64: a BGP next hop is global";
    expect(errorsOf(input)).toEqual([
      at('$.sharedNetworks[0].routedPrefixes[0].nextHop', global),
      at('$.sharedNetworks[0].routedPrefixes[1].nextHop', global),
      at('$.sharedNetworks[0].routedPrefixes[2].nextHop', "is the VR's own address on the network, not an instance's"),
      at('$.sharedNetworks[0].routedPrefixes[3].nextHop', "is the upstream's own address (routing.bgp.peers[1]), not an instance's"),
    ]);
  });

  it("refuses a BGP peer at the VR's own address on the link or at the /64's Subnet-Router anycast address", () => {
    const own = sharedInput();
    own.routing.bgp.peers[1].address = '2001:db8:500::2';
    expect(errorsOf(own)).toEqual([at('$.routing.bgp.peers[1].address', "is the VR's own address on the link (sharedNetworks[0].address), not the upstream's")]);
    const anycast = sharedInput();
    anycast.routing.bgp.peers[1].address = '2001:db8:500::';
    expect(errorsOf(anycast)).toEqual([at('$.routing.bgp.peers[1].address', /^is the Subnet-Router anycast address of sharedNetworks\[0\]\.prefix \(RFC 4291 §2\.6\.1\)/)]);
  });

  it('refuses a prefix longer than /64 or shorter than /40, and a plain CIDR', () => {
    const input = sharedInput();
    input.sharedNetworks[0].routedPrefixes = [
      { prefix: '2001:db8:600::/80', nextHop: '2001:db8:500::a' },
      { prefix: '2001:d00::/24', nextHop: '2001:db8:500::a' },
      '2001:db8:700::/56',
    ];
    const errors = errorsOf(input);
    expect(errors).toContainEqual(at('$.sharedNetworks[0].routedPrefixes[0].prefix', 'must be a /40 to /64'));
    expect(errors).toContainEqual(at('$.sharedNetworks[0].routedPrefixes[1].prefix', 'must be a /40 to /64'));
    expect(errors).toContainEqual(at('$.sharedNetworks[0].routedPrefixes[2]', /is a plain CIDR/));
  });

  it('refuses overlaps and duplicates with guest, public and routed prefixes, the shared /64 and an aggregate', () => {
    const input = sharedInput();
    input.guestNetworks[0].routedPrefixes = [{ prefix: '2001:db8:600::/56', nextHop: '2001:db8:200:1::10' }];
    input.sharedNetworks[0].routedPrefixes.push(
      { prefix: '2001:db8:200:1::/64', nextHop: '2001:db8:500::a' },
      { prefix: '2001:db8:100::/64', nextHop: '2001:db8:500::a' },
      { prefix: '2001:db8:500::/56', nextHop: '2001:db8:500::a' },
      { prefix: '2001:db8:600:10::/60', nextHop: '2001:db8:500::b' },
    );
    const errors = errorsOf(input);
    expect(errors).toContainEqual(at('$.sharedNetworks[0].routedPrefixes[0]', 'duplicates guestNetworks[0].routedPrefixes[0]'));
    expect(errors).toContainEqual(at('$.sharedNetworks[0].routedPrefixes[1]', 'overlaps guestNetworks[0].prefix'));
    expect(errors).toContainEqual(at('$.sharedNetworks[0].routedPrefixes[1].prefix', /overlaps routing.bgp.announce.aggregates\[0\]/));
    expect(errors).toContainEqual(at('$.sharedNetworks[0].routedPrefixes[2]', 'overlaps the public prefix'));
    expect(errors).toContainEqual(at('$.sharedNetworks[0].routedPrefixes[3]', 'overlaps sharedNetworks[0].prefix'));
    expect(errors).toContainEqual(at('$.sharedNetworks[0].routedPrefixes[4]', 'overlaps sharedNetworks[0].routedPrefixes[0]'));
  });

  it('refuses a shared /64 that overlaps a guest one, and an interface or id another network has', () => {
    const input = sharedInput();
    input.sharedNetworks.push({ ...input.sharedNetworks[0], id: 'net-1', interface: 'eth2', prefix: '2001:db8:200:1::/64', address: '2001:db8:200:1::99', routedPrefixes: [{ prefix: '2001:db8:700::/56', nextHop: '2001:db8:200:1::a' }] });
    input.sharedNetworks.push({ ...input.sharedNetworks[0], id: 'shared-1', interface: 'eth1', address: '2001:db8:501::2', routedPrefixes: [{ prefix: '2001:db8:800::/56', nextHop: '2001:db8:500::c' }] });
    const errors = errorsOf(input);
    expect(errors).toContainEqual(at('$.sharedNetworks[1].id', 'duplicates guestNetworks[0].id'));
    expect(errors).toContainEqual(at('$.sharedNetworks[1].interface', 'duplicates guestNetworks[0].interface'));
    expect(errors).toContainEqual(at('$.sharedNetworks[1].prefix', 'overlaps guestNetworks[0].prefix'));
    expect(errors).toContainEqual(at('$.sharedNetworks[2].id', 'duplicates sharedNetworks[0].id'));
    expect(errors).toContainEqual(at('$.sharedNetworks[2].interface', 'is the public interface'));
    expect(errors).toContainEqual(at('$.sharedNetworks[2].prefix', 'overlaps sharedNetworks[0].prefix'));
    expect(errors).toContainEqual(at('$.sharedNetworks[2].address', 'must be inside 2001:db8:500::/64'));
  });

  it("refuses the redundant pair's sync link as a shared link", () => {
    const input = sharedInput();
    input.redundancy = redundantInput().redundancy;
    input.sharedNetworks[0].interface = input.redundancy.peer.interface;
    expect(errorsOf(input)).toContainEqual(at('$.sharedNetworks[0].interface', "is the redundant pair's sync link (redundancy.peer.interface)"));
  });

  it('refuses shared networks in a redundant pair, whose announcements name the pair as next hop', () => {
    const input = sharedInput();
    input.redundancy = redundantInput().redundancy;
    expect(errorsOf(input)).toContainEqual(at('$.sharedNetworks', "is not offered in a redundant pair: the pair's announcements name the pair's addresses as next hop, not the instance's"));
  });

  it('refuses more than 16', () => {
    const input = sharedInput();
    input.sharedNetworks = Array.from({ length: 17 }, () => input.sharedNetworks[0]);
    expect(errorsOf(input)).toContainEqual(at('$.sharedNetworks', /16/));
  });
});

describe('shared networks: the render', () => {
  const state = DesiredState.parse(sharedInput());

  it('announces the prefix with a route-map that sets the instance as global next hop, and lets it out', () => {
    const lines = formatFrrLines(renderBgpLines(state));
    const network = lines.find((line) => line.includes('network 2001:db8:600::/56'));
    expect(network).toMatch(/^  network 2001:db8:600::\/56 route-map (VR6-NEXT-HOP-[0-9a-f]{16})$/);
    const routeMap = / route-map (\S+)$/.exec(network!)![1]!;
    const block = lines.indexOf(`route-map ${routeMap} permit 10`);
    expect(lines[block + 1]).toBe(' set ipv6 next-hop global 2001:db8:500::a');
  });

  it('lets the prefix out to the peer on its shared link alone: any other peer would get the VR as next hop', () => {
    const lines = formatFrrLines(renderBgpLines(state));
    const policyOf = (peer: string) => lines.find((line) => line.startsWith(`  neighbor ${peer} prefix-list `) && line.endsWith(' out'))!.split(' ')[5]!;
    const [publicPolicy, sharedPolicy] = [policyOf('2001:db8:100::1'), policyOf('2001:db8:500::1')];
    expect(publicPolicy).toBe('VR6-ANNOUNCE');
    expect(sharedPolicy).toMatch(/^VR6-ANNOUNCE-[0-9a-f]{12}$/);
    expect(lines).toContain(`  neighbor 2001:db8:500::1 route-map ${sharedPolicy} out`);
    const permitted = (name: string) => lines.filter((line) => line.startsWith(`ipv6 prefix-list ${name} seq `) && line.includes(' permit ')).map((line) => line.split(' ').pop());
    // The shared peer gets what every peer gets, and its link's routed prefix; the public peer only the first.
    expect(permitted(publicPolicy)).toEqual(['2001:db8:200::/56']);
    expect(permitted(sharedPolicy)).toEqual(['2001:db8:200::/56', '2001:db8:600::/56']);
    expect(lines[lines.indexOf(`route-map ${sharedPolicy} permit 10`) + 1]).toBe(` match ipv6 address prefix-list ${sharedPolicy}`);
  });

  it('routes the prefix to the instance on the shared link, puts the VR’s address there, and has no chains for it', () => {
    const host = renderHost(state);
    expect(host.routedRoutes).toEqual([{ destination: '2001:db8:600::/56', gateway: '2001:db8:500::a', interface: 'eth5', isOnLink: false }]);
    expect(host.addresses).toContainEqual({ interface: 'eth5', address: '2001:db8:500::2', prefixLength: 64 });
    expect(host.interfaces).toContain('eth5');
    const chain = (name: string) => host.ruleset.chains.find((c) => c.name === name)!;
    const naming = (name: string) => chain(name).rules.filter((rule) => JSON.stringify(rule).includes('"eth5"')).map((rule) => rule.comment);
    // In: BGP from the upstream's address on the shared link, nothing else. Through: only guests' packets that passed
    // their egress check, to the routed prefixes the VR has routes for, as they would go upstream. From it, as from the
    // public link, nothing that claims a guest's source (BCP 38): its router may send to the guests too.
    expect(naming('input')).toEqual(['anti-spoofing upstream', 'bgp peer 2001:db8:500::1']);
    expect(naming('forward')).toEqual(['anti-spoofing upstream', 'upstream']);
    expect(host.ruleset.chains.map((c) => c.name).filter((name) => name.includes('eth5'))).toEqual([]);
    expect(host.radvdConf ?? '').not.toContain('eth5');
  });

  it('moves the prefix with one network command and a new route-map, never `no network`', () => {
    const moved = sharedInput();
    moved.sharedNetworks[0].routedPrefixes[0].nextHop = '2001:db8:500::b';
    const change = planRoutingChange(renderBgpLines(DesiredState.parse(moved)), renderBgpLines(state));
    const commands = change.commands.split('\n').filter((line) => line.trim() !== '');
    expect(commands.filter((line) => /network /.test(line))).toEqual([expect.stringMatching(/^  network 2001:db8:600::\/56 route-map VR6-NEXT-HOP-/)]);
    expect(commands).toContain(' set ipv6 next-hop global 2001:db8:500::b');
    expect(commands.filter((line) => /^no route-map VR6-NEXT-HOP-/.test(line))).toHaveLength(1);
    expect(commands.join('\n')).not.toMatch(/no network|prefix-list/);
    // The new route-map exists before the network names it.
    expect(commands.findIndex((line) => line.startsWith('route-map VR6-NEXT-HOP-'))).toBeLessThan(commands.findIndex((line) => line.includes('network ')));
  });

  it('takes back what a shared network announced when its prefix goes: no network, no route-map, no list entry', () => {
    const without = sharedInput();
    without.sharedNetworks[0].routedPrefixes = [];
    const emptied = DesiredState.parse(without);
    const commands = planRoutingChange(renderBgpLines(emptied), renderBgpLines(state)).commands.split('\n').filter((line) => line.trim() !== '');
    expect(commands).toContainEqual(expect.stringMatching(/^  no network 2001:db8:600::\/56 route-map VR6-NEXT-HOP-[0-9a-f]{16}$/));
    expect(commands).toContainEqual(expect.stringMatching(/^no route-map VR6-NEXT-HOP-[0-9a-f]{16} permit 10$/));
    expect(commands).toContainEqual(expect.stringMatching(/^no ipv6 prefix-list VR6-ANNOUNCE-[0-9a-f]{12} seq 20 permit 2001:db8:600::\/56$/));
    expect(renderHost(emptied).routedRoutes).toEqual([]);
    // The link stays the VR's: its address, and the session to the upstream there.
    expect(renderHost(emptied).addresses).toContainEqual({ interface: 'eth5', address: '2001:db8:500::2', prefixLength: 64 });
  });
});
