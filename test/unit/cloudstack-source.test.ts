import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CloudStackReporter, type CloudStackReport } from '../../src/daemon/cloudstack-report.js';
import { CloudStackSource, type DesiredSink } from '../../src/daemon/cloudstack-source.js';
import { SystemHost } from '../../src/host/system-host.js';
import { CloudStackSourceConfig } from '../../src/schema/agent-config.js';
import type { ServerMessage } from '../../src/schema/protocol.js';
import { waitFor } from '../lab/netns.js';
import { readFixture, renderDatabag } from '../support/cloudstack-fixtures.js';

/** An agent stand-in: accepts every desired state and acknowledges it, as the real one does through `send`. */
class AcceptingSink implements DesiredSink {
  readonly handed: Array<Extract<ServerMessage, { type: 'desired' }>> = [];
  accepted: { generation: number; spec: unknown } | null = null;
  source: CloudStackSource | null = null;
  async handleMessage(message: ServerMessage): Promise<void> {
    if (message.type !== 'desired') return;
    this.handed.push(message);
    this.accepted = { generation: message.generation, spec: message.spec };
    this.source?.onAgentMessage({ type: 'ack', generation: message.generation, status: 'accepted', errors: [] });
  }
  snapshot() {
    return { accepted: this.accepted };
  }
}

describe('the cloudstack source', () => {
  let dir: string;
  let sink: AcceptingSink;
  let source: CloudStackSource;
  const host = new SystemHost();
  const reportPath = () => join(dir, 'report.json');
  const report = (): CloudStackReport => JSON.parse(readFileSync(reportPath(), 'utf8'));
  const writeBags = (bags: Record<string, unknown>) => {
    for (const [name, bag] of Object.entries(bags)) writeFileSync(join(dir, 'bags', `${name}.json`), renderDatabag(bag));
  };

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'vr6-cs-source-'));
    rmSync(join(dir, 'bags'), { recursive: true, force: true });
    mkdirSync(join(dir, 'bags'));
    sink = new AcceptingSink();
    const config = CloudStackSourceConfig.parse({ databagDir: join(dir, 'bags'), reportFile: reportPath(), pollSeconds: 0.2, settleMs: 50, retryMs: 20, retries: 5 });
    const log = pino({ level: 'silent' });
    source = new CloudStackSource(host, config, sink, new CloudStackReporter(host, reportPath(), config.databagDir, log), log);
    sink.source = source;
  });

  afterEach(() => {
    source.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('hands the state of the databags to the agent, and reports it accepted by digest', async () => {
    writeBags(readFixture('vpc'));
    await source.start();
    await waitFor(async () => sink.handed.length === 1 || undefined, { timeoutMs: 3000, what: 'the first state' });
    expect(sink.handed[0]).toMatchObject({ generation: 1, spec: { router: { id: 'r-55-VM', kind: 'vpc' } } });
    await waitFor(async () => report().accepted?.generation === 1 || undefined, { timeoutMs: 3000, what: 'the report' });
    expect(report().accepted!.specDigest).toBe(report().lastRead!.specDigest);
  });

  it('reads a databag caught half-written again, keeps the last good state meanwhile, and hands the finished one', async () => {
    const bags = readFixture('vpc');
    writeBags(bags);
    await source.start();
    await waitFor(async () => sink.handed.length === 1 || undefined, { timeoutMs: 3000, what: 'the first state' });
    // merge.py opens the file with 'w' and json.dump writes it in pieces: the agent may read the first piece.
    bags.guestnetwork.eth3[0].add = false;
    const full = renderDatabag(bags.guestnetwork);
    writeFileSync(join(dir, 'bags', 'guestnetwork.json'), full.slice(0, full.length / 2));
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(sink.handed).toHaveLength(1);
    writeFileSync(join(dir, 'bags', 'guestnetwork.json'), full);
    await waitFor(async () => sink.handed.length === 2 || undefined, { timeoutMs: 3000, what: 'the second state' });
    expect((sink.handed[1]!.spec as any).guestNetworks.map((n: any) => n.interface)).toEqual(['eth2']);
    expect(sink.handed[1]!.generation).toBe(2);
    expect(report().lastRead!.errors).toEqual([]);
  });

  it('reports a databag that stays broken or is refused, naming the file, and hands nothing', async () => {
    const bags = readFixture('vpc');
    writeBags(bags);
    await source.start();
    await waitFor(async () => sink.handed.length === 1 || undefined, { timeoutMs: 3000, what: 'the first state' });
    bags.networkacl.eth3.ingress_rules[0].cidr = '2001:db8::zz/64';
    writeBags(bags);
    await waitFor(async () => (report().lastRead?.errors.length ?? 0) > 0 || undefined, { timeoutMs: 3000, what: 'the refusal' });
    expect(report().lastRead!.errors[0]!.path).toBe('networkacl.json: $.eth3.ingress_rules[0].cidr');
    writeFileSync(join(dir, 'bags', 'ips.json'), '{"eth0": [');
    await waitFor(async () => report().lastRead?.errors[0]?.path === 'ips.json: $' || undefined, { timeoutMs: 3000, what: 'the syntax error' });
    expect(sink.handed).toHaveLength(1);
    expect(report().accepted?.generation).toBe(1);
  });

  it('does not hand again a state the agent already holds', async () => {
    const bags = readFixture('isolated');
    writeBags(bags);
    await source.start();
    await waitFor(async () => sink.handed.length === 1 || undefined, { timeoutMs: 3000, what: 'the first state' });
    // An IPv4-only change: new texts, the same IPv6 state.
    await waitFor(async () => report().accepted !== null || undefined, { timeoutMs: 3000, what: 'the report' });
    const firstRead = report().lastRead!.at;
    bags.cmdline.config.dns1 = '192.0.2.99';
    writeBags(bags);
    await waitFor(async () => report().lastRead!.at !== firstRead || undefined, { timeoutMs: 3000, what: 'the changed texts to be read' });
    expect(sink.handed).toHaveLength(1);
  });
});
