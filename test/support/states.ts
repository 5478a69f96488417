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
