import { mkdir } from 'node:fs/promises';
import type { Logger } from 'pino';
import { SystemHost } from '../host/system-host.js';
import { fileLayoutOf } from '../model/file-layout.js';
import { AddressMonitor } from '../observe/address-monitor.js';
import type { AgentConfig } from '../schema/agent-config.js';
import { CONTROL_SOCKET_NAME } from '../schema/control-protocol.js';
import { ManagementClient } from '../transport/management-client.js';
import { Agent } from './agent.js';
import { createCloudStackSource } from './cloudstack-wiring.js';
import { readAgentConfig } from './config-file.js';
import { readStatus, renderStatusLine, runControlCommand, type ControlContext, type ManagementLink } from './control-commands.js';
import { ControlSocketServer } from './control-socket.js';
import { sweepLeftoverFiles } from './leftover-files.js';
import { sweepLeftoverMonitors } from './leftover-processes.js';
import { startHeartbeat } from './heartbeat.js';
import { createAgentLogger } from './logger.js';
import { isLoopHealthy, readWatchdogMs, SystemdNotifier } from './systemd-notify.js';

declare const VR6_AGENT_VERSION: string | undefined;
const VERSION = typeof VR6_AGENT_VERSION === 'string' ? VR6_AGENT_VERSION : '0.0.0-dev';
const DEFAULT_CONFIG = '/etc/vr6-agent/agent.json';
const STATUS_REFRESH_MS = 1000;

function parseArgs(argv: readonly string[]): { configPath: string } {
  const index = argv.indexOf('--config');
  return { configPath: index >= 0 && argv[index + 1] ? (argv[index + 1] as string) : DEFAULT_CONFIG };
}

async function main(): Promise<void> {
  const startedAt = new Date();
  const host = new SystemHost();
  const { configPath } = parseArgs(process.argv.slice(2));
  const loaded = await readAgentConfig(host, configPath);
  if (!loaded.ok) {
    for (const error of loaded.errors) process.stderr.write(`vr6-agent: ${configPath}: ${error.path}: ${error.message}\n`);
    process.exit(2);
  }
  const { config, bootToken, bootKeys } = loaded.value;
  const logger = createAgentLogger(config.logLevel);
  const log = logger.root.child({ component: 'daemon' });
  await mkdir(config.paths.runtimeDir, { recursive: true, mode: 0o700 });
  await mkdir(config.paths.stateDir, { recursive: true, mode: 0o700 });
  const swept = await sweepLeftoverMonitors(host);
  if (swept.length > 0) log.info({ pids: swept }, 'ended address monitors left by an earlier agent');
  const sweptFiles = await sweepLeftoverFiles(host, config);
  if (sweptFiles.length > 0) log.info({ files: sweptFiles }, 'removed temp files left by an earlier agent');

  let client: ManagementClient | null = null;
  // source cloudstack: the agent's messages go to the report file and the journal instead of a websocket.
  let source: ReturnType<typeof createCloudStackSource> | null = null;
  const agent: Agent = new Agent({ host, config, log: logger.root, version: VERSION, send: (message) => source?.onAgentMessage(message) ?? client?.send(message) ?? false });
  if (config.source === 'cloudstack') source = createCloudStackSource(host, config, agent, logger.root);
  else if (config.management.urls.length > 0) client = await createClient(host, config, bootToken, logger.root, () => agent.hello());
  const management = trackManagement(client);
  const watchdogMs = readWatchdogMs();
  const context: ControlContext = { agent, config, bootKeys, logger, management, version: VERSION, startedAt, watchdogMs };
  const control = new ControlSocketServer(`${config.paths.runtimeDir}/${CONTROL_SOCKET_NAME}`, (request) => runControlCommand(request, context), logger.root.child({ component: 'control' }));
  const notifier = new SystemdNotifier(host);
  const monitor = new AddressMonitor(
    host,
    config.commands.ip,
    (event) => agent.onMonitorEvent(event),
    (code) => log.warn({ code }, 'ip monitor exited, restarting'),
  );

  // Listen first: a second agent must fail here, before it touches the host.
  await control.listen();
  // Ping from now on, not from READY=1: if systemd's watchdog runs during a
  // slow first reconcile, a healthy start must not be killed, a hung one must.
  const watchdog = watchdogMs === null ? null : startWatchdog(agent, notifier, watchdogMs, config.resyncSeconds, log);
  // Before the first reconcile: a restarted agent must be heard again well within keepalived's grace.
  const heartbeat = await startHeartbeat(host, fileLayoutOf(config).keepalived.heartbeat, agent, watchdogMs, config.resyncSeconds, log);
  monitor.start();
  await agent.start();
  await source?.start();
  client?.on('message', (message, sourceOf) => void agent.handleMessage(message, sourceOf));
  // The transport logs connects, disconnects and invalid frames itself.
  client?.on('connected', () => agent.onConnected());
  client?.start();
  // READY=1 only now: the persisted state is applied and `vr6ctl` can connect.
  let statusLine = renderStatusLine(readStatus(context));
  await notifier.notify({ READY: '1', STATUS: statusLine });
  log.info({ version: VERSION, configPath, bootParameterKeys: bootKeys, watchdogMs }, 'started');

  const resync = setInterval(() => agent.requestReconcile('resync'), config.resyncSeconds * 1000);
  const statusTimer = notifier.isEnabled
    ? setInterval(() => {
        const next = renderStatusLine(readStatus(context));
        if (next !== statusLine) void notifier.notify({ STATUS: (statusLine = next) });
      }, STATUS_REFRESH_MS)
    : null;

  const shutdown = async (signal: string) => {
    log.info({ signal }, 'stopping');
    // Timers first: STOPPING=1 must be the last message systemd gets.
    clearInterval(resync);
    if (statusTimer) clearInterval(statusTimer);
    if (watchdog) clearInterval(watchdog);
    await notifier.notify({ STOPPING: '1', STATUS: 'stopping' });
    monitor.stop();
    source?.stop();
    agent.stop();
    await control.close();
    await client?.stop();
    await agent.idle();
    // Beat until the last moment: a long reconcile in idle() must not use up keepalived's grace and fail the pair over.
    clearInterval(heartbeat);
    host.close();
    process.exit(0);
  };
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  process.once('SIGINT', () => void shutdown('SIGINT'));
  // `systemctl reload` means "reconcile now"; the config is read only at start.
  process.on('SIGHUP', () => {
    void source?.readNow();
    agent.requestReconcile('SIGHUP');
  });
}

/**
 * WATCHDOG=1 twice per interval, but only while the reconcile loop has run
 * recently: a stuck loop (a hung command, a deadlock) stops the pings and
 * systemd restarts the agent.
 */
function startWatchdog(agent: Agent, notifier: SystemdNotifier, watchdogMs: number, resyncSeconds: number, log: Logger): NodeJS.Timeout {
  let isStalled = false;
  return setInterval(() => {
    const isHealthy = isLoopHealthy(performance.now(), agent.lastLoopMonotonicMs, watchdogMs, resyncSeconds);
    if (isHealthy) void notifier.notify({ WATCHDOG: '1' });
    else if (!isStalled) log.error({ lastLoopAt: new Date(agent.lastLoopAt).toISOString() }, 'reconcile loop is stalled, withholding the watchdog ping');
    if (isHealthy && isStalled) log.info('reconcile loop recovered');
    isStalled = !isHealthy;
  }, watchdogMs / 2);
}

function trackManagement(client: ManagementClient | null): ManagementLink {
  let url: string | null = null;
  let lastDisconnect: string | null = null;
  client?.on('connected', (connectedUrl) => void (url = connectedUrl));
  client?.on('disconnected', (disconnect) => {
    url = disconnect.url;
    lastDisconnect = `${disconnect.kind}${disconnect.detail ? `: ${disconnect.detail}` : ''}`;
  });
  return {
    isConfigured: client !== null,
    isConnected: () => client?.isConnected ?? false,
    url: () => url,
    lastDisconnect: () => lastDisconnect,
  };
}

async function createClient(
  host: SystemHost,
  config: AgentConfig,
  bootToken: string | undefined,
  log: Logger,
  hello: () => ReturnType<Agent['hello']>,
): Promise<ManagementClient> {
  const m = config.management;
  // The boot parameter wins: the management server sets it per VR.
  const token = bootToken ?? (m.tokenFile ? (await host.readFile(m.tokenFile))?.trim() : undefined);
  // A configured file that is missing stops the agent: falling back to the system
  // trust store, or dialling without the client certificate, would fail open.
  const ca = m.caFile ? await readConfiguredFile(host, 'management.caFile', m.caFile) : undefined;
  const clientCertificate =
    m.certFile && m.keyFile
      ? { cert: await readConfiguredFile(host, 'management.certFile', m.certFile), key: await readConfiguredFile(host, 'management.keyFile', m.keyFile) }
      : undefined;
  return new ManagementClient({
    urls: m.urls,
    ...(token ? { token } : {}),
    ...(ca ? { ca } : {}),
    ...(clientCertificate ? { clientCertificate } : {}),
    heartbeatMs: m.heartbeatSeconds * 1000,
    maxMessageBytes: m.maxMessageBytes,
    backoffInitialMs: m.backoffInitialSeconds * 1000,
    backoffMaxMs: m.backoffMaxSeconds * 1000,
    hello,
    logger: log,
  });
}

/** The text of a file the config names; throws (the agent stops) when it does not exist. */
async function readConfiguredFile(host: SystemHost, key: string, path: string): Promise<string> {
  const text = await host.readFile(path);
  if (text === null) throw new Error(`${key}: ${path} does not exist`);
  return text;
}

main().catch((error: unknown) => {
  process.stderr.write(`vr6-agent: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
