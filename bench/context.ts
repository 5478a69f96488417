import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DesiredState } from '../src/schema/desired-state.js';
import { renderRuleset } from '../src/render/ruleset.js';
import { renderRulesetDocument } from '../src/render/ruleset-document.js';
import { groupDocument, type Document, type GroupedDocument } from './documents.js';
import { runNft, type Measured } from './nft-process.js';
import { createSample, type Sample } from './stats.js';

/** What every case works with. */
export interface BenchContext {
  /** A private temp dir (tmpfs when /run is one) for documents. */
  readonly dir: string;
  readonly runs: number;
  readonly state: DesiredState;
  /** The state with one ACL item changed. */
  readonly changed: DesiredState;
}

/** One row of a result table. */
export interface CaseResult {
  readonly name: string;
  readonly sample: Sample;
  readonly note: string;
}

/** A case's runs, collected. */
export function createResult(name: string, note = ''): CaseResult & { sample: Sample } {
  return { name, sample: createSample(), note };
}

/** Adds one run: its wall time and the peak RSS of the processes it ran. */
export function record(result: CaseResult, wallMs: number, processes: readonly Measured[]): void {
  result.sample.wallMs.push(wallMs);
  const peaks = processes.map((p) => p.maxRssKb).filter((kb): kb is number => kb !== null);
  if (peaks.length > 0) result.sample.maxRssKb.push(Math.max(...peaks));
}

/** The agent's own full document for a state, exactly as it renders it for a full load. */
export function renderAgentDocumentText(state: DesiredState): string {
  return `${JSON.stringify(renderRulesetDocument(renderRuleset(state)))}\n`;
}

/** The agent's full document, grouped by chain. */
export function renderGrouped(state: DesiredState): GroupedDocument {
  return groupDocument(renderRulesetDocument(renderRuleset(state)) as unknown as Document);
}

/** Writes a document to the context's dir and loads it with `nft -j -f`. */
export function loadJson(context: BenchContext, name: string, document: Document | string, extraArgs: readonly string[] = []) {
  const path = join(context.dir, name);
  writeFileSync(path, typeof document === 'string' ? document : JSON.stringify(document), { mode: 0o600 });
  return runNft([...extraArgs, '-j', '-f', path]);
}

/** Milliseconds since `started` (a performance.now() value). */
export function since(started: number): number {
  return performance.now() - started;
}

/** Removes the agent's table if it exists (untimed set-up). */
export function deleteTable(): void {
  runNft(['delete', 'table', 'ip6', 'vr6_agent'], { allowFailure: true });
}

/** The agent's table as text, as `nft list table` prints it. */
export function listTableText(): string {
  return runNft(['list', 'table', 'ip6', 'vr6_agent']).stdout;
}
