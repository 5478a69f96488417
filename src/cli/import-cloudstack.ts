import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DATABAG_NAMES, databagFile, parseDatabagTexts, type DatabagName } from '../cloudstack/databags.js';
import { digestSpec, importCloudStack, type ImportOptions } from '../cloudstack/import.js';
import { AgentConfig } from '../schema/agent-config.js';
import { formatJsonPath, type FieldError, type Parsed } from '../schema/validation.js';
import type { CloudStackImport } from '../cloudstack/import.js';

/**
 * `vr6ctl import-cloudstack DIR`: the desired state a directory of
 * CloudStack's merged databags gives (docs/cloudstack.md). It needs no
 * agent: the operator's dry run, and what the tests drive.
 */

/** Reads DIR/<databag>.json for each databag the translation knows; an absent file is null. */
export async function readDatabagTexts(dir: string): Promise<Record<DatabagName, string | null>> {
  const entries = await Promise.all(
    DATABAG_NAMES.map(async (name) => {
      try {
        return [name, await readFile(join(dir, databagFile(name)), 'utf8')] as const;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [name, null] as const;
        throw error;
      }
    }),
  );
  return Object.fromEntries(entries) as Record<DatabagName, string | null>;
}

/** Where the agent reads its config unless told otherwise (the daemon's default). */
export const DEFAULT_AGENT_CONFIG = '/etc/vr6-agent/agent.json';

/**
 * The import of a directory: its files read, parsed, translated and
 * validated, with what the agent config at `agentConfigPath` adds (a
 * redundant pair's sync link), so the CLI gives the very state the agent
 * takes. An absent config adds nothing; one that does not parse is an error.
 */
export async function importDirectory(dir: string, agentConfigPath: string = DEFAULT_AGENT_CONFIG): Promise<Parsed<CloudStackImport>> {
  const options = await readImportOptions(agentConfigPath);
  if (!options.ok) return options;
  const texts = parseDatabagTexts(await readDatabagTexts(dir));
  return texts.ok ? importCloudStack(texts.value, options.value) : texts;
}

async function readImportOptions(path: string): Promise<Parsed<ImportOptions>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { ok: true, value: {} };
    throw error;
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { ok: false, errors: [{ path: `${path}: $`, message: `is not JSON: ${(error as Error).message}` }] };
  }
  const parsed = AgentConfig.safeParse(value);
  if (!parsed.success) {
    return { ok: false, errors: parsed.error.issues.map((issue) => ({ path: `${path}: ${formatJsonPath(issue.path)}`, message: issue.message })) };
  }
  return { ok: true, value: { pair: parsed.data.cloudstack.pair } };
}

/** Each error as one line: `<file>: <path>: <message>`. */
export function formatImportErrors(errors: readonly FieldError[]): string {
  return errors.map((error) => `${error.path}: ${error.message}\n`).join('');
}

/** Where the agent's cloudstack source writes its report unless the config says otherwise. */
export const DEFAULT_REPORT_FILE = '/run/vr6-agent/cloudstack-report.json';

/** The verdict of `vr6ctl cloudstack-check`: the exit code and what to print on stderr. */
export interface CheckVerdict {
  readonly isOk: boolean;
  readonly message: string;
}

/** The report fields the check reads (daemon/cloudstack-report.ts writes them). */
interface ReportView {
  readonly lastRead?: { readonly specDigest: string | null; readonly errors: readonly FieldError[] } | null;
  readonly accepted?: { readonly generation: number; readonly specDigest: string } | null;
  readonly ack?: { readonly generation: number; readonly status: string; readonly errors: readonly FieldError[] } | null;
  readonly applied?: { readonly generation: number; readonly ok: boolean; readonly errors: readonly string[] } | null;
}

/**
 * Judges a report against the digest of the spec the databags give: null
 * while the agent has not finished with these databags, else the verdict.
 */
export function judgeReport(report: ReportView, specDigest: string): CheckVerdict | null {
  const { lastRead, accepted, ack, applied } = report;
  if (accepted?.specDigest === specDigest && applied && applied.generation >= accepted.generation) {
    return applied.generation === accepted.generation && !applied.ok
      ? { isOk: false, message: `the agent could not apply the IPv6 state: ${applied.errors.join('; ') || 'not converged'}` }
      : { isOk: true, message: '' };
  }
  if (lastRead?.specDigest === specDigest && ack?.status === 'rejected' && accepted?.specDigest !== specDigest) {
    return { isOk: false, message: `the agent rejected the IPv6 state: ${ack.errors.map((e) => `${e.path}: ${e.message}`).join('; ')}` };
  }
  return null;
}

/**
 * `vr6ctl cloudstack-check DIR`: translates DIR's databags, then waits for
 * the agent's report to say it applied that very state. What a wrapper of
 * update_config.py runs, so that a refused or failed IPv6 state fails the VR
 * configuration as CloudStack's own failures do (docs/cloudstack.md).
 */
export async function checkDirectory(dir: string, reportFile: string, agentConfigPath: string, timeoutMs: number, now: () => number): Promise<CheckVerdict> {
  const imported = await importDirectory(dir, agentConfigPath);
  if (!imported.ok) return { isOk: false, message: formatImportErrors(imported.errors).trimEnd() };
  const digest = digestSpec(imported.value.spec);
  const deadline = now() + timeoutMs;
  for (;;) {
    const text = await readFile(reportFile, 'utf8').catch(() => null);
    const verdict = text === null ? null : judgeReport(parseReport(text), digest);
    if (verdict !== null) return verdict;
    if (now() >= deadline) return { isOk: false, message: `the agent did not report these databags applied within ${timeoutMs / 1000} s (${reportFile})` };
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

// A report caught mid-rename cannot happen (it is renamed into place); an old or foreign file counts as no answer yet.
function parseReport(text: string): ReportView {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null ? (value as ReportView) : {};
  } catch {
    return {};
  }
}
