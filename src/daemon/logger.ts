import pino, { type DestinationStream, type Logger } from 'pino';
import type { LogLevel } from '../schema/agent-config.js';
import type { RecentProblem } from '../schema/control-protocol.js';

/** The daemon's logging: the root logger, its level switch and the last problems it logged. */
export interface AgentLogger {
  readonly root: Logger;
  /** The level in force. */
  readonly level: LogLevel;
  /** Sets the level of the root logger and of every child made from it, however deep. */
  setLevel(level: LogLevel): void;
  /** The last warnings and errors, oldest first. */
  recentProblems(): RecentProblem[];
}

const RECENT_PROBLEMS = 10;

/**
 * Any field a secret could travel in is censored before it is written; the
 * code never logs the token, and this keeps a mistake from leaking it.
 */
export const REDACTED_PATHS = ['token', '*.token', 'bootToken', 'authorization', '*.authorization', 'headers.Authorization', '*.headers.Authorization'];

/**
 * pino JSON lines to `destination` (stdout for the journal: journald adds the
 * time, PID and unit; each line carries `component` instead). A child keeps
 * the level it was made with, so the level switch tracks every child through
 * weak references that let short-lived children be collected.
 */
export function createAgentLogger(level: LogLevel, destination: DestinationStream = pino.destination({ dest: 1, sync: true })): AgentLogger {
  const children = new Set<WeakRef<Logger>>();
  const problems: RecentProblem[] = [];
  const problemStream = { write: (line: string) => recordProblem(problems, line) };
  const root = pino(
    {
      level,
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
      onChild: (child) => {
        children.add(new WeakRef(child));
      },
    },
    pino.multistream([
      { level: 'trace', stream: destination },
      { level: 'warn', stream: problemStream },
    ]),
  );
  let current = level;
  return {
    root,
    get level() {
      return current;
    },
    setLevel(next) {
      current = next;
      root.level = next;
      for (const reference of children) {
        const child = reference.deref();
        if (child === undefined) children.delete(reference);
        else child.level = next;
      }
    },
    recentProblems: () => [...problems],
  };
}

const LEVEL_NAMES: Record<number, RecentProblem['level']> = { 40: 'warn', 50: 'error', 60: 'fatal' };

function recordProblem(problems: RecentProblem[], line: string): void {
  try {
    const entry = JSON.parse(line) as { level?: number; time?: string; component?: string; msg?: string; err?: { message?: string } };
    const level = LEVEL_NAMES[entry.level ?? 0];
    if (level === undefined) return;
    const detail = entry.err?.message ? `: ${entry.err.message}` : '';
    problems.push({ time: entry.time ?? new Date().toISOString(), level, component: entry.component ?? null, message: `${entry.msg ?? ''}${detail}` });
    if (problems.length > RECENT_PROBLEMS) problems.shift();
  } catch {
    // A line that is not JSON is not ours to keep.
  }
}
