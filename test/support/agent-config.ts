import { AgentConfig } from '../../src/schema/agent-config.js';

/** An agent config whose files live under one directory. */
export function agentConfigIn(directory: string, overrides: Record<string, unknown> = {}): AgentConfig {
  return AgentConfig.parse({
    paths: {
      stateDir: `${directory}/state`,
      runtimeDir: `${directory}/run`,
      interfacesFile: `${directory}/state/interfaces`,
      radvdConfig: `${directory}/run/radvd.conf`,
      radvdPidFile: `${directory}/run/radvd.pid`,
      frrRunDir: `${directory}/frr`,
    },
    ...overrides,
  });
}
