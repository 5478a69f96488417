import { z } from 'zod';
import { Identifier } from './fields.js';

/**
 * Management protocol v1 (docs/protocol.md): JSON text frames over a
 * websocket that the agent dials. The spec inside `desired` is checked
 * separately, against DesiredState, so its errors can be acknowledged
 * with their paths instead of dropping the frame.
 */

export const PROTOCOL_VERSION = 1;

/** A generation number: the management server orders desired states by it. */
export const Generation = z.number().int().min(1).max(Number.MAX_SAFE_INTEGER);
const FieldErrorShape = z.strictObject({ path: z.string(), message: z.string() });

/** server → agent: the whole desired state for a generation. */
export const DesiredMessage = z.strictObject({
  type: z.literal('desired'),
  generation: Generation,
  spec: z.unknown(),
});

/** server → agent: reconcile now; carries no state. */
export const ReconcileMessage = z.strictObject({ type: z.literal('reconcile') });

/** Every message the server may send. */
export const ServerMessage = z.discriminatedUnion('type', [DesiredMessage, ReconcileMessage]);
export type ServerMessage = z.output<typeof ServerMessage>;

/** agent → server, first frame on every connection. */
export const HelloMessage = z.strictObject({
  type: z.literal('hello'),
  protocolVersion: z.literal(PROTOCOL_VERSION),
  routerId: Identifier,
  agentVersion: z.string(),
  capabilities: z.array(z.string()),
  lastAppliedGeneration: Generation.nullable(),
  lastAcceptedGeneration: Generation.nullable(),
});
export type HelloMessage = z.output<typeof HelloMessage>;

/** agent → server: whether a generation's spec was accepted. */
export const AckMessage = z.strictObject({
  type: z.literal('ack'),
  generation: Generation,
  status: z.enum(['accepted', 'rejected', 'stale', 'duplicate']),
  errors: z.array(FieldErrorShape),
});
export type AckMessage = z.output<typeof AckMessage>;

const ComponentResult = z.strictObject({
  status: z.enum(['ok', 'changed', 'failed', 'skipped']),
  steps: z.number().int().min(0),
  error: z.string().optional(),
});
export type ComponentResult = z.output<typeof ComponentResult>;

/** agent → server: what a reconcile of a generation did. */
export const AppliedMessage = z.strictObject({
  type: z.literal('applied'),
  generation: Generation,
  /** No step failed and the host converged. */
  ok: z.boolean(),
  /** The host matched the state at the end: false when a step failed or the host kept differing. */
  isConverged: z.boolean(),
  durationMs: z.number().min(0),
  components: z.record(z.string(), ComponentResult),
  errors: z.array(z.string()),
  /** Drift the agent found in what it owns (e.g. "chain forward was changed") and put back. */
  repaired: z.array(z.string()),
  /** What the host still lacked when the agent gave up without a failed step; empty otherwise. */
  remaining: z.array(z.string()),
});
export type AppliedMessage = z.output<typeof AppliedMessage>;

/** The VR's public address as observed on the host. */
export const PublicAddressReport = z.strictObject({
  address: z.string(),
  prefixLength: z.number().int(),
  interface: z.string(),
  source: z.enum(['slaac', 'static']),
  flags: z.array(z.string()),
  validLifetimeSeconds: z.number().nullable(),
  preferredLifetimeSeconds: z.number().nullable(),
  matchesEui64: z.boolean().nullable(),
});
export type PublicAddressReport = z.output<typeof PublicAddressReport>;

/** Forwarded traffic of one guest network in one direction, since the counter was created. */
export const UsageReport = z.strictObject({
  network: z.string(),
  direction: z.enum(['ingress', 'egress']),
  packets: z.number().int().min(0),
  bytes: z.number().int().min(0),
});
export type UsageReport = z.output<typeof UsageReport>;

/** One BGP peer of the desired state, as bgpd reports its session; the nulls while bgpd does not report the peer. */
export const BgpPeerReport = z.strictObject({
  address: z.string(),
  /** From the desired state. */
  description: z.string().nullable(),
  /** bgpd's state of the session (RFC 4271 §8.2.2: Idle, Connect, Active, OpenSent, OpenConfirm, Established). */
  state: z.string().nullable(),
  /** When the session came up, Unix seconds; null while it is not Established. */
  upSinceEpochSeconds: z.number().int().nullable(),
  /** IPv6 unicast prefixes accepted from the peer (after the VR's import policy) and sent to it; null while not Established. */
  prefixesReceived: z.number().int().min(0).nullable(),
  prefixesSent: z.number().int().min(0).nullable(),
  /** How often the established session went down since bgpd started. */
  resets: z.number().int().min(0).nullable(),
  /** Why the session last went down or does not come up; null for a session that is up and never went down. */
  lastError: z.string().nullable(),
});
export type BgpPeerReport = z.output<typeof BgpPeerReport>;

/** The VR's BGP sessions and the default route they gave it. */
export const BgpReport = z.strictObject({
  /** False when bgpd did not answer; every peer's state is then null. */
  isBgpdAnswering: z.boolean(),
  /** One per peer of the desired state, in its order. */
  peers: z.array(BgpPeerReport),
  /** Whether a default route learned by BGP is in the kernel, and its gateway (the peer's link-local address). */
  defaultRouteInKernel: z.boolean(),
  defaultRouteGateway: z.string().nullable(),
});
export type BgpReport = z.output<typeof BgpReport>;

/** One routed prefix of the desired state (schemaVersion 2): where its route points and whether its next hop answers. */
export const RoutedPrefixReport = z.strictObject({
  /** The id of the guest network it is routed to. */
  network: z.string(),
  prefix: z.string(),
  nextHop: z.string(),
  interface: z.string(),
  description: z.string().nullable(),
  /** Whether the kernel holds the agent's route for it, via this next hop on this interface. */
  isRouted: z.boolean(),
  /**
   * The next hop's neighbour state (RFC 4861 §7.3.2) as the kernel names it, in lower case: reachable, stale,
   * delay, probe, failed, incomplete, permanent; null while the kernel has no entry (no packet went its way yet).
   */
  neighbour: z.string().nullable(),
});
export type RoutedPrefixReport = z.output<typeof RoutedPrefixReport>;

/** One change of this VR's VRRP role, as keepalived announced it. */
export const VrrpTransition = z.strictObject({
  /** When the agent heard it, ISO 8601. */
  at: z.string(),
  from: z.string().nullable(),
  to: z.enum(['primary', 'backup', 'fault', 'stopped']),
  /** Why, as far as the agent can tell: its own health, a link down, the peer's advertisements or their absence. */
  cause: z.string(),
});
export type VrrpTransition = z.output<typeof VrrpTransition>;

/** This VR's part in a redundant pair (docs/redundancy.md). */
export const RedundancyReport = z.strictObject({
  /** primary: it holds the virtual addresses; fault: keepalived gave the role up (a link down, or the agent unhealthy). */
  role: z.enum(['primary', 'backup', 'fault', 'stopped']),
  /** Whether the peer answered on the sync link at the last check; a backup also hears the primary's advertisements. */
  isPeerSeen: z.boolean(),
  /** Both VRs hold the gateway: another VR answered for the shared link-local address while this one is primary. */
  isSplitBrain: z.boolean(),
  /** The most recent transitions, oldest first (at most 20), since the agent started. */
  transitions: z.array(VrrpTransition),
});
export type RedundancyReport = z.output<typeof RedundancyReport>;

/** agent → server: the observed facts the upstream needs; sent again whenever they change. */
export const ObservedMessage = z.strictObject({
  type: z.literal('observed'),
  publicAddress: PublicAddressReport.nullable(),
  defaultRouter: z.string().nullable(),
  upstreamRoutes: z.array(z.strictObject({ prefix: z.string(), via: z.string() })),
  warnings: z.array(z.string()),
  usage: z.array(UsageReport),
  /** Null unless routing.protocol is bgp. */
  bgp: BgpReport.nullable(),
  /** One per routed prefix with a next hop, in the desired state's order; empty for schemaVersion 1. */
  routedPrefixes: z.array(RoutedPrefixReport),
  /** Absent or null unless the state has a redundancy section. */
  redundancy: RedundancyReport.nullable().optional(),
});
export type ObservedMessage = z.output<typeof ObservedMessage>;

/** Every message the agent may send. */
export const AgentMessage = z.discriminatedUnion('type', [HelloMessage, AckMessage, AppliedMessage, ObservedMessage]);
export type AgentMessage = z.output<typeof AgentMessage>;
