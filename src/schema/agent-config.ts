import { z } from 'zod';
import { Identifier } from './fields.js';
import { RedundancyPeer } from './redundancy.js';

/**
 * The agent's own configuration (/etc/vr6-agent/agent.json): where to find the
 * management server, where to keep files, and how often to resync. Paths are
 * absolute; every default suits a Debian 12 VR. The control socket is
 * `<paths.runtimeDir>/control.sock`.
 */

const AbsolutePath = z.string().regex(/^\/[^\0\n]*$/, { message: 'must be an absolute path' });

/**
 * A path that lands in keepalived.conf or conntrackd.conf: both split a line
 * into words at spaces and read quotes, backslashes, `#` and `!` themselves,
 * so such a character would break the file. Plain characters only.
 */
const ConfigWordPath = (field: string) =>
  z.string().regex(/^\/[A-Za-z0-9._/-]+$/, {
    message: `${field} must be an absolute path of letters, digits and . _ / - only (it is written into keepalived.conf and conntrackd.conf, which split it at spaces and read quotes, backslashes, # and ! themselves)`,
  });

/** The pino levels an operator may choose, least to most verbose. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'] as const;
export const LogLevel = z.enum(LOG_LEVELS);
export type LogLevel = z.output<typeof LogLevel>;

const ManagementUrl = z.string().regex(/^(wss?):\/\/[^\s]+$/, { message: 'must be a ws:// or wss:// URL' });

/**
 * What a redundant router's pair needs that CloudStack's databags do not say:
 * the dedicated sync link between the two VRs (CloudStack syncs its IPv4
 * conntrack over the guest link and has no link of its own for it), and
 * optionally a VRRP id chosen by the operator.
 */
export const CloudStackPairConfig = z.strictObject({
  peer: RedundancyPeer,
  vrrpId: z.number().int().min(1).max(255).optional().meta({ description: "overrides the VRRP id taken from the databags, e.g. when two pairs' ids meet on a shared public link" }),
});
export type CloudStackPairConfig = z.output<typeof CloudStackPairConfig>;

/** Where the cloudstack source finds the merged databags and leaves its report (docs/cloudstack.md). */
export const CloudStackSourceConfig = z.strictObject({
  databagDir: AbsolutePath.default('/etc/cloudstack').meta({ description: 'the merged databags, <type>.json, as update_config.py writes them' }),
  files: z
    .partialRecord(z.enum(['cmdline', 'ips', 'guestnetwork', 'networkacl', 'ipv6firewallrules', 'bgppeers', 'staticroutes']), AbsolutePath)
    .default({})
    .meta({ description: 'a databag read from elsewhere than <databagDir>/<name>.json' }),
  reportFile: AbsolutePath.default('/run/vr6-agent/cloudstack-report.json').meta({ description: 'the JSON report a VR script reads (docs/cloudstack.md)' }),
  pollSeconds: z.number().min(0.1).max(3600).default(2).meta({ description: 'how often the databags are read besides the file events' }),
  settleMs: z.number().int().min(0).max(60000).default(300).meta({ description: 'a changed databag is believed when two reads this far apart agree' }),
  retryMs: z.number().int().min(10).max(60000).default(200).meta({ description: 'the wait before reading again a databag caught half-written' }),
  retries: z.number().int().min(0).max(1000).default(25).meta({ description: 'how often a databag that is not JSON is read again before it is reported' }),
  pair: CloudStackPairConfig.optional().meta({ description: 'a redundant router: what CloudStack does not send (docs/cloudstack.md#redundant-routers)' }),
});
export type CloudStackSourceConfig = z.output<typeof CloudStackSourceConfig>;

export const AgentConfig = z.strictObject({
  routerId: Identifier.optional().meta({ description: 'checked against the desired state; absent accepts any' }),
  management: z
    .strictObject({
      urls: z.array(ManagementUrl).max(16).default([]).meta({ description: 'tried in turn; empty runs from the persisted state only' }),
      tokenFile: AbsolutePath.optional(),
      caFile: AbsolutePath.optional(),
      certFile: AbsolutePath.optional().meta({ description: 'PEM client certificate (chain) for mutual TLS over wss://; needs keyFile' }),
      keyFile: AbsolutePath.optional().meta({ description: 'PEM private key of certFile; needs certFile' }),
      heartbeatSeconds: z.number().min(1).max(3600).default(15),
      maxMessageBytes: z.number().int().min(1024).max(64 * 1024 * 1024).default(4 * 1024 * 1024),
      backoffInitialSeconds: z.number().min(0.05).max(60).default(1),
      backoffMaxSeconds: z.number().min(1).max(3600).default(60),
    })
    .refine((management) => (management.certFile === undefined) === (management.keyFile === undefined), {
      path: ['certFile'],
      message: 'certFile and keyFile go together (mutual TLS needs both)',
    })
    .prefault({}),
  paths: z
    .strictObject({
      stateDir: AbsolutePath.default('/var/lib/vr6-agent'),
      runtimeDir: ConfigWordPath('runtimeDir').default('/run/vr6-agent'),
      interfacesFile: AbsolutePath.default('/etc/network/interfaces.d/vr6-agent'),
      radvdConfig: AbsolutePath.default('/run/vr6-agent/radvd.conf'),
      radvdPidFile: AbsolutePath.default('/run/vr6-agent/radvd.pid'),
      frrRunDir: AbsolutePath.default('/run/frr').meta({
        description: "frr.conf, and the pid files and sockets of the FRR daemons the agent runs (FRR's own run directory, so a plain vtysh reaches them)",
      }),
    })
    .prefault({}),
  commands: z
    .strictObject({
      ip: z.string().default('ip'),
      nft: z.string().default('nft'),
      radvd: z.string().default('radvd'),
      rdisc6: z.string().default('rdisc6'),
      ndisc6: z.string().default('ndisc6'),
      zebra: z.string().default('/usr/lib/frr/zebra'),
      bgpd: z.string().default('/usr/lib/frr/bgpd'),
      bfdd: z.string().default('/usr/lib/frr/bfdd'),
      ospf6d: z.string().default('/usr/lib/frr/ospf6d'),
      vtysh: z.string().default('vtysh'),
      keepalived: z.string().default('keepalived'),
      conntrackd: z.string().default('conntrackd'),
      nftGenid: z
        .string()
        .default('/usr/lib/vr6-agent/vr6-nft-genid')
        .meta({ description: 'prints the nf_tables generation id; "" lists the table at every resync instead' }),
      routeGenid: z
        .string()
        .default('/usr/lib/vr6-agent/vr6-route-genid')
        .meta({ description: 'counts changes to the IPv6 main routing table and links; "" dumps the routes at every observation instead' }),
    })
    .prefault({}),
  bootParameters: z
    .strictObject({
      file: AbsolutePath.default('/var/cache/cloud/cmdline').meta({ description: "CloudStack's boot parameters (key=value words)" }),
      isEnabled: z.boolean().default(true).meta({ description: 'false ignores the file; docs/operations.md lists the keys read' }),
    })
    .prefault({}),
  resyncSeconds: z.number().min(1).max(86400).default(60),
  deprecationWindowSeconds: z
    .number()
    .min(0)
    .max(30 * 86400)
    .default(7200)
    .meta({ description: 'how long a prefix a guest link lost is advertised with lifetimes 0 (RFC 9096); 2 h covers the RFC 4862 clamp' }),
  rulesetListSeconds: z
    .number()
    .min(1)
    .max(86400)
    .default(300)
    .meta({ description: 'at most this long between listings of an unchanged table, which refresh the usage counters' }),
  source: z
    .enum(['websocket', 'cloudstack'])
    .default('websocket')
    .meta({ description: "where desired states come from: the management server's websocket, or CloudStack's own databags on the VR" }),
  cloudstack: CloudStackSourceConfig.prefault({}).meta({ description: 'source cloudstack only' }),
  logLevel: LogLevel.default('info'),
});
export type AgentConfig = z.output<typeof AgentConfig>;
