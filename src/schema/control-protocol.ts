import { z } from 'zod';
import { LogLevel } from './agent-config.js';
import type { AppliedMessage, BgpReport, ComponentResult, ObservedMessage, RedundancyReport, RoutedPrefixReport } from './protocol.js';
import type { FieldError } from './validation.js';

/**
 * The control protocol between `vr6ctl` and the daemon (docs/cli.md): a unix
 * stream socket, root only, one JSON object per line each way. A client sends
 * requests and reads one response per request, in order; the daemon never
 * speaks first.
 */

/** The largest request line the daemon reads (a `plan FILE` carries a whole desired state). */
export const MAX_CONTROL_LINE_BYTES = 16 * 1024 * 1024;

/** The socket's name inside the runtime directory. */
export const CONTROL_SOCKET_NAME = 'control.sock';

/** What `show` can show. */
export const SHOW_TOPICS = ['desired', 'applied', 'observed', 'config', 'bgp', 'routes'] as const;

const RequestId = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional();

/** One request from a client. */
export const ControlRequest = z.discriminatedUnion('command', [
  z.strictObject({ id: RequestId, command: z.literal('status') }),
  z.strictObject({ id: RequestId, command: z.literal('show'), topic: z.enum(SHOW_TOPICS) }),
  z.strictObject({ id: RequestId, command: z.literal('plan'), spec: z.unknown().optional() }),
  z.strictObject({ id: RequestId, command: z.literal('reconcile') }),
  z.strictObject({ id: RequestId, command: z.literal('log-level'), level: LogLevel }),
]);
export type ControlRequest = z.output<typeof ControlRequest>;

/** Why a request failed; the CLI maps each to an exit code. */
export const CONTROL_ERROR_CODES = ['bad-request', 'invalid-spec', 'no-desired-state', 'failed', 'internal'] as const;
export type ControlErrorCode = (typeof CONTROL_ERROR_CODES)[number];

const FieldErrorShape = z.strictObject({ path: z.string(), message: z.string() });

/** One response. `result` depends on the command (the *Result types below). */
export const ControlResponse = z.union([
  z.strictObject({ id: RequestId, ok: z.literal(true), result: z.unknown() }),
  z.strictObject({
    id: RequestId,
    ok: z.literal(false),
    error: z.strictObject({ code: z.enum(CONTROL_ERROR_CODES), message: z.string(), errors: z.array(FieldErrorShape).optional() }),
  }),
]);
export type ControlResponse = z.output<typeof ControlResponse>;

/** A warning or error the daemon logged recently, for `status`. */
export interface RecentProblem {
  readonly time: string;
  readonly level: 'warn' | 'error' | 'fatal';
  readonly component: string | null;
  readonly message: string;
}

/** The result of `status`. Times are ISO 8601; null means "not yet" or "unknown". */
export interface StatusResult {
  readonly version: string;
  readonly pid: number;
  readonly startedAt: string;
  readonly logLevel: string;
  readonly routerId: string | null;
  readonly management: {
    readonly isConfigured: boolean;
    readonly isConnected: boolean;
    readonly url: string | null;
    /** Why the last connection or attempt ended. */
    readonly lastDisconnect: string | null;
  };
  /** The generation last accepted from management (the desired one). */
  readonly desiredGeneration: number | null;
  /** The last reconcile: its generation, whether it converged, and per-component results. */
  readonly applied: {
    readonly generation: number;
    readonly ok: boolean;
    readonly isConverged: boolean;
    readonly durationMs: number;
    readonly components: Record<string, ComponentResult>;
    readonly errors: string[];
    readonly remaining: string[];
  } | null;
  readonly publicAddress: string | null;
  /** The last observed BGP report; null unless routing is BGP. */
  readonly bgp: BgpReport | null;
  /** The last observed redundancy report; null unless the state has a redundancy section. */
  readonly redundancy?: RedundancyReport | null;
  readonly observedWarnings: string[];
  readonly loop: { readonly lastRunAt: string; readonly isHealthy: boolean };
  readonly recentProblems: RecentProblem[];
}

/**
 * A reconcile's outcome in one word, as the status line and vr6ctl print it:
 * a failed step, or a host that kept differing from the state with no step
 * failing, or applied.
 */
export function describeOutcome(applied: { readonly ok: boolean; readonly remaining: readonly string[] }): 'applied' | 'FAILED' | 'NOT CONVERGED' {
  if (applied.ok) return 'applied';
  return applied.remaining.length > 0 ? 'NOT CONVERGED' : 'FAILED';
}

/** BGP's sessions in a few words, as the status line and vr6ctl print them after "bgp": "1/2 established", "0/2 established, bgpd not answering". */
export function describeBgp(report: BgpReport): string {
  const established = report.peers.filter((peer) => peer.state === 'Established').length;
  return `${established}/${report.peers.length} established${report.isBgpdAnswering ? '' : ', bgpd not answering'}`;
}

/**
 * A pair's role in a few words, as the status line and vr6ctl print them after "vrrp":
 * "primary, peer seen", "backup, peer not seen", "primary, SPLIT BRAIN".
 */
export function describeRedundancy(report: RedundancyReport): string {
  return `${report.role}, ${report.isSplitBrain ? 'SPLIT BRAIN' : report.isPeerSeen ? 'peer seen' : 'peer not seen'}`;
}

/** One step of a dry run. */
export interface PlannedStep {
  readonly kind: string;
  readonly component: string;
  readonly description: string;
}

/** The result of `plan`. */
export interface PlanResult {
  /** 'accepted': the state the agent holds; 'given': the spec sent with the request. */
  readonly source: 'accepted' | 'given';
  readonly generation: number | null;
  readonly steps: PlannedStep[];
  readonly warnings: string[];
}

/** The result of `show desired`. */
export interface ShowDesiredResult {
  readonly generation: number;
  readonly spec: unknown;
}

/** The result of `reconcile`: the report of the run it caused. */
export type ReconcileResult = AppliedMessage;

/** The result of `show observed`. */
export type ShowObservedResult = ObservedMessage | null;

/** The result of `show bgp`: the BGP report of an observation made for the request; null unless routing is BGP. */
export type ShowBgpResult = BgpReport | null;

/** The result of `show routes`: the routed prefixes of an observation made for the request; empty without a desired state. */
export type ShowRoutesResult = RoutedPrefixReport[];

/** The result of `log-level`. */
export interface LogLevelResult {
  readonly previous: string;
  readonly level: string;
}

/** A refused request's error, as data. */
export class ControlError extends Error {
  constructor(
    readonly code: ControlErrorCode,
    message: string,
    readonly errors: FieldError[] = [],
  ) {
    super(message);
    this.name = 'ControlError';
  }
}
