import type { Logger } from 'pino';
import type { Host } from '../host/host.js';
import { fileLayoutOf } from '../model/file-layout.js';
import type { DeprecatedPrefix } from '../model/deprecated-prefix.js';
import type { CounterValues, ObservedNetwork } from '../model/observed.js';
import type { MonitorEvent } from '../observe/address-monitor.js';
import { observedReportKey, renderObservedReport } from '../observe/public-address.js';
import { renderRoutedPrefixReport } from '../observe/routed-report.js';
import { readNetwork } from '../observe/read-host.js';
import type { Plan } from '../plan/plan.js';
import { elapsedSince, GateClosedError, Reconciler, type ReconcileResult } from '../reconcile/reconciler.js';
import type { AgentConfig } from '../schema/agent-config.js';
import type { DesiredState } from '../schema/desired-state.js';
import { parseDesiredState, type JsonSourceOf } from '../schema/desired-state-parser.js';
import {
  PROTOCOL_VERSION,
  type AckMessage,
  type AgentMessage,
  type AppliedMessage,
  type HelloMessage,
  type ObservedMessage,
  type ServerMessage,
} from '../schema/protocol.js';
import type { FieldError, Parsed } from '../schema/validation.js';
import { describeBgp } from '../schema/control-protocol.js';
import { BgpPoll, BgpSessions, BGP_POLL_MS } from './bgp-sessions.js';
import { judgeGeneration } from './generation.js';
import { DeprecationLedger } from './deprecations.js';
import { StateStore, type AcceptedState } from './state-store.js';
import { VrrpRole } from './vrrp-role.js';

/** What the agent needs from the outside world. */
export interface AgentOptions {
  readonly host: Host;
  readonly config: AgentConfig;
  /** The root logger; the agent makes its own children of it. */
  readonly log: Logger;
  readonly version: string;
  /** Sends a message to the management server; false when not connected (the message is dropped). */
  readonly send: (message: AgentMessage) => boolean;
  /** How often bgpd is asked for its sessions while routing is BGP; default BGP_POLL_MS (tests shorten it). */
  readonly bgpPollMs?: number;
}

const DEBOUNCE_MS = 200;
const RETRY_AFTER_FAILURE_MS = 5000;

/** A pushed state while it is written down: its reconcile runs beside the write. */
interface Candidate {
  readonly accepted: AcceptedState;
  readonly desired: DesiredState;
  readonly deprecated: readonly DeprecatedPrefix[];
  /** Resolves once the state is written, accepted and acked; rejects when it could not be written. */
  readonly accepting: Promise<void>;
}

/**
 * The agent's brain in the shell: accepts desired states, persists them,
 * drives the reconciler and reports. Every input funnels into one debounced
 * reconcile of the whole accepted state.
 */
export class Agent {
  private accepted: AcceptedState | null = null;
  private desired: DesiredState | null = null;
  private lastApplied: AppliedMessage | null = null;
  private lastObserved: ObservedMessage | null = null;
  private counters: ReadonlyMap<string, CounterValues> = new Map();
  private hostWarnings: readonly string[] = [];
  private reportedGeneration: number | null = null;
  private timer: NodeJS.Timeout | null = null;
  private pending: Promise<void> = Promise.resolve();
  /** The newest pushed state: a run queued for an older one is skipped, or it would apply a superseded state. */
  private newestCandidate: Candidate | null = null;
  private inbox: Promise<void> = Promise.resolve();
  /** The report refreshes, one at a time: a slow read must not let an older report overwrite a newer one. */
  private observing: Promise<void> = Promise.resolve();
  private isReconciling = false;
  private readonly bgpPoll: BgpPoll;
  private readonly bgpSessions: BgpSessions;
  private readonly vrrpRole: VrrpRole;
  private readonly store: StateStore;
  private readonly reconciler: Reconciler;
  private readonly deprecations: DeprecationLedger;
  private expiryTimer: NodeJS.Timeout | null = null;
  /** Kernel address and link events so far: a reconcile's observation is reused only when none came during it. */
  private monitorEvents = 0;
  private readonly log: Logger;
  /** When the reconcile loop last completed a run (epoch ms), for `vr6ctl status`. */
  lastLoopAt = Date.now();
  /**
   * The same moment on the monotonic clock (performance.now()), for the
   * watchdog and the heartbeat: a wall-clock step must not make a running loop look stuck.
   */
  lastLoopMonotonicMs = performance.now();

  constructor(private readonly options: AgentOptions) {
    this.log = options.log.child({ component: 'agent' });
    const layout = fileLayoutOf(options.config);
    this.store = new StateStore(options.host, layout.desiredState);
    this.deprecations = new DeprecationLedger(options.host, layout.deprecatedPrefixes, options.config.deprecationWindowSeconds);
    this.reconciler = new Reconciler(options.host, options.config, options.log.child({ component: 'reconcile' }));
    this.bgpSessions = new BgpSessions(options.host, options.config, this.log);
    // A reconcile ends with a report of its own, which the poll would only repeat.
    this.vrrpRole = new VrrpRole(
      options.host,
      options.config,
      options.log.child({ component: 'vrrp' }),
      () => void this.refreshObserved(),
      () => this.requestReconcile('keepalived closed its notify FIFO'),
    );
    this.bgpPoll = new BgpPoll(() => (this.isReconciling ? Promise.resolve() : this.refreshObserved()), options.bgpPollMs ?? BGP_POLL_MS);
  }

  /** Restores the persisted state and applies it; resolves once that first reconcile is done. */
  async start(): Promise<void> {
    await this.reconciler.load();
    await this.deprecations.load();
    const persisted = await this.store.read();
    if (persisted === null) return;
    const parsed = this.parseSpec(persisted.spec);
    if (!parsed.ok) {
      this.log.error({ generation: persisted.generation, errors: parsed.errors }, 'persisted state is invalid, ignoring');
      return;
    }
    this.accepted = persisted;
    this.desired = parsed.value;
    this.log.info({ generation: persisted.generation }, 'restored persisted state');
    await this.runReconcile();
  }

  /** The first frame on each connection. */
  hello(): HelloMessage {
    return {
      type: 'hello',
      protocolVersion: PROTOCOL_VERSION,
      routerId: this.options.config.routerId ?? this.desired?.router.id ?? 'unknown',
      agentVersion: this.options.version,
      capabilities: ['desired-v1', 'radvd', 'frr', 'nftables-ip6', 'bgp', 'ospf', 'vrrp', 'shared-networks'],
      lastAppliedGeneration: this.lastApplied?.generation ?? null,
      lastAcceptedGeneration: this.accepted?.generation ?? null,
    };
  }

  /** After a (re)connect: the server learns the current results again. */
  onConnected(): void {
    if (this.lastApplied) this.options.send(this.lastApplied);
    if (this.lastObserved) this.options.send(this.lastObserved);
  }

  /**
   * Handles one validated frame from the server. Frames are handled one at a
   * time, in arrival order: two generations pushed back to back must each be
   * judged against the one accepted before them. `sourceOf` is the frame
   * parser's (ManagementClient's `message` event): the texts of the spec's
   * ACL lists, so that they are not printed again to be recognised.
   */
  handleMessage(message: ServerMessage, sourceOf?: JsonSourceOf): Promise<void> {
    this.inbox = this.inbox.then(() => this.handleOne(message, sourceOf)).catch((error: unknown) => {
      this.log.error({ err: error }, 'handling a management message failed');
    });
    return this.inbox;
  }

  private async handleOne(message: ServerMessage, sourceOf: JsonSourceOf | undefined): Promise<void> {
    if (message.type === 'reconcile') return this.requestReconcile('server');
    await this.acceptDesired(message.generation, message.spec, sourceOf);
  }

  /** A hint that the host may have changed; coalesced into one reconcile. */
  requestReconcile(reason: string): void {
    if (this.timer) return;
    this.log.debug({ reason }, 'reconcile requested');
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.runReconcile();
    }, DEBOUNCE_MS);
  }

  /** Reacts to a kernel address or link event. */
  onMonitorEvent(event: MonitorEvent): void {
    this.monitorEvents++;
    const state = this.desired;
    if (state === null || event.interface === null) return;
    const isPublic = event.interface === state.public.interface;
    const isGuest = state.guestNetworks.some((network) => network.interface === event.interface);
    // New SLAAC addresses on the public side change only the report; a change on a guest link may need repair.
    if (isPublic && event.kind === 'address' && !event.isDeleted) void this.refreshObserved();
    else if (isPublic || isGuest) this.requestReconcile(`${event.kind} event on ${event.interface}`);
  }

  /** The accepted state, the last results and the last report, for status output. */
  snapshot() {
    return { accepted: this.accepted, lastApplied: this.lastApplied, lastObserved: this.lastObserved };
  }

  /**
   * A dry run for `vr6ctl plan`: what a reconcile of `spec` (default: the
   * accepted state) would do to the host now. Waits for the reconcile in
   * flight so it plans against a settled host; changes nothing.
   */
  async dryRun(spec?: unknown): Promise<Parsed<{ plan: Plan; generation: number | null }>> {
    await this.pending;
    if (spec === undefined) {
      if (this.desired === null) return { ok: false, errors: [{ path: '$', message: 'no desired state has been accepted yet' }] };
      const plan = await this.reconciler.plan(this.desired, this.deprecations.active(this.desired));
      return { ok: true, value: { plan, generation: this.accepted?.generation ?? null } };
    }
    const parsed = this.parseSpec(spec);
    if (!parsed.ok) return parsed;
    return { ok: true, value: { plan: await this.reconciler.plan(parsed.value), generation: null } };
  }

  /** Reconciles now, after any run in flight; resolves with that run's report, or null without a desired state. */
  async reconcileNow(): Promise<AppliedMessage | null> {
    if (this.desired === null) return null;
    await this.runReconcile();
    return this.lastApplied;
  }

  /** Waits for the reconcile in flight, if any. */
  async idle(): Promise<void> {
    await this.pending;
  }

  /** Observes the host now, as a poll does, and resolves with the report (null without a desired state). */
  async observeNow(): Promise<ObservedMessage | null> {
    await this.refreshObserved();
    return this.lastObserved;
  }

  /** Stops timers; the host keeps its state (radvd keeps advertising, so guests keep their router). */
  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    if (this.expiryTimer) clearTimeout(this.expiryTimer);
    this.bgpPoll.close();
    this.vrrpRole.close();
    this.timer = null;
  }

  private parseSpec(spec: unknown, sourceOf?: JsonSourceOf): Parsed<DesiredState> {
    const parsed = parseDesiredState(spec, '$.spec', { sourceOf });
    if (!parsed.ok) return parsed;
    const routerId = this.options.config.routerId;
    if (routerId !== undefined && parsed.value.router.id !== routerId) {
      return { ok: false, errors: [{ path: '$.spec.router.id', message: `is not this router's id (${routerId})` }] };
    }
    // Refused rather than half-applied: without a sender, guests would lose their router.
    if (!this.hello().capabilities.includes(parsed.value.raBackend)) {
      return { ok: false, errors: [{ path: '$.spec.raBackend', message: `${parsed.value.raBackend} is not supported by this agent version` }] };
    }
    const routing = parsed.value.routing.protocol;
    if (routing !== 'static' && !this.hello().capabilities.includes(routing)) {
      return { ok: false, errors: [{ path: '$.spec.routing.protocol', message: `${routing} is not supported by this agent version` }] };
    }
    // Neither radvd 2.19 nor FRR 8.4 (Debian 12) can send PREF64 (docs/research/ra-backends.md).
    const pref64 = parsed.value.guestNetworks.findIndex((network) => network.ra.pref64 !== undefined);
    if (pref64 >= 0) {
      return { ok: false, errors: [{ path: `$.spec.guestNetworks[${pref64}].ra.pref64`, message: `no RA backend of this agent sends PREF64 (RFC 8781)` }] };
    }
    return parsed;
  }

  /**
   * Judges a pushed state and acks it. A valid one is written down while its
   * reconcile renders, observes and plans; it is accepted and acked once the
   * write succeeded, and that reconcile's first step waits for it, so the
   * host never runs ahead of the disk. Resolves after the ack: the next
   * frame is judged against this one, and the writes keep the pushes' order.
   */
  private async acceptDesired(generation: number, spec: unknown, sourceOf: JsonSourceOf | undefined): Promise<void> {
    const ack = (status: AckMessage['status'], errors: FieldError[] = []) => void this.options.send({ type: 'ack', generation, status, errors });
    const verdict = judgeGeneration(this.accepted, { generation, spec });
    const log = this.log.child({ generation });
    if (verdict === 'stale' || verdict === 'duplicate') {
      log.info({ current: this.accepted?.generation }, `${verdict} generation, ignoring`);
      return ack(verdict);
    }
    if (verdict === 'conflict') {
      return ack('rejected', [{ path: '$.generation', message: 'was already accepted with a different spec' }]);
    }
    const validating = performance.now();
    const parsed = this.parseSpec(spec, sourceOf);
    const validateMs = elapsedSince(validating);
    if (!parsed.ok) {
      log.warn({ errors: parsed.errors }, 'desired state rejected');
      return ack('rejected', parsed.errors);
    }
    const persisting = performance.now();
    const accepted = { generation, spec };
    // Windows first: a crash in between leaves a window for a prefix still advertised, which rendering ignores.
    const { active, written } = this.deprecations.advance(this.desired, parsed.value);
    const accepting = written.then(() => this.store.write(accepted)).then(() => {
      this.accepted = accepted;
      this.desired = parsed.value;
      log.info({ validateMs, persistMs: elapsedSince(persisting) }, 'desired state accepted');
      ack('accepted');
    });
    const candidate = { accepted, desired: parsed.value, deprecated: active, accepting };
    this.newestCandidate = candidate;
    void this.runReconcile(candidate);
    await accepting.catch((error: unknown) => {
      log.error({ err: error }, 'cannot persist desired state');
      ack('rejected', [{ path: '$', message: `cannot persist: ${(error as Error).message}` }]);
    });
  }

  /** Queues a reconcile of the accepted state, or of `candidate` once it is accepted. */
  private runReconcile(candidate?: Candidate): Promise<void> {
    this.pending = this.pending.then(() => this.reconcileOnce(candidate)).catch((error: unknown) => {
      this.log.error({ err: error }, 'reconcile crashed');
    });
    return this.pending;
  }

  private markLoopRun(): void {
    this.lastLoopAt = Date.now();
    this.lastLoopMonotonicMs = performance.now();
  }

  private async reconcileOnce(candidate?: Candidate): Promise<void> {
    // A newer push queued its own run behind this one; should its write fail, that run reconciles to the last good state.
    if (candidate !== undefined && candidate !== this.newestCandidate) return;
    const desired = candidate?.desired ?? this.desired;
    const accepted = candidate?.accepted ?? this.accepted;
    if (desired === null || accepted === null) {
      // Nothing to apply is a healthy loop too: the watchdog must not fire on a VR still waiting for management.
      this.markLoopRun();
      return;
    }
    const events = this.monitorEvents;
    this.isReconciling = true;
    let isAbandoned = false;
    try {
      const result = await this.reconciler.reconcile(desired, candidate?.deprecated ?? this.deprecations.active(desired), candidate?.accepting);
      this.markLoopRun();
      this.scheduleExpiry(desired);
      this.report(accepted.generation, result);
      this.counters = result.observed.ruleset?.counters ?? new Map();
      this.hostWarnings = result.warnings;
      // Level-triggered: a failed run is simply tried again, the resync being the slow backstop.
      if (!result.ok) setTimeout(() => this.requestReconcile('retry after failure'), RETRY_AFTER_FAILURE_MS).unref();
      // The run's own observation saves a process, unless an event may have made a fresher report meanwhile.
      await this.refreshObserved(events === this.monitorEvents ? (result.network ?? undefined) : undefined);
    } catch (error) {
      if (!(error instanceof GateClosedError)) throw error;
      // The state was not written, so never accepted: the run changed nothing and is no run of the loop (nor a report).
      // The last good state stays, and a run of it, a plain one, puts back what the host may have lost meanwhile.
      this.log.warn({ generation: accepted.generation }, 'reconcile abandoned before its first step: the state was not persisted');
      isAbandoned = true;
      if (this.desired !== null) void this.runReconcile();
    } finally {
      this.isReconciling = false;
      // An abandoned run leaves the pollers on the last good state.
      if (!isAbandoned) {
        this.bgpPoll.update(desired.routing.protocol === 'bgp');
        this.vrrpRole.update(desired);
      }
    }
  }

  // When a deprecation window ends, its prefix leaves radvd.conf and its gateway the link.
  private scheduleExpiry(desired: DesiredState): void {
    if (this.expiryTimer) clearTimeout(this.expiryTimer);
    const delay = this.deprecations.msUntilNextExpiry(desired);
    this.expiryTimer = delay === null ? null : setTimeout(() => this.requestReconcile('deprecation window ended'), Math.min(delay, 2 ** 31 - 1));
    this.expiryTimer?.unref();
  }

  private report(generation: number, result: ReconcileResult): void {
    const message: AppliedMessage = {
      type: 'applied',
      generation,
      ok: result.ok,
      isConverged: result.isConverged,
      durationMs: result.durationMs,
      components: result.components,
      errors: result.errors,
      repaired: result.repaired,
      remaining: result.remaining,
    };
    const isNews =
      generation !== this.reportedGeneration || result.applied.length > 0 || result.ok !== this.lastApplied?.ok;
    this.lastApplied = message;
    if (!isNews) return;
    this.reportedGeneration = generation;
    this.options.send(message);
  }

  /** Reads the host and sends the report when it changed; never rejects, and runs one at a time. */
  private refreshObserved(network?: ObservedNetwork): Promise<void> {
    this.observing = this.observing.then(() => this.observeOnce(network));
    return this.observing;
  }

  private async observeOnce(network?: ObservedNetwork): Promise<void> {
    const state = this.desired;
    if (state === null) return;
    const { host, config } = this.options;
    try {
      const { addresses, links, routes, prefixRoutes, neighbours } = network ?? (await readNetwork(host, config));
      const bgp = await this.bgpSessions.report(state, routes, this.lastObserved?.bgp ?? null);
      const routed = renderRoutedPrefixReport(state, prefixRoutes, neighbours, this.lastObserved?.routedPrefixes);
      const redundancy = this.vrrpRole.report(state, addresses);
      const observed = { ...renderObservedReport(state, addresses, links, routes, this.counters, bgp, routed), ...(redundancy ? { redundancy } : {}) };
      if (redundancy?.isSplitBrain) observed.warnings.push('split brain: the peer holds the gateway too (VRRP between the pair is blocked)');
      const report = { ...observed, warnings: [...observed.warnings, ...this.hostWarnings] };
      const isChanged =
        this.lastObserved === null ||
        observedReportKey(report) !== observedReportKey(this.lastObserved) ||
        JSON.stringify(report.usage) !== JSON.stringify(this.lastObserved.usage);
      this.lastObserved = report;
      if (!isChanged) return;
      const summary = { publicAddress: report.publicAddress?.address ?? null, bgp: report.bgp && describeBgp(report.bgp), role: report.redundancy?.role, warnings: report.warnings };
      this.log.info(summary, 'observed');
      this.options.send(report);
    } catch (error) {
      this.log.error({ err: error }, 'observe failed');
    }
  }
}
