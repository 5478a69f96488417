import type { Logger } from 'pino';
import { applyStep } from '../apply/executors.js';
import type { Host } from '../host/host.js';
import type { DeprecatedPrefix } from '../model/deprecated-prefix.js';
import { fileLayoutOf } from '../model/file-layout.js';
import type { ObservedHost, ObservedNetwork } from '../model/observed.js';
import { readObservedHost } from '../observe/read-host.js';
import { EMPTY_LEDGER, type Ledger } from '../plan/ledger.js';
import { planSteps, type Plan } from '../plan/plan.js';
import { COMPONENTS, componentOf, describeRepair, describeStep, type Component, type Step } from '../plan/steps.js';
import { renderHost, type RenderedHost } from '../render/host-facts.js';
import type { AgentConfig } from '../schema/agent-config.js';
import type { DesiredState } from '../schema/desired-state.js';
import type { ComponentResult } from '../schema/protocol.js';
import { ConfigChecks } from './config-checks.js';
import { LoadedConfigs } from './loaded-configs.js';
import { OwnedAddresses } from './owned-addresses.js';
import type { Room } from './room.js';
import { RouteWatch } from './route-watch.js';
import { RulesetWatch } from './ruleset-watch.js';
import { VrrpHealth } from './vrrp-health.js';

/** What one reconcile did. */
export interface ReconcileResult {
  /** No step failed and the host converged. */
  readonly ok: boolean;
  /** Whether the last observation found the host as rendered (or a room proved it). */
  readonly isConverged: boolean;
  readonly durationMs: number;
  readonly components: Record<Component, ComponentResult>;
  readonly errors: string[];
  readonly warnings: string[];
  /** What someone else had changed in what the agent owns, and it put back. */
  readonly repaired: string[];
  /** Steps applied, in order, described for people. */
  readonly applied: string[];
  /** What the last observation still planned when the loop gave up, described for people; empty when converged or failed. */
  readonly remaining: string[];
  /** The host as the last pass observed it. */
  readonly observed: ObservedHost;
  /**
   * Links, addresses and default routes as the last pass observed them, when
   * nothing applied after it could change them; else null.
   */
  readonly network: ObservedNetwork | null;
}

/** At most this many plans are applied in one reconcile; one more observation then tells whether they converged. */
const MAX_PASSES = 3;

/**
 * A reconcile's gate that rejected: the run stopped before its first step
 * and before any room wrote down anything of it, so the host is as it found it.
 */
export class GateClosedError extends Error {
  constructor(cause: unknown) {
    super(`the reconcile stopped before its first step: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = 'GateClosedError';
  }
}

/** The gate of a reconcile that may change the host at once. */
const OPEN_GATE: Promise<void> = Promise.resolve();

/** Where one pass's time went, in ms: the 'reconciled' log line carries them (bench/routed.bench.ts reads them). */
interface PassTimings {
  readonly observeMs: number;
  readonly planMs: number;
  applyMs: number;
}

/** Milliseconds from `start` to `end` (default now), to a tenth. */
export function elapsedSince(start: number, end = performance.now()): number {
  return Math.round((end - start) * 10) / 10;
}

type Failure = { readonly step: Step; readonly error: string; readonly skipped: readonly Step[] };

/**
 * Drives the host towards a desired state: render, observe, plan, apply,
 * and again until the plan is empty. Level-triggered: it never asks what
 * changed, so it may be called any number of times with the same state, and
 * a run after a converged one changes nothing. It knows steps, not
 * subsystems: what a part of the host needs remembered lives in its Room.
 */
export class Reconciler {
  private running: Promise<ReconcileResult> | null = null;
  private readonly rooms: readonly Room[];
  /** The rendering the host last converged to: a step towards it again repairs someone else's change. */
  private convergedRendered: RenderedHost | null = null;
  private readonly renderedStates = new WeakMap<DesiredState, { key: string; rendered: RenderedHost }>();

  constructor(
    private readonly host: Host,
    private readonly config: AgentConfig,
    private readonly log: Logger,
  ) {
    const layout = fileLayoutOf(config);
    this.rooms = [
      new RulesetWatch(host, config),
      new RouteWatch(host, config),
      new LoadedConfigs(),
      new OwnedAddresses(host, layout.ownedAddresses, log),
      new ConfigChecks(host, config),
      new VrrpHealth(host, layout.keepalived.health),
    ];
  }

  /**
   * Loads what earlier runs left: the sweep list, and the memory of the last
   * ruleset load, so a restarted agent updates the table chain by chain and
   * keeps its counters. Call once before the first reconcile.
   */
  async load(): Promise<void> {
    for (const room of this.rooms) await room.load?.();
  }

  /** Plans without applying: the dry run behind `vr6ctl plan`. */
  async plan(state: DesiredState, deprecated: readonly DeprecatedPrefix[] = []): Promise<Plan> {
    const rendered = this.render(state, deprecated);
    return planSteps(rendered, await this.observe(rendered, false), this.ledger());
  }

  /**
   * Reconciles the host to the state and the prefixes being deprecated;
   * concurrent calls wait for the one in flight, then run again. The run
   * renders, observes and plans at once, but applies its first step (and
   * lets the rooms write down what it is about to do) only once `gate`
   * resolved, and ends only then, even with nothing to apply: its result
   * never speaks for a state the gate turned down. When `gate` rejects, the
   * run changes nothing and rejects with GateClosedError.
   */
  async reconcile(state: DesiredState, deprecated: readonly DeprecatedPrefix[] = [], gate = OPEN_GATE): Promise<ReconcileResult> {
    while (this.running) await this.running.catch(() => undefined);
    this.running = this.runPasses(state, deprecated, gate);
    try {
      return await this.running;
    } catch (error) {
      if (error instanceof GateClosedError) throw error;
      // A reconcile that could not even observe the host did not converge either: the rooms hear it too,
      // once its gate opened, since they write it down (a state whose write fails was never this run's).
      await passGate(gate);
      const rendered = this.render(state, deprecated);
      for (const room of this.rooms) await room.afterReconcile?.(rendered, false).catch(() => undefined);
      throw error;
    } finally {
      this.running = null;
    }
  }

  private async runPasses(state: DesiredState, deprecated: readonly DeprecatedPrefix[], gate: Promise<void>): Promise<ReconcileResult> {
    const started = performance.now();
    const rendered = this.render(state, deprecated);
    const renderMs = elapsedSince(started);
    // Handled now, awaited before the first step: a gate that closes while the host is read is no unhandled rejection.
    gate.catch(() => undefined);
    // How long the run waited for its gate, once it has.
    let gateMs: number | null = null;
    const passes: PassTimings[] = [];
    const isRepair = rendered === this.convergedRendered;
    const applied: Step[] = [];
    const notes: string[] = [];
    let failure: Failure | null = null;
    let observed: ObservedHost;
    let plan: Plan;
    let isObservationCurrent: boolean;
    for (let pass = 0; ; pass++) {
      const observing = performance.now();
      const [seen] = await Promise.all([this.observe(rendered, pass === 0 && isRepair), ...this.rooms.map((room) => room.beforeObserve?.(rendered))]);
      observed = seen;
      const planning = performance.now();
      plan = planSteps(rendered, observed, this.ledger());
      const timings: PassTimings = { observeMs: elapsedSince(observing, planning), planMs: elapsedSince(planning), applyMs: 0 };
      passes.push(timings);
      isObservationCurrent = true;
      if (plan.steps.length === 0 || pass === MAX_PASSES) break;
      gateMs ??= await passGate(gate);
      const applying = performance.now();
      for (const room of this.rooms) await room.beforeApply?.(rendered);
      failure = await this.applySteps(plan.steps, rendered, applied, notes);
      timings.applyMs = elapsedSince(applying);
      // Steps that rooms prove, such as a ruleset commit nobody else's came between, need no second look.
      if (failure === null && plan.steps.every((step) => this.rooms.some((room) => room.proves?.(step) === true))) {
        plan = { ...plan, steps: [] };
        break;
      }
      isObservationCurrent = false;
      if (failure !== null) break;
    }
    gateMs ??= await passGate(gate);
    const isConverged = failure === null && plan.steps.length === 0;
    if (isConverged) {
      for (const room of this.rooms) await room.afterConverged?.(rendered);
      this.convergedRendered = rendered;
    }
    for (const room of this.rooms) await room.afterReconcile?.(rendered, isConverged);
    const remaining = failure === null ? plan.steps : [];
    const roomWarnings = (await Promise.all(this.rooms.map((room) => room.warnings?.() ?? []))).flat();
    const errors = failure
      ? [`${describeStep(failure.step)}: ${failure.error}`]
      : remaining.length > 0
        ? [`not converged after ${MAX_PASSES} passes: the host still differs (${remaining.map(describeStep).join('; ')})`]
        : [];
    const result: ReconcileResult = {
      ok: isConverged,
      isConverged,
      durationMs: Math.round(performance.now() - started),
      components: summarise(applied, failure, remaining),
      errors,
      warnings: [...plan.warnings, ...roomWarnings, ...notes],
      repaired: applied.flatMap((step) => describeRepair(step, isRepair)),
      applied: applied.map(describeStep),
      remaining: remaining.map(describeStep),
      observed,
      network: isObservationCurrent
        ? { links: observed.links, addresses: observed.addresses, routes: observed.routes, prefixRoutes: observed.prefixRoutes, neighbours: observed.neighbours }
        : null,
    };
    const { ok, durationMs, repaired } = result;
    const timings = { renderMs, gateMs, passes };
    this.log.info({ ok, isConverged, durationMs, steps: applied.length, errors, warnings: result.warnings, repaired, timings }, 'reconciled');
    return result;
  }

  private async applySteps(steps: readonly Step[], rendered: RenderedHost, applied: Step[], notes: string[]): Promise<Failure | null> {
    for (const [index, step] of steps.entries()) {
      try {
        const note = await applyStep(step, { host: this.host, config: this.config });
        if (note) {
          notes.push(note);
          this.log.warn({ step: step.kind }, note);
        }
        applied.push(step);
        this.log.debug({ step: step.kind }, describeStep(step));
        for (const room of this.rooms) await room.afterStep?.(step, rendered);
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        this.log.error({ step: step.kind, err: error }, 'step failed');
        return { step, error: message, skipped: steps.slice(index + 1) };
      }
    }
    return null;
  }

  // A resync reconciles the same state object again: render it once.
  private render(state: DesiredState, deprecated: readonly DeprecatedPrefix[]): RenderedHost {
    const key = JSON.stringify(deprecated);
    const known = this.renderedStates.get(state);
    if (known !== undefined && known.key === key) return known.rendered;
    const rendered = renderHost(state, deprecated, fileLayoutOf(this.config).keepalived);
    this.renderedStates.set(state, { key, rendered });
    return rendered;
  }

  private observe(rendered: RenderedHost, isSettled: boolean): Promise<ObservedHost> {
    const readers = Object.assign({}, ...this.rooms.map((room) => room.readers?.(isSettled) ?? {}));
    return readObservedHost(this.host, this.config, rendered.sysctls.map(({ key }) => key), readers);
  }

  private ledger(): Ledger {
    return Object.assign({}, EMPTY_LEDGER, ...this.rooms.map((room) => room.ledger()));
  }
}

/** Waits for a reconcile's gate: the ms it took, or GateClosedError. */
async function passGate(gate: Promise<void>): Promise<number> {
  const waiting = performance.now();
  await gate.catch((error: unknown) => Promise.reject(new GateClosedError(error)));
  return elapsedSince(waiting);
}

function summarise(applied: readonly Step[], failure: Failure | null, remaining: readonly Step[]) {
  const components = Object.fromEntries(COMPONENTS.map((c) => [c, { status: 'ok', steps: 0 }])) as Record<Component, ComponentResult>;
  for (const step of applied) {
    const entry = components[componentOf(step)];
    components[componentOf(step)] = { status: 'changed', steps: entry.steps + 1 };
  }
  if (failure) {
    for (const step of failure.skipped) {
      const c = componentOf(step);
      if (components[c].status === 'ok') components[c] = { status: 'skipped', steps: components[c].steps };
    }
    const c = componentOf(failure.step);
    components[c] = { status: 'failed', steps: components[c].steps, error: failure.error };
  }
  for (const step of remaining) {
    const c = componentOf(step);
    if (components[c].status !== 'failed') components[c] = { status: 'failed', steps: components[c].steps, error: `not converged: ${describeStep(step)}` };
  }
  return components;
}
