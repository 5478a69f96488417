import type { Logger } from 'pino';
import type { Host } from '../host/host.js';
import type { AgentConfig } from '../schema/agent-config.js';
import { CloudStackReporter } from './cloudstack-report.js';
import { CloudStackSource, type DesiredSink } from './cloudstack-source.js';

/** The cloudstack source with its reporter, as the daemon runs it (`source: "cloudstack"` in the agent config). */
export function createCloudStackSource(host: Host, config: AgentConfig, agent: DesiredSink, log: Logger): CloudStackSource {
  const settings = config.cloudstack;
  const child = log.child({ component: 'cloudstack' });
  const reporter = new CloudStackReporter(host, settings.reportFile, settings.databagDir, child);
  return new CloudStackSource(host, settings, agent, reporter, child);
}
