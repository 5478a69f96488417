import { componentOf, describeStep } from '../plan/steps.js';
import type { AgentConfig } from '../schema/agent-config.js';
import {
  ControlError,
  describeBgp,
  describeRedundancy,
  describeOutcome,
  type ControlRequest,
  type LogLevelResult,
  type PlanResult,
  type ShowBgpResult,
  type ShowRoutesResult,
  type ShowDesiredResult,
  type StatusResult,
  SHOW_TOPICS,
} from '../schema/control-protocol.js';
import type { Agent } from './agent.js';
import type { AgentLogger } from './logger.js';
import { isLoopHealthy } from './systemd-notify.js';

/** The management link as the daemon tracks it from the transport's events. */
export interface ManagementLink {
  readonly isConfigured: boolean;
  isConnected(): boolean;
  /** The URL of the open connection, else of the last one tried. */
  url(): string | null;
  lastDisconnect(): string | null;
}

/** What the control commands read and act on. */
export interface ControlContext {
  readonly agent: Agent;
  readonly config: AgentConfig;
  readonly bootKeys: readonly string[];
  readonly logger: AgentLogger;
  readonly management: ManagementLink;
  readonly version: string;
  readonly startedAt: Date;
  /** The interval systemd expects WATCHDOG=1 in; null when there is no watchdog. */
  readonly watchdogMs: number | null;
}

/** Runs one validated request; resolves with its result or rejects with a ControlError. */
export async function runControlCommand(request: ControlRequest, context: ControlContext): Promise<unknown> {
  switch (request.command) {
    case 'status':
      return readStatus(context);
    case 'show':
      return readShow(request.topic, context);
    case 'plan':
      return runPlan(request.spec, context);
    case 'reconcile': {
      const report = await context.agent.reconcileNow();
      if (report === null) throw new ControlError('no-desired-state', 'no desired state has been accepted yet; nothing to reconcile');
      return report;
    }
    case 'log-level': {
      const previous = context.logger.level;
      context.logger.setLevel(request.level);
      // Not `level`: that key is pino's own.
      context.logger.root.child({ component: 'control' }).info({ previousLevel: previous, newLevel: request.level }, 'log level changed');
      return { previous, level: request.level } satisfies LogLevelResult;
    }
  }
}

/** The daemon's state for `vr6ctl status` and the STATUS= line. */
export function readStatus(context: ControlContext, nowMonotonicMs = performance.now()): StatusResult {
  const { agent, config, management } = context;
  const { accepted, lastApplied, lastObserved } = agent.snapshot();
  const address = lastObserved?.publicAddress;
  return {
    version: context.version,
    pid: process.pid,
    startedAt: context.startedAt.toISOString(),
    logLevel: context.logger.level,
    routerId: config.routerId ?? null,
    management: {
      isConfigured: management.isConfigured,
      isConnected: management.isConnected(),
      url: management.url(),
      lastDisconnect: management.lastDisconnect(),
    },
    desiredGeneration: accepted?.generation ?? null,
    applied:
      lastApplied === null
        ? null
        : {
            generation: lastApplied.generation,
            ok: lastApplied.ok,
            isConverged: lastApplied.isConverged,
            durationMs: lastApplied.durationMs,
            components: lastApplied.components,
            errors: lastApplied.errors,
            remaining: lastApplied.remaining,
          },
    publicAddress: address ? `${address.address}/${address.prefixLength}` : null,
    bgp: lastObserved?.bgp ?? null,
    redundancy: lastObserved?.redundancy ?? null,
    observedWarnings: lastObserved?.warnings ?? [],
    loop: {
      lastRunAt: new Date(agent.lastLoopAt).toISOString(),
      isHealthy: isLoopHealthy(nowMonotonicMs, agent.lastLoopMonotonicMs, context.watchdogMs ?? 0, config.resyncSeconds),
    },
    recentProblems: context.logger.recentProblems(),
  };
}

/**
 * The one line systemd shows as "Status:": generation applied, management
 * link, public address and, with BGP, its sessions, short enough for
 * `systemctl status`.
 */
export function renderStatusLine(status: StatusResult): string {
  const applied = status.applied;
  const generation =
    applied === null
      ? status.desiredGeneration === null
        ? 'no desired state'
        : `generation ${status.desiredGeneration} accepted, not applied`
      : `generation ${applied.generation} ${describeOutcome(applied)}`;
  const pending = applied !== null && status.desiredGeneration !== null && status.desiredGeneration !== applied.generation ? ` (desired ${status.desiredGeneration})` : '';
  const link = !status.management.isConfigured ? 'management not configured' : status.management.isConnected ? 'management connected' : 'management disconnected';
  return `${generation}${pending}; ${link}; public ${status.publicAddress ?? 'none'}${status.bgp ? `; bgp ${describeBgp(status.bgp)}` : ''}${status.redundancy ? `; vrrp ${describeRedundancy(status.redundancy)}` : ''}`;
}

async function readShow(topic: (typeof SHOW_TOPICS)[number], context: ControlContext): Promise<unknown> {
  const { accepted, lastApplied, lastObserved } = context.agent.snapshot();
  switch (topic) {
    case 'bgp':
      // Asked of bgpd now: an operator who just changed something should not wait for the next poll.
      return ((await context.agent.observeNow())?.bgp ?? null) satisfies ShowBgpResult;
    case 'routes':
      // Asked of the kernel now, as bgp: a move just pushed shows at once.
      return ((await context.agent.observeNow())?.routedPrefixes ?? []) satisfies ShowRoutesResult;
    case 'desired':
      if (accepted === null) throw new ControlError('no-desired-state', 'no desired state has been accepted yet');
      return { generation: accepted.generation, spec: accepted.spec } satisfies ShowDesiredResult;
    case 'applied':
      return lastApplied;
    case 'observed':
      return lastObserved;
    case 'config':
      // The token never enters the config; only the names of the boot keys used are shown.
      return { config: context.config, bootParameterKeys: context.bootKeys };
  }
}

async function runPlan(spec: unknown, context: ControlContext): Promise<PlanResult> {
  const parsed = await context.agent.dryRun(spec);
  if (!parsed.ok) {
    const isMissing = spec === undefined;
    throw new ControlError(isMissing ? 'no-desired-state' : 'invalid-spec', isMissing ? 'no desired state has been accepted yet' : 'the desired state is invalid', isMissing ? [] : parsed.errors);
  }
  const { plan, generation } = parsed.value;
  return {
    source: spec === undefined ? 'accepted' : 'given',
    generation,
    steps: plan.steps.map((step) => ({ kind: step.kind, component: componentOf(step), description: describeStep(step) })),
    warnings: plan.warnings,
  };
}
