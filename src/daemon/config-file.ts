import type { Host } from '../host/host.js';
import { AgentConfig } from '../schema/agent-config.js';
import { parseWith, type Parsed } from '../schema/validation.js';

/** Reads and validates the agent config; a missing file means all defaults. */
export async function readAgentConfig(host: Host, path: string): Promise<Parsed<AgentConfig>> {
  const text = await host.readFile(path);
  if (text === null) return parseWith(AgentConfig, {});
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return { ok: false, errors: [{ path: '$', message: `${path} is not JSON: ${(error as Error).message}` }] };
  }
  return parseWith(AgentConfig, json);
}
