import { mkdir } from 'node:fs/promises';
import pino from 'pino';
import { SystemHost } from '../host/system-host.js';
import { AddressMonitor } from '../observe/address-monitor.js';
import type { AgentConfig } from '../schema/agent-config.js';
import { ManagementClient } from '../transport/management-client.js';
import { Agent } from './agent.js';
import { readAgentConfig } from './config-file.js';
import { readWatchdogMs, SystemdNotifier } from './systemd-notify.js';

declare const VR6_AGENT_VERSION: string | undefined;
const VERSION = typeof VR6_AGENT_VERSION === 'string' ? VR6_AGENT_VERSION : '0.0.0-dev';
const DEFAULT_CONFIG = '/etc/vr6-agent/agent.json';

function parseArgs(argv: readonly string[]): { configPath: string } {
  const index = argv.indexOf('--config');
  return { configPath: index >= 0 && argv[index + 1] ? (argv[index + 1] as string) : DEFAULT_CONFIG };
}

async function main(): Promise<void> {
  const host = new SystemHost();
  const { configPath } = parseArgs(process.argv.slice(2));
  const parsed = await readAgentConfig(host, configPath);
  if (!parsed.ok) {
    for (const error of parsed.errors) process.stderr.write(`vr6-agent: ${configPath}: ${error.path}: ${error.message}\n`);
    process.exit(2);
  }
  const config = parsed.value;
  // journald records the PID and host itself; every line names its component instead.
  const root = pino({ level: config.logLevel, base: undefined, timestamp: pino.stdTimeFunctions.isoTime }, pino.destination(1));
  const log = root.child({ component: 'daemon' });
  await mkdir(config.paths.runtimeDir, { recursive: true, mode: 0o700 });
  await mkdir(config.paths.stateDir, { recursive: true, mode: 0o700 });

  let client: ManagementClient | null = null;
  const agent: Agent = new Agent({ host, config, log: root, version: VERSION, send: (message) => client?.send(message) ?? false });
  if (config.management.urls.length > 0) client = await createClient(host, config, root, () => agent.hello());
  const notifier = new SystemdNotifier(host);
  const monitor = new AddressMonitor(
    config.commands.ip,
    (event) => agent.onMonitorEvent(event),
    (code) => log.warn({ code }, 'ip monitor exited, restarting'),
  );

  monitor.start();
  await agent.start();
  client?.on('message', (message) => void agent.handleMessage(message));
  // The transport logs connects, disconnects and invalid frames itself.
  client?.on('connected', () => agent.onConnected());
  client?.start();
  await notifier.notify({ READY: '1', STATUS: 'running' });
  log.info({ version: VERSION, configPath }, 'started');

  const resync = setInterval(() => agent.requestReconcile('resync'), config.resyncSeconds * 1000);
  const watchdogMs = readWatchdogMs();
  // WATCHDOG=1 only while the reconcile loop has run recently: a stuck loop must trip systemd.
  const watchdog =
    watchdogMs === null
      ? null
      : setInterval(() => {
          if (Date.now() - agent.lastLoopAt < Math.max(watchdogMs, config.resyncSeconds * 2000)) void notifier.notify({ WATCHDOG: '1' });
        }, watchdogMs / 2);

  const shutdown = async (signal: string) => {
    log.info({ signal }, 'stopping');
    await notifier.notify({ STOPPING: '1' });
    clearInterval(resync);
    if (watchdog) clearInterval(watchdog);
    monitor.stop();
    agent.stop();
    await client?.stop();
    await agent.idle();
    process.exit(0);
  };
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  process.once('SIGINT', () => void shutdown('SIGINT'));
}

async function createClient(
  host: SystemHost,
  config: AgentConfig,
  log: pino.Logger,
  hello: () => ReturnType<Agent['hello']>,
): Promise<ManagementClient> {
  const m = config.management;
  const token = m.tokenFile ? (await host.readFile(m.tokenFile))?.trim() : undefined;
  const ca = m.caFile ? ((await host.readFile(m.caFile)) ?? undefined) : undefined;
  return new ManagementClient({
    urls: m.urls,
    ...(token ? { token } : {}),
    ...(ca ? { ca } : {}),
    heartbeatMs: m.heartbeatSeconds * 1000,
    maxMessageBytes: m.maxMessageBytes,
    backoffInitialMs: m.backoffInitialSeconds * 1000,
    backoffMaxMs: m.backoffMaxSeconds * 1000,
    hello,
    logger: log,
  });
}

main().catch((error: unknown) => {
  process.stderr.write(`vr6-agent: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
