import { describeBgp, describeOutcome, describeRedundancy, type LogLevelResult, type PlanResult, type ReconcileResult, type StatusResult } from '../schema/control-protocol.js';
import type { BgpReport, RedundancyReport } from '../schema/protocol.js';
import type { FieldError } from '../schema/validation.js';

/**
 * The human output of vr6ctl: pure functions from a command's result to
 * text. Scripts use --json instead; this text may change between releases.
 */

/** `status` as an aligned key/value table, then any recent problems. */
export function formatStatus(status: StatusResult, nowMs: number): string {
  const uptime = formatDuration(nowMs - Date.parse(status.startedAt));
  const m = status.management;
  const management = !m.isConfigured
    ? 'not configured (running from the persisted state only)'
    : m.isConnected
      ? `connected to ${m.url ?? '?'}`
      : `disconnected${m.url ? ` (last tried ${m.url}${m.lastDisconnect ? `: ${m.lastDisconnect}` : ''})` : ''}`;
  const applied = status.applied;
  const rows: [string, string][] = [
    ['agent', `vr6-agent ${status.version}, pid ${status.pid}, up ${uptime}, log level ${status.logLevel}`],
    ['router', status.routerId ?? '(any: not configured)'],
    ['management', management],
    ['desired', status.desiredGeneration === null ? 'none accepted yet' : `generation ${status.desiredGeneration}`],
    ['applied', applied === null ? 'nothing applied yet' : `generation ${applied.generation}, ${applied.ok ? 'ok' : describeOutcome(applied)}, ${applied.durationMs} ms`],
    ['public', status.publicAddress ?? 'none observed'],
    ...(status.bgp === null ? [] : [['bgp', formatBgpSummary(status.bgp)] as [string, string]]),
    ...(status.redundancy ? [['vrrp', formatRedundancySummary(status.redundancy, nowMs)] as [string, string]] : []),
    ['loop', `${status.loop.isHealthy ? 'healthy' : 'STALLED'}, last run ${formatDuration(nowMs - Date.parse(status.loop.lastRunAt))} ago`],
  ];
  if (applied !== null) rows.push(['components', formatComponents(applied.components)]);
  const lines = formatRows(rows);
  const errors = [...(applied?.errors ?? []), ...status.observedWarnings.map((w) => `warning: ${w}`)];
  if (errors.length > 0) lines.push('', 'errors and warnings:', ...errors.map((e) => `  ${e}`));
  if (status.recentProblems.length > 0) {
    lines.push('', 'recent problems in the log:');
    for (const p of status.recentProblems) lines.push(`  ${p.time} ${p.level.toUpperCase().padEnd(5)} ${p.component ?? '-'}: ${p.message}`);
  }
  return `${lines.join('\n')}\n`;
}

/** The pair after "vrrp" in `status`: the role, the peer, and the last transition with its time and cause. */
export function formatRedundancySummary(report: RedundancyReport, nowMs: number): string {
  const last = report.transitions.at(-1);
  const transition = last === undefined ? '' : `; ${last.from ?? 'start'} -> ${last.to} ${formatDuration(nowMs - Date.parse(last.at))} ago: ${last.cause}`;
  return `${describeRedundancy(report)}${transition}`;
}

/** BGP after "bgp" in `status`: the sessions up, and the default route BGP gave the kernel, if any. */
export function formatBgpSummary(report: BgpReport): string {
  const route = report.defaultRouteInKernel ? `, default route via ${report.defaultRouteGateway ?? 'several next hops'}` : '';
  return `${describeBgp(report)}${route}`;
}

/** `plan`: the steps a reconcile would take, one per line, or that there are none. */
export function formatPlan(plan: PlanResult): string {
  const subject = plan.source === 'given' ? 'the given desired state' : `generation ${plan.generation ?? '?'} (the accepted state)`;
  const lines =
    plan.steps.length === 0
      ? [`plan for ${subject}: no changes, the host matches`]
      : [
          `plan for ${subject}: ${plan.steps.length} ${plan.steps.length === 1 ? 'change' : 'changes'}`,
          ...plan.steps.map((step) => `  ${step.component.padEnd(15)} ${step.description}`),
        ];
  if (plan.warnings.length > 0) lines.push('warnings:', ...plan.warnings.map((w) => `  ${w}`));
  return `${lines.join('\n')}\n`;
}

/** `reconcile`: the outcome of the run. */
export function formatReconcile(report: ReconcileResult): string {
  const lines = [
    `generation ${report.generation}: ${report.ok ? 'ok' : describeOutcome(report)} in ${report.durationMs} ms`,
    `components: ${formatComponents(report.components)}`,
    ...report.errors.map((e) => `error: ${e}`),
  ];
  return `${lines.join('\n')}\n`;
}

/** `log-level`. */
export function formatLogLevel(result: LogLevelResult): string {
  return `log level: ${result.previous} -> ${result.level}\n`;
}

/** An error answer from the agent, with the field errors it carries. */
export function formatAgentError(message: string, errors: readonly FieldError[] = []): string {
  return `vr6ctl: ${message}\n${errors.map((e) => `  ${e.path}: ${e.message}\n`).join('')}`;
}

function formatComponents(components: Record<string, { status: string; steps: number; error?: string }>): string {
  return Object.entries(components)
    .map(([name, c]) => `${name} ${c.status}${c.steps > 0 ? ` (${c.steps})` : ''}`)
    .join(', ');
}

function formatRows(rows: readonly [string, string][]): string[] {
  const width = Math.max(...rows.map(([key]) => key.length));
  return rows.map(([key, value]) => `${key.padEnd(width)}  ${value}`);
}

/** A duration for people: 45s, 3m12s, 2h05m, 3d04h. */
export function formatDuration(ms: number): string {
  const seconds = Math.max(0, Math.floor(ms / 1000));
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m${String(seconds % 60).padStart(2, '0')}s`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return `${hours}h${String(minutes % 60).padStart(2, '0')}m`;
  return `${Math.floor(hours / 24)}d${String(hours % 24).padStart(2, '0')}h`;
}
