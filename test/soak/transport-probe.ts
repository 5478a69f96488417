import pino from 'pino';
import { Agent } from '../../src/daemon/agent.js';
import { MemoryHost } from '../support/memory-host.js';
import { ManagementClient } from '../../src/transport/management-client.js';
import { agentConfigIn } from '../support/agent-config.js';

/**
 * The agent's receiving end in a process of its own, so that its memory can
 * be measured: the real ManagementClient feeding Agent.handleMessage on the
 * in-memory host. Bundled and run on Node 18 by hostile-input.soak.ts.
 *
 *   node probe.cjs <ws-url> <maxMessageBytes>
 *
 * Prints one JSON line per event; on "report" (stdin) prints its memory
 * figures (bytes) and exits.
 */
const [url = '', maxText = ''] = process.argv.slice(2);
const emit = (event: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(event)}\n`);

const memory = { baselineRss: 0, baselineHeap: 0, peakHeap: 0, peakRss: 0 };
function sample(): void {
  const usage = process.memoryUsage();
  memory.peakHeap = Math.max(memory.peakHeap, usage.heapUsed);
  memory.peakRss = Math.max(memory.peakRss, usage.rss);
}
setInterval(sample, 2).unref();

const host = new MemoryHost(['eth1', 'eth2', 'eth3']);
const log = pino({ level: 'error' }, pino.destination(2));
let client: ManagementClient | null = null;
const agent = new Agent({ host, config: agentConfigIn('/vr'), log, version: 'probe', send: (message) => client?.send(message) ?? false });
client = new ManagementClient({
  urls: [url],
  heartbeatMs: 10_000,
  maxMessageBytes: Number(maxText),
  backoffInitialMs: 20,
  backoffMaxMs: 100,
  hello: () => agent.hello(),
});
client.on('message', (message, sourceOf) => {
  sample();
  void agent.handleMessage(message, sourceOf).then(sample);
});
client.on('invalid', (errors) => emit({ event: 'invalid', errors: errors.map((e) => ({ path: e.path, message: e.message.slice(0, 200) })) }));
client.on('disconnected', (d) => emit({ event: 'disconnected', kind: d.kind, code: d.code }));
client.on('connected', () => agent.onConnected());

process.stdin.setEncoding('utf8');
process.stdin.on('data', (text: string) => {
  if (!text.includes('report')) return;
  sample();
  emit({ event: 'report', ...memory, maxRssBytes: process.resourceUsage().maxRSS * 1024 });
  void client?.stop().then(() => process.exit(0));
});

void agent.start().then(() => {
  global.gc?.();
  sample();
  const usage = process.memoryUsage();
  memory.baselineRss = usage.rss;
  memory.baselineHeap = usage.heapUsed;
  emit({ event: 'ready' });
  client?.start();
});
