import { watch, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { DATABAG_NAMES, databagFile, parseDatabagTexts, type DatabagName } from '../cloudstack/databags.js';
import { digestSpec, importCloudStack, type DesiredSpec } from '../cloudstack/import.js';
import type { Host } from '../host/host.js';
import type { CloudStackSourceConfig } from '../schema/agent-config.js';
import type { AgentMessage, ServerMessage } from '../schema/protocol.js';
import type { CloudStackReporter } from './cloudstack-report.js';

/**
 * The second source of desired states: CloudStack's merged databags on the
 * VR (docs/cloudstack.md). It reads them on every file event and every
 * poll, and hands the whole desired state they give to the agent as a
 * push would, with the next generation; it never asks what changed, so a
 * missed event costs one poll. CloudStack's merge.py rewrites a databag in
 * place, so a read may catch one half-written: a text that does not parse
 * is read again shortly after, and a changed set of texts is believed only
 * when a second read `settleMs` later agrees. Until then, and after a
 * refusal, the agent keeps the last good state.
 */

/** What the source needs of the agent. */
export interface DesiredSink {
  handleMessage(message: ServerMessage): Promise<void>;
  snapshot(): { readonly accepted: { readonly generation: number; readonly spec: unknown } | null };
}

/** Reads the databags and feeds the agent. */
export class CloudStackSource {
  private timer: NodeJS.Timeout | null = null;
  private poll: NodeJS.Timeout | null = null;
  private watcher: FSWatcher | null = null;
  private reading: Promise<void> = Promise.resolve();
  /** The texts last read, when a change waits for a second read to agree. */
  private candidate: string | null = null;
  /** The texts last acted on: the same texts give the same state, so they are not translated again. */
  private settled: string | null = null;
  private handedDigest: string | null = null;
  private syntaxRetries = 0;

  constructor(
    private readonly host: Host,
    private readonly config: CloudStackSourceConfig,
    private readonly sink: DesiredSink,
    private readonly reporter: CloudStackReporter,
    private readonly log: Logger,
  ) {}

  /** The file each databag is read from. */
  pathOf(name: DatabagName): string {
    return this.config.files[name] ?? join(this.config.databagDir, databagFile(name));
  }

  /** Reads now, then on every file event in the directory and every poll. */
  start(): Promise<void> {
    this.poll = setInterval(() => void this.readNow(), this.config.pollSeconds * 1000);
    this.poll.unref();
    try {
      this.watcher = watch(this.config.databagDir, () => this.schedule(0));
      this.watcher.on('error', () => this.closeWatcher());
    } catch {
      // No directory yet (CloudStack makes it with its first databag): the poll finds it.
      this.watcher = null;
    }
    return this.readNow();
  }

  /** Stops reading; the agent keeps what it has. */
  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    if (this.poll) clearInterval(this.poll);
    this.timer = null;
    this.poll = null;
    this.closeWatcher();
  }

  /** The agent's messages, which a websocket would have carried to the management server. */
  onAgentMessage(message: AgentMessage): boolean {
    if (message.type === 'hello') return true;
    void this.reporter.onMessage(message);
    return true;
  }

  /** One read of every databag, after any read in flight. */
  readNow(): Promise<void> {
    this.reading = this.reading.then(() => this.readOnce()).catch((error: unknown) => {
      this.log.error({ err: error }, 'reading the cloudstack databags failed');
    });
    return this.reading;
  }

  private schedule(delayMs: number): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.readNow();
    }, delayMs);
  }

  private closeWatcher(): void {
    this.watcher?.close();
    this.watcher = null;
  }

  private async readOnce(): Promise<void> {
    const texts = Object.fromEntries(await Promise.all(DATABAG_NAMES.map(async (name) => [name, await this.host.readFile(this.pathOf(name))] as const)));
    const key = JSON.stringify(texts);
    if (key === this.settled) return;
    const parsed = parseDatabagTexts(texts);
    if (!parsed.ok) {
      // Caught mid-write, most likely: read again soon, and report only a text that stays broken.
      if (this.syntaxRetries++ < this.config.retries) return this.schedule(this.config.retryMs);
      this.syntaxRetries = 0;
      this.settled = key;
      return this.reporter.refused(parsed.errors);
    }
    this.syntaxRetries = 0;
    if (key !== this.candidate && this.config.settleMs > 0) {
      this.candidate = key;
      return this.schedule(this.config.settleMs);
    }
    this.candidate = null;
    this.settled = key;
    const imported = importCloudStack(parsed.value, { pair: this.config.pair });
    if (!imported.ok) return this.reporter.refused(imported.errors);
    await this.hand(imported.value.spec);
  }

  private async hand(spec: DesiredSpec): Promise<void> {
    const digest = digestSpec(spec);
    if (digest === this.handedDigest) return this.reporter.read(digest, null);
    const accepted = this.sink.snapshot().accepted;
    this.handedDigest = digest;
    // At start the persisted state may be these very databags: the agent already applies it.
    if (accepted !== null && digestSpec(accepted.spec as DesiredSpec) === digest) {
      await this.reporter.read(digest, null);
      return this.reporter.alreadyAccepted(accepted.generation, digest);
    }
    const generation = (accepted?.generation ?? 0) + 1;
    this.log.info({ generation, specDigest: digest }, 'cloudstack databags changed');
    await this.reporter.read(digest, generation);
    await this.sink.handleMessage({ type: 'desired', generation, spec });
  }
}
