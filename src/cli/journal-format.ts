/**
 * Pretty-prints the agent's journal for `vr6ctl logs`. `journalctl -o cat`
 * gives each line's message only: the agent's pino JSON, or plain text from
 * systemd itself ("Started ...", "Watchdog timeout ..."), which passes
 * through unchanged.
 */

const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };

// Fields shown in the fixed part of a line, so not again among the extras.
const FIXED = new Set(['level', 'time', 'msg', 'component', 'generation', 'step', 'pid', 'hostname']);

/** One journal message as one readable line: time, level, component, [generation, step], message, extra fields. */
export function formatJournalLine(line: string): string {
  if (!line.startsWith('{')) return line;
  let entry: Record<string, unknown>;
  try {
    const value: unknown = JSON.parse(line);
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return line;
    entry = value as Record<string, unknown>;
  } catch {
    return line;
  }
  const level = typeof entry.level === 'number' ? (LEVELS[entry.level] ?? String(entry.level)) : '?';
  const time = typeof entry.time === 'string' ? entry.time : typeof entry.time === 'number' ? new Date(entry.time).toISOString() : '-';
  const component = typeof entry.component === 'string' ? entry.component : '-';
  const tags = [
    ...(entry.generation !== undefined ? [`gen ${String(entry.generation)}`] : []),
    ...(typeof entry.step === 'string' ? [entry.step] : []),
  ];
  const extras = Object.entries(entry)
    .filter(([key]) => !FIXED.has(key))
    .map(([key, value]) => `${key}=${formatValue(key, value)}`);
  const parts = [time, level.padEnd(5), component.padEnd(9), ...(tags.length > 0 ? [`[${tags.join(' ')}]`] : []), String(entry.msg ?? '')];
  return [parts.join(' '), ...extras].join('  ');
}

function formatValue(key: string, value: unknown): string {
  // An error's message is what a person reads first; its stack stays in --json output.
  if (key === 'err' && typeof value === 'object' && value !== null && 'message' in value) return JSON.stringify((value as { message: unknown }).message);
  if (typeof value === 'string') return /^[\w./:@-]+$/.test(value) ? value : JSON.stringify(value);
  return JSON.stringify(value);
}
