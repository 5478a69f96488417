/** Desired-state inputs shared by the unit tests: small, valid, and easy to vary. */

/** A valid isolated-network state as the server would send it. */
export function isolatedInput(): Record<string, any> {
  return {
    schemaVersion: 1,
    router: { id: 'r-1-VM', kind: 'isolated' },
    public: { interface: 'eth1' },
    guestNetworks: [
      {
        id: 'net-1',
        interface: 'eth2',
        prefix: '2001:db8:200:1::/64',
        firewall: { defaultEgress: 'allow', ingress: [{ protocol: 'tcp', ports: { start: 22, end: 22 } }], egress: [] },
      },
    ],
  };
}

/** A valid two-tier VPC state. */
export function vpcInput(): Record<string, any> {
  return {
    schemaVersion: 1,
    router: { id: 'r-2-VM', kind: 'vpc' },
    public: { interface: 'eth1', expectedPrefix: '2001:db8:100::/64' },
    guestNetworks: [
      { id: 'tier-web', interface: 'eth2', prefix: '2001:db8:200:1::/64', aclId: 'acl-web' },
      { id: 'tier-db', interface: 'eth3', prefix: '2001:db8:200:2::/64', aclId: 'acl-db' },
    ],
    aclLists: [
      {
        id: 'acl-web',
        items: [{ number: 10, action: 'allow', direction: 'ingress', protocol: 'tcp', ports: { start: 443, end: 443 } }],
      },
      { id: 'acl-db', defaultEgress: 'deny', items: [] },
    ],
  };
}

/** A valid isolated-network state whose VR announces its /56 over BGP to the upstream on the public link. */
export function bgpInput(): Record<string, any> {
  const input = isolatedInput();
  input.public.expectedPrefix = '2001:db8:100::/64';
  input.routing = {
    protocol: 'bgp',
    bgp: {
      localAs: 65010,
      routerId: '192.0.2.10',
      peers: [{ address: '2001:db8:100::1', remoteAs: 65000, accept: 'default-route' }],
      announce: { aggregates: ['2001:db8:200::/56'] },
    },
  };
  return input;
}

/** bgpInput's VR announcing the same /56 by OSPFv3 on the public link instead, taking the default route from it. */
export function ospfInput(): Record<string, any> {
  const input = isolatedInput();
  input.public.expectedPrefix = '2001:db8:100::/64';
  input.routing = {
    protocol: 'ospf',
    ospf: { routerId: '192.0.2.10', accept: 'default-route', announce: { aggregates: ['2001:db8:200::/56'] } },
  };
  return input;
}

/** A valid isolated-network state of the primary-to-be of a redundant pair (docs/redundancy.md). */
export function redundantInput(): Record<string, any> {
  const input = isolatedInput();
  input.public.expectedPrefix = '2001:db8:100::/64';
  input.redundancy = {
    vrrpId: 51,
    priority: 200,
    peer: { interface: 'eth9', localAddress: 'fd00:5::1/64', address: 'fd00:5::2' },
    publicAddress: '2001:db8:100::100/64',
  };
  return input;
}

/**
 * bgpInput's VR at schemaVersion 2 on a shared network too: eth5, where the upstream (2001:db8:500::1, a second
 * peer) is the instances' gateway, and a /56 announced with instance 2001:db8:500::a as next hop.
 */
export function sharedInput(): Record<string, any> {
  const input = bgpInput();
  input.schemaVersion = 2;
  input.routing.bgp.peers.push({ address: '2001:db8:500::1', remoteAs: 65000 });
  input.sharedNetworks = [
    {
      id: 'shared-1',
      interface: 'eth5',
      prefix: '2001:db8:500::/64',
      address: '2001:db8:500::2',
      routedPrefixes: [{ prefix: '2001:db8:600::/56', nextHop: '2001:db8:500::a', description: 'vpn of vm-7' }],
    },
  ];
  return input;
}
