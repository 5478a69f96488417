import { ExecError } from '../../src/host/host.js';
import { isInPrefix } from '../../src/schema/ipv6.js';

/** A link of the fake machine. */
export interface MemoryLink {
  isUp: boolean;
  mac: string;
}

/** An address of the fake machine. */
export interface MemoryAddress {
  interface: string;
  address: string;
  prefixLength: number;
}

/** A route of the fake machine other than a default route. */
export interface MemoryPrefixRoute {
  destination: string;
  gateway: string;
  interface: string;
  protocol: string;
  isOnLink?: boolean;
}

/** A neighbour table entry of the fake machine; state as the kernel names it (REACHABLE, STALE, FAILED…). */
export interface MemoryNeighbour {
  interface: string;
  address: string;
  state: string;
}

/** A running `ip -o monitor address link`: where the kernel's events go. */
export interface MemoryMonitor {
  onLine: (line: string) => void;
  onExit: (code: number | null) => void;
}

/**
 * The kernel of the in-memory host: links, addresses, default routes, routes
 * via a next hop, the neighbour table and sysctls, what `ip` does to them and how it prints them (`ip -j`, and the
 * lines of `ip -o monitor address link`), as iproute2 6.1 does.
 */
export class MemoryKernel {
  readonly sysctls = new Map<string, string>();
  readonly links = new Map<string, MemoryLink>();
  addresses: MemoryAddress[] = [];
  routes: { gateway: string; interface: string; protocol: string }[] = [];
  prefixRoutes: MemoryPrefixRoute[] = [];
  neighbours: MemoryNeighbour[] = [];
  /** How many times the addresses were read: one per observation of the host. */
  observations = 0;
  /** How many times the routes were dumped (`route show`). */
  routeDumps = 0;
  /** Every mutating command, for tests that count writes. */
  readonly writes: string[] = [];
  /** Runs right after each read of the addresses: lets a test change the host while a reconcile observes it. */
  afterObservation: (() => void) | null = null;
  /** The running address monitors, by PID. */
  protected readonly monitors = new Map<number, MemoryMonitor>();
  /** The changes `vr6-route-genid` was told of: routes, addresses (their connected routes) and links. */
  private routeChanges = 0;
  /** The routes and links as they were after the last change that was counted. */
  private countedTable = '';

  constructor(interfaces: readonly string[] = []) {
    this.sysctls.set('net/ipv6/conf/all/forwarding', '0');
    interfaces.forEach((name, index) => this.addLink(name, `52:54:00:00:00:${(index + 1).toString(16).padStart(2, '0')}`));
  }

  /** Adds an interface with the kernel's default sysctls of a new netns. */
  addLink(name: string, mac: string): void {
    this.noticeChangesBehindIp();
    this.links.set(name, { isUp: true, mac });
    this.countRouteChanges(1);
    const defaults = { disable_ipv6: '0', accept_ra: '1', accept_ra_defrtr: '1', autoconf: '1', use_tempaddr: '0', addr_gen_mode: '0', forwarding: '0' };
    for (const [knob, value] of Object.entries(defaults)) this.sysctls.set(`net/ipv6/conf/${name}/${knob}`, value);
    this.announceLink(name);
  }

  async readSysctls(keys: readonly string[]): Promise<Map<string, string | null>> {
    return new Map(keys.map((key) => [key, this.sysctls.get(key) ?? null]));
  }

  async writeSysctl(key: string, value: string): Promise<void> {
    if (!this.sysctls.has(key)) throw new Error(`ENOENT: /proc/sys/${key}`);
    this.writes.push(`sysctl ${key}=${value}`);
    this.sysctls.set(key, value);
  }

  /**
   * What `vr6-route-genid --serve` answers: one change per route via a next
   * hop, address and link that ip wrote, as the kernel notifies them. What a
   * test changed in the model behind ip's back counts as notifications that
   * were lost, which no count of the agent's writes explains.
   */
  routeGeneration(): string {
    this.noticeChangesBehindIp();
    return `memory ${this.routeChanges}`;
  }

  /** Makes a change the kernel does not notify: `vr6-route-genid` does not see it either. */
  unnotified(change: () => void): void {
    this.noticeChangesBehindIp();
    change();
    this.countRouteChanges(0);
  }

  private noticeChangesBehindIp(): void {
    if (this.tableText() !== this.countedTable) this.countRouteChanges(2 ** 32);
  }

  private countRouteChanges(changes: number): void {
    this.routeChanges += changes;
    this.countedTable = this.tableText();
  }

  private tableText(): string {
    return JSON.stringify([this.prefixRoutes, this.addresses, [...this.links]]);
  }

  /** Runs an ip command line; what it changed is counted once it ends, however it ends. */
  protected runIp(args: string[], input: string): string {
    this.noticeChangesBehindIp();
    this.uncounted = 0;
    try {
      return this.runIpCommand(args, input);
    } finally {
      if (this.uncounted > 0) this.countRouteChanges(this.uncounted);
      this.uncounted = 0;
    }
  }

  /** Changes made by the ip command running now. */
  private uncounted = 0;

  private runIpCommand(args: string[], input: string): string {
    const line = args.join(' ');
    if (line === '-6 -j -batch -') {
      return input.split('\n').filter((command) => command !== '').map((command) => `${this.listIp(command)}\n`).join('');
    }
    if (line === '-6 -batch -') {
      for (const command of input.split('\n').filter((c) => c !== '')) this.runIpCommand(['-6', ...command.split(' ')], '');
      return '';
    }
    this.writes.push(`ip ${line}`);
    const prefixRoute = /^-6 route (replace|del) (\S+\/\d+) via (\S+) dev (\S+)( onlink)? proto (\d+)$/.exec(line);
    if (prefixRoute) {
      const [, verb, destination, gateway, ifname, onlink, protocol] = prefixRoute;
      return this.mutatePrefixRoute(verb!, { destination: destination!, gateway: gateway!, interface: ifname!, protocol: protocol!, isOnLink: onlink !== undefined });
    }
    const link = /^link set dev (\S+) up$/.exec(line);
    if (link) return this.mutateLink(link[1]!);
    const addr = /^-6 addr (replace|del) ([^/]+)\/(\d+) dev (\S+)$/.exec(line);
    if (addr) return this.mutateAddress(addr[1]!, { address: addr[2]!, prefixLength: Number(addr[3]), interface: addr[4]! });
    const route = /^-6 route (replace|del) default via (\S+) dev (\S+) proto (\d+)$/.exec(line);
    if (route) {
      this.routes = this.routes.filter((r) => r.interface !== route[3]);
      if (route[1] === 'replace') this.routes.push({ gateway: route[2]!, interface: route[3]!, protocol: route[4]! });
      return '';
    }
    throw new ExecError(['ip', ...args], 255, 'MemoryHost: unsupported ip command');
  }

  // What `ip -6 -j <command>` prints: one line of JSON.
  private listIp(command: string): string {
    if (command === 'addr show') {
      this.observations++;
      const listed = JSON.stringify(this.listAddresses());
      this.afterObservation?.();
      return listed;
    }
    if (command === 'link show') {
      return JSON.stringify([...this.links].map(([ifname, l]) => ({ ifname, flags: l.isUp ? ['UP'] : [], address: l.mac })));
    }
    if (command === 'route show default') {
      return JSON.stringify(this.routes.map((r) => ({ dst: 'default', gateway: r.gateway, dev: r.interface, protocol: r.protocol })));
    }
    if (command === 'route show') {
      this.routeDumps++;
      const defaults = this.routes.map((r) => ({ dst: 'default', gateway: r.gateway, dev: r.interface, protocol: r.protocol }));
      // The connected /64 of each address, as the kernel adds it: no gateway.
      const connected = this.addresses.map((a) => ({ dst: `${a.address}/${a.prefixLength}`, dev: a.interface, protocol: 'kernel' }));
      const viaHops = this.prefixRoutes.map((r) => ({ dst: r.destination, gateway: r.gateway, dev: r.interface, protocol: r.protocol, flags: r.isOnLink ? ['onlink'] : [] }));
      return JSON.stringify([...viaHops, ...connected, ...defaults]);
    }
    if (command === 'neigh show') {
      return JSON.stringify(this.neighbours.map((n) => ({ dst: n.address, dev: n.interface, state: [n.state] })));
    }
    throw new ExecError(['ip', '-6', '-j', command], 255, 'MemoryHost: unsupported ip batch command');
  }

  private listAddresses() {
    return [...this.links.keys()].map((ifname) => ({
      ifname,
      addr_info: this.addresses
        .filter((a) => a.interface === ifname)
        .map((a) => ({ family: 'inet6', local: a.address, prefixlen: a.prefixLength, scope: 'global', valid_life_time: 4294967295 })),
    }));
  }

  // As the kernel: replace matches on the destination alone (one table, one metric), del on the whole route.
  private isOnPrefixOf(ifname: string, gateway: string): boolean {
    return this.addresses.some((a) => a.interface === ifname && isInPrefix(gateway, { address: a.address, length: a.prefixLength }));
  }

  private mutatePrefixRoute(verb: string, route: MemoryPrefixRoute): string {
    if (!this.links.has(route.interface)) throw new ExecError(['ip', 'route'], 1, `Cannot find device "${route.interface}"`);
    // As the kernel: a gateway must be link-local or inside a prefix of the device, unless the route says onlink.
    if (verb === 'replace' && !route.isOnLink && !route.gateway.startsWith('fe80:') && !this.isOnPrefixOf(route.interface, route.gateway)) {
      throw new ExecError(['ip', 'route'], 2, 'Error: Nexthop has invalid gateway.');
    }
    if (verb === 'del') {
      const before = this.prefixRoutes.length;
      this.prefixRoutes = this.prefixRoutes.filter((r) => !(r.destination === route.destination && r.gateway === route.gateway && r.interface === route.interface && r.protocol === route.protocol));
      if (this.prefixRoutes.length === before) throw new ExecError(['ip', 'route'], 2, 'RTNETLINK answers: No such process');
      this.uncounted++;
      return '';
    }
    const index = this.prefixRoutes.findIndex((r) => r.destination === route.destination);
    if (index < 0) this.prefixRoutes.push(route);
    else this.prefixRoutes[index] = route;
    this.uncounted++;
    return '';
  }

  private mutateLink(name: string): string {
    const link = this.links.get(name);
    if (!link) throw new ExecError(['ip', 'link'], 1, `Cannot find device "${name}"`);
    if (link.isUp) return '';
    link.isUp = true;
    this.uncounted++;
    this.announceLink(name);
    return '';
  }

  private mutateAddress(verb: string, address: MemoryAddress): string {
    if (!this.links.has(address.interface)) throw new ExecError(['ip', 'addr'], 1, `Cannot find device "${address.interface}"`);
    const same = (a: MemoryAddress) => a.interface === address.interface && a.address === address.address;
    if (verb === 'del' && !this.addresses.some(same)) throw new ExecError(['ip', 'addr'], 2, 'Cannot assign requested address');
    this.addresses = this.addresses.filter((a) => !same(a));
    if (verb === 'replace') this.addresses.push(address);
    this.uncounted++;
    const line = `${this.ifindexOf(address.interface)}: ${address.interface}    inet6 ${address.address}/${address.prefixLength} scope global \\       valid_lft forever preferred_lft forever`;
    this.announce(verb === 'del' ? `Deleted ${line}` : line);
    return '';
  }

  // The kernel numbers links from 2 (lo is 1) in the order they were made.
  private ifindexOf(name: string): number {
    return [...this.links.keys()].indexOf(name) + 2;
  }

  // Links in the model only ever come up.
  private announceLink(name: string): void {
    const mac = this.links.get(name)!.mac;
    this.announce(`${this.ifindexOf(name)}: ${name}: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP group default \\    link/ether ${mac} brd ff:ff:ff:ff:ff:ff`);
  }

  // What every running `ip -o monitor` prints, a moment after the change, as the kernel's netlink event reaches it.
  private announce(line: string): void {
    for (const monitor of this.monitors.values()) queueMicrotask(() => monitor.onLine(line));
  }
}
