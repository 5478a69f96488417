import type { Logger } from 'pino';
import type { Host } from '../host/host.js';
import type { AckMessage, AppliedMessage, ObservedMessage } from '../schema/protocol.js';
import type { FieldError } from '../schema/validation.js';

/**
 * The cloudstack source's report: what the agent made of the databags, for
 * a script on the VR (docs/cloudstack.md#the-report-file). Every change is
 * written whole to one JSON file, atomically, so a reader never sees half
 * a report; the same facts go to the journal.
 */

/** The report file's content, version 1. */
export interface CloudStackReport {
  readonly reportVersion: 1;
  readonly source: 'cloudstack';
  readonly databagDir: string;
  readonly updatedAt: string;
  /** The newest databags read: the digest of the spec they give, or the errors that refused them. */
  readonly lastRead: { readonly at: string; readonly specDigest: string | null; readonly errors: readonly FieldError[] } | null;
  /** The spec the agent accepted last, by digest, and its generation. */
  readonly accepted: { readonly generation: number; readonly specDigest: string } | null;
  /** The agent's answer to the last spec handed to it. */
  readonly ack: AckMessage | null;
  /** The last reconcile's result. */
  readonly applied: AppliedMessage | null;
  /** The last observation: the public address, the upstream routes, usage, warnings. */
  readonly observed: ObservedMessage | null;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** Keeps the report and writes it on every change; a write that fails is logged and retried with the next change. */
export class CloudStackReporter {
  private readonly report: Mutable<CloudStackReport>;
  private pendingDigest: { generation: number; specDigest: string } | null = null;
  private writing: Promise<void> = Promise.resolve();

  constructor(
    private readonly host: Host,
    private readonly path: string,
    databagDir: string,
    private readonly log: Logger,
  ) {
    this.report = { reportVersion: 1, source: 'cloudstack', databagDir, updatedAt: new Date().toISOString(), lastRead: null, accepted: null, ack: null, applied: null, observed: null };
  }

  /** The current report. */
  current(): CloudStackReport {
    return this.report;
  }

  /** The databags were read and refused: the last good state stays. */
  refused(errors: readonly FieldError[]): Promise<void> {
    this.log.warn({ errors }, 'cloudstack databags refused, keeping the last good state');
    this.report.lastRead = { at: new Date().toISOString(), specDigest: null, errors };
    return this.write();
  }

  /** The databags gave a spec, which is handed to the agent as `generation` (null: the agent has it already). */
  read(specDigest: string, generation: number | null): Promise<void> {
    this.report.lastRead = { at: new Date().toISOString(), specDigest, errors: [] };
    this.pendingDigest = generation === null ? null : { generation, specDigest };
    return this.write();
  }

  /** The agent already holds this spec (restored at start): it counts as accepted. */
  alreadyAccepted(generation: number, specDigest: string): Promise<void> {
    this.report.accepted = { generation, specDigest };
    return this.write();
  }

  /** An agent message, as the websocket would have carried it. */
  onMessage(message: AckMessage | AppliedMessage | ObservedMessage): Promise<void> {
    if (message.type === 'ack') {
      this.report.ack = message;
      if (message.status === 'accepted' && this.pendingDigest?.generation === message.generation) this.report.accepted = this.pendingDigest;
      if (message.status === 'rejected') this.log.warn({ generation: message.generation, errors: message.errors }, 'cloudstack databags rejected by the agent');
    } else if (message.type === 'applied') {
      this.report.applied = message;
      if (!message.ok) this.log.warn({ generation: message.generation, errors: message.errors }, 'cloudstack databags not applied');
    } else {
      this.report.observed = message;
    }
    return this.write();
  }

  private write(): Promise<void> {
    this.report.updatedAt = new Date().toISOString();
    const text = `${JSON.stringify(this.report, null, 2)}\n`;
    this.writing = this.writing
      .then(() => this.host.writeFileAtomic(this.path, text, 0o644))
      .catch((error: unknown) => this.log.error({ err: error, path: this.path }, 'cannot write the cloudstack report'));
    return this.writing;
  }
}
