import type { Logger } from 'pino';
import { applyStep } from '../apply/executors.js';
import type { Host } from '../host/host.js';
import { readForeignTableWarnings } from '../observe/foreign-tables.js';
import { readObservedHost, type ObservedNetwork } from '../observe/read-host.js';
import { planSteps, type Ledger, type ObservedHost, type Plan } from '../plan/plan.js';
import { COMPONENTS, componentOf, describeStep, type Component, type Step } from '../plan/steps.js';
import type { DeprecatedPrefix } from '../render/deprecated-prefixes.js';
import { renderHost, type OwnedAddress, type RenderedHost } from '../render/host-facts.js';
import type { AgentConfig } from '../schema/agent-config.js';
import type { DesiredState } from '../schema/desired-state.js';
import type { ComponentResult } from '../schema/protocol.js';
import { RulesetWatch } from './ruleset-watch.js';

/** What one reconcile did. */
export interface ReconcileResult {
  readonly ok: boolean;
  readonly durationMs: number;
  readonly components: Record<Component, ComponentResult>;
  readonly errors: string[];
  readonly warnings: string[];
  /** What someone else had changed in what the agent owns, and it put back. */
  readonly repaired: string[];
  /** Steps applied, in order, described for people. */
  readonly applied: string[];
  /** The table's named counters as last observed, for usage reports. */
  readonly counters: ReadonlyMap<string, { readonly packets: number; readonly bytes: number }>;
  /**
   * Links, addresses and default routes as the last pass observed them, when
   * nothing applied after it could change them (ruleset steps cannot); else null.
   */
  readonly network: ObservedNetwork | null;
}

const MAX_PASSES = 3;
const OWNED_FILE = 'owned-addresses.json';

/**
 * Drives the host towards a desired state: render, observe, plan, apply,
 * and again until the plan is empty. Level-triggered: it never asks what
 * changed, so it may be called any number of times with the same state, and
 * a run after a converged one changes nothing.
 */
export class Reconciler {
  private ledger: Omit<Ledger, 'ruleset'> = { radvdLoaded: null, frrApplied: null, ownedAddresses: [] };
  private running: Promise<ReconcileResult> | null = null;
  private readonly rulesetWatch: RulesetWatch;
  private foreignTableWarnings: string[] = [];
  private ownedWarning: string | null = null;
  /** The rendering the host last converged to: a step towards it again repairs someone else's change. */
  private convergedRendered: RenderedHost | null = null;
  private readonly renderedStates = new WeakMap<DesiredState, { key: string; rendered: RenderedHost }>();

  constructor(
    private readonly host: Host,
    private readonly config: AgentConfig,
    private readonly log: Logger,
  ) {
    this.rulesetWatch = new RulesetWatch(host, config);
  }

  /**
   * Loads what earlier runs left: the sweep list, and the memory of the last
   * ruleset load, so a restarted agent updates the table chain by chain and
   * keeps its counters. Call once before the first reconcile.
   */
  async load(): Promise<void> {
    const owned = parseOwned(await this.host.readFile(this.ownedPath()));
    this.ledger = { ...this.ledger, ownedAddresses: owned };
    await this.rulesetWatch.load();
  }

  /** Plans without applying: the dry run behind `vr6ctl plan`. */
  async plan(state: DesiredState, deprecated: readonly DeprecatedPrefix[] = []): Promise<Plan> {
    const rendered = this.render(state, deprecated);
    const { observed } = await this.observe(rendered, false);
    return planSteps(rendered, observed, this.fullLedger());
  }

  /**
   * Reconciles the host to the state and the prefixes being deprecated;
   * concurrent calls wait for the one in flight, then run again.
   */
  async reconcile(state: DesiredState, deprecated: readonly DeprecatedPrefix[] = []): Promise<ReconcileResult> {
    while (this.running) await this.running.catch(() => undefined);
    this.running = this.runPasses(state, deprecated);
    try {
      return await this.running;
    } finally {
      this.running = null;
    }
  }

  private async runPasses(state: DesiredState, deprecated: readonly DeprecatedPrefix[]): Promise<ReconcileResult> {
    const started = performance.now();
    const rendered = this.render(state, deprecated);
    const isRepair = rendered === this.convergedRendered;
    const applied: Step[] = [];
    const notes: string[] = [];
    let failure: { step: Step; error: string; skipped: Step[] } | null = null;
    let warnings: string[] = [];
    let counters: ReconcileResult['counters'] = new Map();
    let network: ObservedNetwork | null = null;
    let hasNftChanged = false;
    for (let pass = 0; pass < MAX_PASSES && failure === null; pass++) {
      const { observed, isListed } = await this.observe(rendered, pass === 0);
      hasNftChanged ||= isListed;
      counters = observed.ruleset?.counters ?? new Map();
      network = { links: observed.links, addresses: observed.addresses, routes: observed.routes };
      const plan = planSteps(rendered, observed, this.fullLedger());
      warnings = plan.warnings;
      if (plan.steps.length === 0) {
        await this.rememberOwned(rendered.addresses);
        this.convergedRendered = rendered;
        break;
      }
      await this.rememberOwned([...this.ledger.ownedAddresses, ...rendered.addresses]);
      failure = await this.applySteps(plan.steps, rendered, applied, notes);
      if (!plan.steps.every(isRulesetStep)) network = null;
      // A plan of nothing but ruleset steps, committed with nobody else's in
      // between (the generation id says so), has converged: everything else
      // matched when it was planned, and another pass would only re-read it.
      if (failure === null && plan.steps.every(isRulesetStep) && this.rulesetWatch.isLastCommitProven) {
        await this.rememberOwned(rendered.addresses);
        this.convergedRendered = rendered;
        break;
      }
    }
    // Other tables can only have changed when nf_tables did.
    if (hasNftChanged) this.foreignTableWarnings = await this.readForeignTableWarnings();
    warnings = [...warnings, ...this.foreignTableWarnings, ...(this.ownedWarning === null ? [] : [this.ownedWarning])];
    const errors = failure ? [`${describeStep(failure.step)}: ${failure.error}`] : [];
    const result: ReconcileResult = {
      ok: failure === null,
      durationMs: Math.round(performance.now() - started),
      components: summarise(applied, failure),
      errors,
      warnings: [...warnings, ...notes],
      repaired: applied.flatMap((step) => describeRepair(step, isRepair)),
      applied: applied.map(describeStep),
      counters,
      network,
    };
    const { ok, durationMs, repaired } = result;
    this.log.info({ ok, durationMs, steps: applied.length, errors, warnings: result.warnings, repaired }, 'reconciled');
    return result;
  }

  private async applySteps(steps: Step[], rendered: RenderedHost, applied: Step[], notes: string[]) {
    for (const [index, step] of steps.entries()) {
      try {
        const note = await applyStep(step, { host: this.host, config: this.config });
        if (note) {
          notes.push(note);
          this.log.warn({ step: step.kind }, note);
        }
        applied.push(step);
        this.log.debug({ step: step.kind }, describeStep(step));
        await this.recordApplied(step, rendered);
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        this.log.error({ step: step.kind, err: error }, 'step failed');
        return { step, error: message, skipped: steps.slice(index + 1) };
      }
    }
    return null;
  }

  private async recordApplied(step: Step, rendered: RenderedHost): Promise<void> {
    if (step.kind === 'loadRuleset') {
      await this.rulesetWatch.recordCommit(rendered, 'all', 1);
    } else if (step.kind === 'loadRulesetStaged') {
      await this.rulesetWatch.recordCommit(rendered, 'all', step.documents.length);
    } else if (step.kind === 'updateRuleset') {
      await this.rulesetWatch.recordCommit(rendered, step.chains, 1);
    } else if (step.kind === 'startRadvd' || step.kind === 'reloadRadvd') {
      this.ledger = { ...this.ledger, radvdLoaded: rendered.radvdConf };
    } else if (step.kind === 'stopRadvd') {
      this.ledger = { ...this.ledger, radvdLoaded: null };
    } else if (step.kind === 'startZebra' || step.kind === 'configureZebra') {
      this.ledger = { ...this.ledger, frrApplied: rendered.frr?.text ?? null };
    } else if (step.kind === 'stopZebra') {
      this.ledger = { ...this.ledger, frrApplied: null };
    }
  }

  // A resync reconciles the same state object again: render it once.
  private render(state: DesiredState, deprecated: readonly DeprecatedPrefix[]): RenderedHost {
    const key = JSON.stringify(deprecated);
    const known = this.renderedStates.get(state);
    if (known !== undefined && known.key === key) return known.rendered;
    const rendered = renderHost(state, deprecated);
    this.renderedStates.set(state, { key, rendered });
    return rendered;
  }

  private async observe(rendered: RenderedHost, isLearning: boolean): Promise<{ observed: ObservedHost; isListed: boolean }> {
    let isListed = false;
    const observeRuleset = async () => {
      const observation = await this.rulesetWatch.observe(isLearning);
      isListed = observation.isListed;
      return observation.ruleset;
    };
    const observed = await readObservedHost(this.host, this.config, rendered, observeRuleset);
    return { observed, isListed };
  }

  private fullLedger(): Ledger {
    return { ...this.ledger, ruleset: this.rulesetWatch.rulesetMemory };
  }

  private async readForeignTableWarnings(): Promise<string[]> {
    try {
      return await readForeignTableWarnings(this.host, this.config);
    } catch (error) {
      return [`cannot check other nftables tables: ${(error as Error).message}`];
    }
  }

  private async rememberOwned(addresses: readonly OwnedAddress[]): Promise<void> {
    const unique = dedupeAddresses(addresses);
    const text = `${JSON.stringify(unique, null, 2)}\n`;
    if (text === `${JSON.stringify(this.ledger.ownedAddresses, null, 2)}\n` && this.ownedWarning === null) return;
    try {
      await this.host.writeFileAtomic(this.ownedPath(), text, 0o600);
      this.ownedWarning = null;
    } catch (error) {
      // A full or read-only state directory must not stop the reconcile: the host matters more than
      // the sweep list, which this agent still holds in memory. A restarted agent may miss these addresses.
      this.ownedWarning = `cannot save the addresses the agent owns (${(error as Error).message}); a restarted agent would not sweep them`;
      this.log.warn({ err: error }, 'cannot save the owned-address list, going on');
    }
    this.ledger = { ...this.ledger, ownedAddresses: unique };
  }

  private ownedPath(): string {
    return `${this.config.paths.stateDir}/${OWNED_FILE}`;
  }
}

/**
 * What a step put back, for `applied.repaired`. Ruleset and daemon steps
 * name their own drift; any other step taken towards the rendering the host
 * had already converged to undoes someone else's change (a sysctl flipped, a
 * gateway removed, a link taken down), since the desired state is the same.
 */
export function describeRepair(step: Step, isRepair: boolean): readonly string[] {
  if ('drift' in step) return step.drift;
  if (!isRepair) return [];
  switch (step.kind) {
    case 'setSysctl':
      return [`sysctl ${step.key} was ${step.previous ?? 'unset'}`];
    case 'addAddress':
      return [`address ${step.address}/${step.prefixLength} was missing on ${step.interface}`];
    case 'setLinkUp':
      return [`link ${step.interface} was down`];
    case 'checkRadvdConfig':
    case 'checkFrrConfig':
    case 'solicitRouters':
      return [];
    default:
      return [`${describeStep(step)} (the host had drifted)`];
  }
}

function isRulesetStep(step: Step): boolean {
  return step.kind === 'loadRuleset' || step.kind === 'loadRulesetStaged' || step.kind === 'updateRuleset';
}

function dedupeAddresses(addresses: readonly OwnedAddress[]): OwnedAddress[] {
  const byKey = new Map(addresses.map((a) => [`${a.interface} ${a.address}/${a.prefixLength}`, a]));
  return [...byKey.values()].map(({ interface: ifname, address, prefixLength }) => ({ interface: ifname, address, prefixLength }));
}

function parseOwned(text: string | null): OwnedAddress[] {
  if (text === null) return [];
  try {
    const value: unknown = JSON.parse(text);
    if (!Array.isArray(value)) return [];
    return value.filter(
      (a): a is OwnedAddress =>
        typeof a?.interface === 'string' && typeof a?.address === 'string' && typeof a?.prefixLength === 'number',
    );
  } catch {
    return [];
  }
}

function summarise(applied: readonly Step[], failure: { step: Step; error: string; skipped: Step[] } | null) {
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
  return components;
}
