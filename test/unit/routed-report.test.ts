import { describe, expect, it } from 'vitest';
import { formatRoutesTable } from '../../src/cli/routes-format.js';
import { renderObservedReport } from '../../src/observe/public-address.js';
import { renderRoutedPrefixReport } from '../../src/observe/routed-report.js';
import { parseNeighbours, parsePrefixRoutes } from '../../src/observe/ip-json.js';
import { DesiredState } from '../../src/schema/desired-state.js';
import { ObservedMessage } from '../../src/schema/protocol.js';
import { vpcInput } from '../support/states.js';

function state() {
  const input = vpcInput();
  input.schemaVersion = 2;
  input.guestNetworks[0].routedPrefixes = [
    { prefix: '2001:db8:300::/56', nextHop: '2001:db8:200:1::10', description: 'vm-1' },
    { prefix: '2001:db8:301::/56', nextHop: '2001:db8:200:1::11' },
  ];
  return DesiredState.parse(input);
}

// As iproute2 6.1 prints them.
const routes = parsePrefixRoutes([
  { dst: '2001:db8:300::/56', gateway: '2001:db8:200:1::10', dev: 'eth2', protocol: '118', metric: 1024, flags: [] },
  { dst: '2001:db8:200:1::/64', dev: 'eth2', protocol: 'kernel', metric: 256, flags: [] },
]);
const neighbours = parseNeighbours([
  { dst: '2001:db8:200:1::10', dev: 'eth2', lladdr: '52:54:00:00:00:10', state: ['REACHABLE'] },
  { dst: '2001:db8:200:1::11', dev: 'eth2', state: ['FAILED'] },
]);

describe('the routed prefixes report', () => {
  it('says per prefix whether its route is in the kernel and how its next hop answers', () => {
    const report = renderRoutedPrefixReport(state(), routes, neighbours);
    expect(report).toEqual([
      { network: 'tier-web', prefix: '2001:db8:300::/56', nextHop: '2001:db8:200:1::10', interface: 'eth2', description: 'vm-1', isRouted: true, neighbour: 'reachable' },
      { network: 'tier-web', prefix: '2001:db8:301::/56', nextHop: '2001:db8:200:1::11', interface: 'eth2', description: null, isRouted: false, neighbour: 'failed' },
    ]);
    const observed = renderObservedReport(state(), [], [], [], new Map(), null, report);
    expect(ObservedMessage.parse(observed).routedPrefixes).toHaveLength(2);
    expect(observed.warnings).toContainEqual('routed prefix 2001:db8:301::/56: next hop 2001:db8:200:1::11 on eth2 does not answer (neighbour failed)');
    expect(formatRoutesTable(report)).toMatch(/^2 routed, 1 installed, 1 next hop not answering\n.*\n2001:db8:301::\/56 +tier-web +2001:db8:200:1::11 +eth2 +missing +failed +-\n$/s);
  });
});

describe('a next hop that is gone', () => {
  const failedBefore = renderRoutedPrefixReport(state(), routes, neighbours);
  const neighbourOf = (report: ReturnType<typeof renderRoutedPrefixReport>) => report.map((r) => r.neighbour);

  it('stays failed while the kernel has dropped its entry, or asks again (incomplete)', () => {
    expect(neighbourOf(renderRoutedPrefixReport(state(), routes, [], failedBefore))).toEqual([null, 'failed']);
    const asking = parseNeighbours([{ dst: '2001:db8:200:1::11', dev: 'eth2', state: ['INCOMPLETE'] }]);
    expect(neighbourOf(renderRoutedPrefixReport(state(), routes, asking, failedBefore))).toEqual([null, 'failed']);
  });

  it('is what the kernel says once it answers again, and a next hop never failed is never called so', () => {
    const back = parseNeighbours([{ dst: '2001:db8:200:1::11', dev: 'eth2', lladdr: '52:54:00:00:00:11', state: ['REACHABLE'] }]);
    expect(neighbourOf(renderRoutedPrefixReport(state(), routes, back, failedBefore))).toEqual([null, 'reachable']);
    const asking = parseNeighbours([{ dst: '2001:db8:200:1::11', dev: 'eth2', state: ['INCOMPLETE'] }]);
    expect(neighbourOf(renderRoutedPrefixReport(state(), routes, asking))).toEqual([null, 'incomplete']);
  });
});
