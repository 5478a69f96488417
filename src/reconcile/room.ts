import type { ObservedReaders } from '../observe/read-host.js';
import type { Ledger } from '../plan/ledger.js';
import type { Step } from '../plan/steps.js';
import type { RenderedHost } from '../render/host-facts.js';

/**
 * A part of the host that the loop keeps a memory of across reconciles:
 * what the agent last brought it to, and what that lets the agent know
 * without reading the host again. The loop calls every room at the same
 * points and knows none by name, so a new subsystem adds a room, not a
 * branch (controller-runtime's reconcilers, balena-supervisor's applyTarget).
 * Every hook but `ledger` is optional.
 */
export interface Room {
  /** Loads what an earlier agent left; once, before the first reconcile. */
  load?(): Promise<void>;
  /** This room's part of what the planner knows of the agent's own past. */
  ledger(): Partial<Ledger>;
  /**
   * Readers with a memory for parts of the observation. `isSettled` is true
   * only for the first observation of a reconcile of the rendering the host
   * last converged to (a resync, not a new state), before it has applied
   * anything: the time for reads that only refresh a room's memory, which
   * must not stand between a new state and the change it makes.
   */
  readers?(isSettled: boolean): ObservedReaders;
  /** Beside each observation: work that reads nothing the observation reads, for the plan that follows (a check of a rendered config). */
  beforeObserve?(rendered: RenderedHost): Promise<void>;
  /** Before a plan's steps are applied: what must be written down before the host changes. */
  beforeApply?(rendered: RenderedHost): Promise<void>;
  /** After each step that was applied. */
  afterStep?(step: Step, rendered: RenderedHost): Promise<void>;
  /** After the host was found or proven as rendered. */
  afterConverged?(rendered: RenderedHost): Promise<void>;
  /** At the end of every reconcile: whether the host converged to `rendered`. */
  afterReconcile?(rendered: RenderedHost, isConverged: boolean): Promise<void>;
  /** Whether, once `step` was applied, the host is proven as rendered for it, so no observation must confirm it. */
  proves?(step: Step): boolean;
  /** What keeps part of the state from holding, for the report; asked once at the end of each reconcile. */
  warnings?(): Promise<readonly string[]>;
}
