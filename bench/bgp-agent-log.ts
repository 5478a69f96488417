import { readFileSync } from 'node:fs';

/**
 * What the agent's debug log says about one push: when the state was
 * accepted, when frr.conf had passed `vtysh -C`, and each `vtysh -f` pass
 * with its commands. The log is the agent's own (pino, one JSON object a
 * line); a step is logged once it has returned (src/reconcile/reconciler.ts),
 * and a configureRouting step's message is its commands joined by `; `
 * (src/plan/steps.ts). Times are epoch ms on the agent's clock, the machine's.
 */
export interface AgentTimeline {
  readonly acceptedAt: number;
  readonly checkedAt: number;
  readonly passes: readonly { readonly doneAt: number; readonly commands: string }[];
}

const ROUTING_STEP = 'configureRouting: ';

interface LogEntry {
  readonly time: string;
  readonly msg: string;
  readonly step?: string;
  readonly generation?: number;
}

/** The timeline of `generation`, from the log lines written at `sinceMs` or later; NaN for what is missing. */
export function readAgentTimeline(logPath: string, sinceMs: number, generation: number): AgentTimeline {
  const entries = readFileSync(logPath, 'utf8')
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as LogEntry)
    .filter((entry) => Date.parse(entry.time) >= sinceMs);
  const timeOf = (entry: LogEntry | undefined) => (entry === undefined ? Number.NaN : Date.parse(entry.time));
  return {
    acceptedAt: timeOf(entries.find((entry) => entry.msg === 'desired state accepted' && entry.generation === generation)),
    checkedAt: timeOf(entries.find((entry) => entry.step === 'checkFrrConfig')),
    passes: entries
      .filter((entry) => entry.step === 'configureRouting' && entry.msg.startsWith(ROUTING_STEP))
      .map((entry) => ({
        doneAt: timeOf(entry),
        commands: entry.msg.slice(ROUTING_STEP.length).split('; ').filter((command) => !command.startsWith('refresh ')).join('\n'),
      })),
  };
}
