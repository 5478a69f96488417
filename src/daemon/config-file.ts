import type { z } from 'zod';
import type { Host } from '../host/host.js';
import { AgentConfig } from '../schema/agent-config.js';
import { formatJsonPath, type FieldError, type Parsed } from '../schema/validation.js';
import { applyBootOverrides, parseBootParameters, renderBootOverrides, type BootOverrides } from './boot-parameters.js';

/** The agent's configuration as loaded: the validated config, plus what came from the boot parameters. */
export interface LoadedConfig {
  readonly config: AgentConfig;
  /** The bearer token from the boot parameters (it wins over management.tokenFile); never logged. */
  readonly bootToken: string | undefined;
  /** The boot parameter keys that were used (not their values). */
  readonly bootKeys: string[];
}

/**
 * Reads the config file (a missing file means all defaults), then the boot
 * parameters it points to, and validates the merge. Every error names the
 * key it is about: a JSON path into the file, or the boot parameter.
 */
export async function readAgentConfig(host: Host, path: string): Promise<Parsed<LoadedConfig>> {
  const text = await host.readFile(path);
  let file: unknown = {};
  if (text !== null) {
    try {
      file = JSON.parse(text);
    } catch (error) {
      return { ok: false, errors: [{ path: '$', message: `is not JSON: ${(error as Error).message}` }] };
    }
  }
  if (typeof file !== 'object' || file === null || Array.isArray(file)) return { ok: false, errors: [{ path: '$', message: 'must be a JSON object' }] };
  const fileOnly = parseAgentConfig(file);
  if (!fileOnly.ok) return fileOnly;
  const { bootParameters } = fileOnly.value;
  const cmdline = bootParameters.isEnabled ? await host.readFile(bootParameters.file) : null;
  if (cmdline === null) return { ok: true, value: { config: fileOnly.value, bootToken: undefined, bootKeys: [] } };
  const overrides = renderBootOverrides(parseBootParameters(cmdline), file as Record<string, unknown>);
  const merged = parseAgentConfig(applyBootOverrides(file as Record<string, unknown>, overrides));
  if (!merged.ok) return { ok: false, errors: merged.errors.map((error) => nameBootSource(error, overrides, bootParameters.file)) };
  return { ok: true, value: { config: merged.value, bootToken: overrides.token, bootKeys: overrides.usedKeys } };
}

/** Validates config JSON; an unknown key is reported at its own path with the keys allowed there. */
export function parseAgentConfig(input: unknown): Parsed<AgentConfig> {
  const result = AgentConfig.safeParse(input);
  if (result.success) return { ok: true, value: result.data };
  return { ok: false, errors: result.error.issues.flatMap(formatIssue) };
}

function formatIssue(issue: z.core.$ZodIssue): FieldError[] {
  if (issue.code !== 'unrecognized_keys') return [{ path: formatJsonPath(issue.path), message: issue.message }];
  const allowed = allowedKeysAt(issue.path);
  const hint = allowed.length > 0 ? ` (allowed here: ${allowed.join(', ')})` : '';
  return issue.keys.map((key) => ({ path: formatJsonPath([...issue.path, key]), message: `is not a known key${hint}` }));
}

// Walks the schema's object shapes along the path to list the keys it accepts there.
function allowedKeysAt(path: readonly PropertyKey[]): string[] {
  let schema: unknown = AgentConfig;
  for (const key of path) {
    schema = unwrap(schema);
    const shape = (schema as { shape?: Record<string, unknown> }).shape;
    schema = shape?.[String(key)];
    if (schema === undefined) return [];
  }
  const shape = (unwrap(schema) as { shape?: Record<string, unknown> }).shape;
  return shape ? Object.keys(shape) : [];
}

function unwrap(schema: unknown): unknown {
  let current = schema as { def?: { innerType?: unknown } } | undefined;
  while (current?.def?.innerType !== undefined) current = current.def.innerType as typeof current;
  return current;
}

function nameBootSource(error: FieldError, overrides: BootOverrides, file: string): FieldError {
  for (const [path, key] of overrides.sources) {
    if (error.path === path || error.path.startsWith(`${path}.`) || error.path.startsWith(`${path}[`)) {
      return { path: `${file}: ${key}`, message: error.message };
    }
  }
  return error;
}
