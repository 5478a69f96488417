import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { planRuleset } from '../src/plan/ruleset-plan.js';
import { renderHost } from '../src/render/host-facts.js';
import { parseDesiredState } from '../src/schema/desired-state-parser.js';

/**
 * The agent side's memory: a fresh Node process (the same binary as the
 * benchmark, Node 18 by default) does what the agent does with the first
 * push of a state: JSON.parse, parseDesiredState (zod), render the host,
 * plan the load of a missing table, serialise and write each stage. It
 * reports its resident set after each phase and its peak (VmHWM), from
 * /proc/self/status.
 */

/** What one child reported; sizes in kB, times in ms. */
export interface AgentMemoryReport {
  readonly label: string;
  readonly startRssKb: number;
  readonly afterJsonRssKb: number;
  readonly afterParseRssKb: number;
  readonly afterRenderRssKb: number;
  readonly peakRssKb: number;
  readonly parseMs: number;
  readonly renderMs: number;
  readonly documentBytes: number;
}

function readStatusKb(field: 'VmRSS' | 'VmHWM'): number {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync('/proc/self/status', 'utf8'));
  return match ? Number(match[1]) : Number.NaN;
}

/** The child's body: argv is [desiredPath, documentPath]; prints one JSON report line. */
export function runAgentMemoryChild(desiredPath: string, documentPath: string): void {
  const startRssKb = readStatusKb('VmRSS');
  // A first frame: nothing to repeat, so the transport's parser is JSON.parse.
  const raw: unknown = JSON.parse(readFileSync(desiredPath, 'utf8'));
  const afterJsonRssKb = readStatusKb('VmRSS');
  let started = performance.now();
  const parsed = parseDesiredState(raw);
  if (!parsed.ok) throw new Error(`policy refused: ${JSON.stringify(parsed.errors.slice(0, 3))}`);
  const parseMs = performance.now() - started;
  const afterParseRssKb = readStatusKb('VmRSS');
  started = performance.now();
  // As the agent loads a table that is not there: the plan's staged documents, each serialised and
  // written just before nft would load it (apply/executors.ts), into one file here.
  const steps = planRuleset(renderHost(parsed.value), null, null);
  let documentBytes = 0;
  for (const step of steps) {
    const documents = step.kind === 'loadRulesetStaged' ? step.documents.map((d) => `${JSON.stringify(d)}\n`) : 'document' in step ? [step.document] : [];
    for (const document of documents) {
      writeFileSync(documentPath, document, { mode: 0o600 });
      documentBytes += document.length;
    }
  }
  const renderMs = performance.now() - started;
  const report = {
    startRssKb,
    afterJsonRssKb,
    afterParseRssKb,
    afterRenderRssKb: readStatusKb('VmRSS'),
    peakRssKb: readStatusKb('VmHWM'),
    parseMs,
    renderMs,
    documentBytes,
  };
  process.stdout.write(`${JSON.stringify(report)}\n`);
}

/** Runs a child bundle (agent-memory-child.ts) with the given Node flags and returns its report. */
export function measureAgentMemory(label: string, childPath: string, flags: readonly string[], desiredPath: string, documentPath: string): AgentMemoryReport {
  const result = spawnSync(process.execPath, [...flags, childPath, desiredPath, documentPath], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`agent memory child failed (${result.status}): ${result.stderr}`);
  const line = result.stdout.trim().split('\n').pop() ?? '{}';
  return { label, ...(JSON.parse(line) as Omit<AgentMemoryReport, 'label'>) };
}

/** The resident set of a bare `node -e` that does nothing, in kB: Node's own floor. */
export function measureBareNodeKb(): number {
  const script = "process.stdout.write(/VmHWM:\\s+(\\d+)/.exec(require('fs').readFileSync('/proc/self/status','utf8'))[1])";
  const result = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
  return Number(result.stdout);
}
