import type { FrrConfigLine, FrrDaemon } from './frr-config.js';

export type { FrrConfigLine } from './frr-config.js';

/**
 * The host as the agent observes it: the vocabulary that the readers in
 * observe/ produce and the planner compares with the rendering. Plain data,
 * readonly throughout.
 */

/** One IPv6 address as the kernel reports it. */
export interface ObservedAddress {
  readonly interface: string;
  readonly address: string;
  readonly prefixLength: number;
  readonly scope: string;
  readonly isDynamic: boolean;
  readonly isTemporary: boolean;
  readonly isTentative: boolean;
  readonly isDeprecated: boolean;
  readonly isDadFailed: boolean;
  /** Seconds, or null for forever (4294967295). */
  readonly validLifetimeSeconds: number | null;
  readonly preferredLifetimeSeconds: number | null;
}

/** One network interface. */
export interface ObservedLink {
  readonly name: string;
  readonly isUp: boolean;
  readonly mac: string | null;
}

/** One IPv6 route, as much of it as the agent compares. */
export interface ObservedRoute {
  readonly destination: string;
  readonly gateway: string | null;
  readonly interface: string | null;
  readonly protocol: string;
  /** The route says its gateway is on the link (`onlink`), whatever prefixes the link holds. */
  readonly isOnLink: boolean;
}

/**
 * One entry of the IPv6 neighbour table (RFC 4861 §7.3.2): `state` is the
 * kernel's NUD state in lower case (reachable, stale, delay, probe, failed,
 * incomplete, permanent, noarp).
 */
export interface ObservedNeighbour {
  readonly interface: string;
  readonly address: string;
  readonly state: string;
}

/** The links, IPv6 addresses and routes, and the neighbour table, as one `ip` process saw them. */
export interface ObservedNetwork {
  readonly links: readonly ObservedLink[];
  readonly addresses: readonly ObservedAddress[];
  /** The IPv6 default routes. */
  readonly routes: readonly ObservedRoute[];
  /** The other routes of the main table that have a next hop: the agent's routed prefixes, and anyone else's. */
  readonly prefixRoutes: readonly ObservedRoute[];
  readonly neighbours: readonly ObservedNeighbour[];
}

/** A named counter's values. */
export interface CounterValues {
  readonly packets: number;
  readonly bytes: number;
}

/** The agent's table as nft lists it. */
export interface ObservedRuleset {
  /** Per chain, a digest of its definition and rules, counter values left out. */
  readonly chains: ReadonlyMap<string, string>;
  /** Named counters and their values. */
  readonly counters: ReadonlyMap<string, CounterValues>;
}

/** Interface → its router-advertisement lines in zebra's running config, normalised to the form frr.conf states them. */
export type FrrRunningNd = ReadonlyMap<string, readonly string[]>;

/** A daemon the agent runs: its config file as it is on disk, and the PID of the process running it. */
export interface ObservedDaemon {
  readonly config: string | null;
  readonly pid: number | null;
}

/** The host as observed just before planning. */
export interface ObservedHost extends ObservedNetwork {
  /** The value of each sysctl the rendered state names; null when the key does not exist. */
  readonly sysctls: ReadonlyMap<string, string | null>;
  readonly interfacesFile: string | null;
  /** The agent's table as nft lists it; null when absent. */
  readonly ruleset: ObservedRuleset | null;
  readonly radvd: ObservedDaemon;
  /** frr.conf, the PID of each FRR daemon the agent runs (null: none runs), and what they run. */
  readonly frr: {
    readonly config: string | null;
    readonly pids: Readonly<Record<FrrDaemon, number | null>>;
    /** zebra's running RA settings; null while zebra does not run. */
    readonly running: FrrRunningNd | null;
    /** The agent's lines in the routing daemons' running configs (and zebra's for them); null while none of them runs. */
    readonly routing: readonly FrrConfigLine[] | null;
  };
  /** keepalived.conf, and the PIDs of keepalived's parent and of its VRRP child (null: none runs). */
  readonly keepalived: ObservedDaemon & { readonly vrrpPid: number | null };
  /** conntrackd.conf and the PID of the conntrackd the agent runs. */
  readonly conntrackd: ObservedDaemon;
}

/** One BGP session as bgpd reports it (`show bgp neighbors json`, docs/field-notes.md#frr). */
export interface ObservedBgpPeer {
  /** The neighbour's address in RFC 5952 form, as the desired state holds it. */
  readonly address: string;
  /** RFC 4271 §8.2.2's state: Idle, Connect, Active, OpenSent, OpenConfirm or Established (FRR adds Clearing and Deleted). */
  readonly state: string;
  /**
   * When the session came up (Unix seconds), so that a report changes only when the session does; null while it
   * is not Established. bgpd computes it from two clocks at each read, so it wavers by a second between reads.
   */
  readonly upSinceEpochSeconds: number | null;
  /** Prefixes accepted from the peer (after the import policy), and sent to it, in IPv6 unicast; null while not Established. */
  readonly prefixesReceived: number | null;
  readonly prefixesSent: number | null;
  /** How often an established session has gone down since bgpd started: the exact reset counter. */
  readonly connectionsDropped: number;
  /**
   * bgpd's words for why the session last went down or failed to come up, and the last NOTIFICATION sent or
   * received (RFC 4271 §4.5; with the RFC 8203 shutdown message after a colon); null when none. bgpd keeps both
   * after the session is up again, and sets a reset reason while a session first comes up.
   */
  readonly lastReset: string | null;
  readonly lastNotification: string | null;
}

/** bgpd's sessions, and the default route it installed in the kernel. */
export interface ObservedBgp {
  /** False when bgpd did not answer (not running, or stuck); `peers` is then empty. */
  readonly isBgpdAnswering: boolean;
  readonly peers: readonly ObservedBgpPeer[];
  /** The learned default route as the kernel has it (protocol bgp); null when none is installed. */
  readonly defaultRoute: { readonly gateway: string | null; readonly interface: string | null } | null;
}
