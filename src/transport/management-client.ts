import WebSocket from 'ws';
import type { Logger } from 'pino';
import type { JsonSourceOf } from '../schema/desired-state-parser.js';
import { ServerMessage, type AgentMessage, type HelloMessage } from '../schema/protocol.js';
import { parseWith, type FieldError } from '../schema/validation.js';
import { EACH, RepeatingJsonParser, type JsonArrayPath, type ParsedJson } from './repeating-json.js';

/**
 * The agent's end of management protocol v1 (docs/protocol.md): dials the
 * management server, says hello, keeps the socket alive with ws pings and
 * hands every valid server message to its listeners. It knows frames and
 * protocol messages only; what a message means is the daemon's business.
 */

/**
 * Capped exponential backoff with full jitter: a delay drawn uniformly from
 * [0, min(maxMs, initialMs × 2^attempt)). `attempt` counts from 0; `random`
 * returns a number in [0, 1). Pure; never returns NaN or a negative number.
 */
export function computeBackoffMs(attempt: number, initialMs: number, maxMs: number, random: () => number): number {
  const step = Number.isNaN(attempt) ? 0 : Math.max(0, Math.floor(attempt));
  const floorMs = Math.max(0, initialMs);
  // 2^53 overflows every useful cap; stopping there keeps 0 × Infinity (NaN) out.
  const ceilingMs = Math.max(0, Math.min(maxMs, floorMs * 2 ** Math.min(step, 53)));
  const draw = Math.min(Math.max(random(), 0), 1);
  return Math.floor(draw * ceilingMs);
}

/** How the client is told to connect. Durations are milliseconds. */
export interface ManagementClientOptions {
  /** ws:// or wss:// URLs, tried in turn; the next one is used after a failed attempt. */
  readonly urls: readonly string[];
  /** Sent as `Authorization: Bearer <token>`; never logged. */
  readonly token?: string;
  /** PEM text of the CA(s) that sign the server's certificate; replaces the system store. */
  readonly ca?: string;
  /** PEM client certificate and its key, for servers that require mutual TLS; the key is never logged. */
  readonly clientCertificate?: { readonly cert: string; readonly key: string };
  /** A ws ping is sent this often; a peer silent for two intervals is dropped. */
  readonly heartbeatMs: number;
  /** Largest frame accepted; a larger one closes the connection (1009). */
  readonly maxMessageBytes: number;
  readonly backoffInitialMs: number;
  readonly backoffMaxMs: number;
  /** Called on every connect; its result is the first frame sent. */
  readonly hello: () => HelloMessage;
  readonly logger?: Logger;
  /** For tests: the jitter source, default Math.random. */
  readonly random?: () => number;
}

/** Why an attempt or a connection ended. */
export type DisconnectKind = 'closed' | 'refused' | 'error' | 'heartbeat-timeout' | 'message-too-large' | 'stopped';

/** Reported once at the end of every attempt, whether or not it got connected. */
export interface Disconnect {
  readonly url: string;
  readonly kind: DisconnectKind;
  /** Close reason, HTTP status line or error message; never contains the token. */
  readonly detail: string;
  /** The websocket close code, or the HTTP status when kind is 'refused'. */
  readonly code: number | null;
  readonly wasConnected: boolean;
  /** Delay before the next attempt; null after stop(). */
  readonly retryInMs: number | null;
}

/**
 * The events of a ManagementClient and their arguments. A message comes with
 * the JSON texts of its spec's ACL lists and routed prefixes, for parseDesiredState's options.
 */
export interface ManagementClientEvents {
  message: [message: ServerMessage, sourceOf: JsonSourceOf];
  connected: [url: string];
  disconnected: [disconnect: Disconnect];
  invalid: [errors: FieldError[]];
}

type Listener<E extends keyof ManagementClientEvents> = (...args: ManagementClientEvents[E]) => void;

interface Attempt {
  readonly url: string;
  readonly ws: WebSocket | null;
  isConnected: boolean;
  isStable: boolean;
  failure: { kind: DisconnectKind; detail: string; code: number | null } | null;
  pingTimer: NodeJS.Timeout | null;
  silenceTimer: NodeJS.Timeout | null;
}

const STOP_GRACE_MS = 1000;

/**
 * One long-lived connection to the management server, redialled forever
 * until stop(). Never throws on network, DNS, TLS or protocol trouble: each
 * ends the attempt, is reported as `disconnected` and retried after backoff.
 * A listener that throws is logged and does not break the connection.
 */
export class ManagementClient {
  private readonly options: ManagementClientOptions;
  private readonly log: Logger | undefined;
  private readonly listeners: { [E in keyof ManagementClientEvents]: Set<Listener<E>> } = {
    message: new Set(),
    connected: new Set(),
    disconnected: new Set(),
    invalid: new Set(),
  };
  private current: Attempt | null = null;
  /** Parses the ACL lists and routed prefixes a push repeats from the last frame only once. */
  private readonly frameParser = new RepeatingJsonParser(REPEATED_ARRAYS);
  private retryTimer: NodeJS.Timeout | null = null;
  private urlIndex = 0;
  private failedAttempts = 0;
  private isRunning = false;
  private stopWaiters: (() => void)[] = [];

  constructor(options: ManagementClientOptions) {
    if (options.urls.length === 0) throw new RangeError('ManagementClient needs at least one url');
    this.options = options;
    this.log = options.logger?.child({ component: 'transport' });
  }

  /** True while a connection is open and its hello has been sent. */
  get isConnected(): boolean {
    return this.current?.isConnected === true && this.current.ws?.readyState === WebSocket.OPEN;
  }

  /** Adds a listener; listeners run synchronously, in the order added. */
  on<E extends keyof ManagementClientEvents>(event: E, listener: Listener<E>): this {
    this.listeners[event].add(listener);
    return this;
  }

  /** Removes a listener added with on(). */
  off<E extends keyof ManagementClientEvents>(event: E, listener: Listener<E>): this {
    this.listeners[event].delete(listener);
    return this;
  }

  /** Starts dialling the first URL now; does nothing if running. Restart only after stop() has resolved. */
  start(): void {
    if (this.isRunning) return;
    this.isRunning = true;
    if (this.options.token !== undefined && this.options.urls.some((url) => url.startsWith('ws:'))) {
      this.log?.warn({}, 'bearer token will be sent over unencrypted ws://');
    }
    this.dial();
  }

  /** Closes the connection (1001) and stops redialling; resolves once the socket is gone. */
  stop(): Promise<void> {
    this.isRunning = false;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    const attempt = this.current;
    if (!attempt?.ws) return Promise.resolve();
    const done = new Promise<void>((resolve) => this.stopWaiters.push(resolve));
    const ws = attempt.ws;
    if (ws.readyState === WebSocket.OPEN) {
      ws.close(1001, 'agent stopping');
      setTimeout(() => ws.terminate(), STOP_GRACE_MS).unref();
    } else {
      ws.terminate();
    }
    return done;
  }

  /** Sends one message; false (and nothing sent) when not connected. */
  send(message: AgentMessage): boolean {
    const attempt = this.current;
    if (!this.isConnected || !attempt?.ws) return false;
    attempt.ws.send(JSON.stringify(message), (error) => {
      if (error) this.log?.warn({ err: error.message, type: message.type }, 'send failed');
    });
    return true;
  }

  private dial(): void {
    const url = this.options.urls[this.urlIndex % this.options.urls.length] ?? '';
    let ws: WebSocket;
    try {
      ws = new WebSocket(url, {
        headers: this.options.token === undefined ? {} : { Authorization: `Bearer ${this.options.token}` },
        ...(this.options.ca === undefined ? {} : { ca: this.options.ca }),
        ...(this.options.clientCertificate === undefined ? {} : { cert: this.options.clientCertificate.cert, key: this.options.clientCertificate.key }),
        maxPayload: this.options.maxMessageBytes,
        // Compression would let a small frame inflate past any budget; specs are small.
        perMessageDeflate: false,
        followRedirects: false,
        handshakeTimeout: Math.max(2 * this.options.heartbeatMs, 1000),
      });
    } catch (error) {
      // A malformed URL throws here instead of emitting 'error'.
      const attempt = this.newAttempt(url, null);
      attempt.failure = { kind: 'error', detail: errorMessage(error), code: null };
      this.finish(attempt, null);
      return;
    }
    const attempt = this.newAttempt(url, ws);
    this.log?.debug({ url: redactUrl(url) }, 'dialling');
    ws.on('open', () => this.handleOpen(attempt));
    ws.on('message', (data, isBinary) => this.handleFrame(attempt, data, isBinary));
    ws.on('ping', () => this.touch(attempt));
    ws.on('pong', () => {
      this.touch(attempt);
      this.markStable(attempt);
    });
    ws.on('error', (error) => this.recordError(attempt, error));
    ws.on('close', (code, reason) => this.finish(attempt, { code, reason: reason.toString('utf8') }));
  }

  private newAttempt(url: string, ws: WebSocket | null): Attempt {
    const attempt: Attempt = { url, ws, isConnected: false, isStable: false, failure: null, pingTimer: null, silenceTimer: null };
    this.current = attempt;
    return attempt;
  }

  private handleOpen(attempt: Attempt): void {
    const ws = attempt.ws;
    if (!ws || this.current !== attempt) return;
    const heartbeatMs = this.options.heartbeatMs;
    attempt.pingTimer = setInterval(() => {
      if (ws.readyState === WebSocket.OPEN) ws.ping();
    }, heartbeatMs);
    attempt.silenceTimer = setTimeout(() => {
      attempt.failure ??= { kind: 'heartbeat-timeout', detail: `no frame for ${2 * heartbeatMs} ms`, code: null };
      ws.terminate();
    }, 2 * heartbeatMs);
    let hello: HelloMessage;
    try {
      hello = this.options.hello();
    } catch (error) {
      attempt.failure = { kind: 'error', detail: `hello() threw: ${errorMessage(error)}`, code: null };
      ws.terminate();
      return;
    }
    ws.send(JSON.stringify(hello));
    attempt.isConnected = true;
    this.log?.info({ url: redactUrl(attempt.url) }, 'connected');
    this.emit('connected', attempt.url);
  }

  private handleFrame(attempt: Attempt, data: WebSocket.RawData, isBinary: boolean): void {
    if (this.current !== attempt) return;
    this.touch(attempt);
    const parsing = performance.now();
    const parsed = parseServerFrame(data, isBinary, this.frameParser);
    // To a tenth of a ms, for the benchmarks that read the log (bench/routed.bench.ts).
    this.log?.debug({ parseMs: Math.round((performance.now() - parsing) * 10) / 10 }, 'frame parsed');
    if (!parsed.ok) {
      this.log?.warn({ errors: parsed.errors }, 'invalid server frame, ignoring');
      this.emit('invalid', parsed.errors);
      return;
    }
    this.markStable(attempt);
    this.emit('message', parsed.value, parsed.sourceOf);
  }

  private touch(attempt: Attempt): void {
    attempt.silenceTimer?.refresh();
  }

  /** A connection that answered a ping or sent a valid message has proven itself: backoff starts over. */
  private markStable(attempt: Attempt): void {
    if (attempt.isStable) return;
    attempt.isStable = true;
    this.failedAttempts = 0;
  }

  private recordError(attempt: Attempt, error: Error & { code?: string }): void {
    if (attempt.failure) return;
    const refused = /^Unexpected server response: (\d+)/.exec(error.message);
    if (refused) attempt.failure = { kind: 'refused', detail: error.message, code: Number(refused[1]) };
    else if (error.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') {
      attempt.failure = { kind: 'message-too-large', detail: error.message, code: 1009 };
    } else attempt.failure = { kind: 'error', detail: error.code ? `${error.code}: ${error.message}` : error.message, code: null };
  }

  private finish(attempt: Attempt, closed: { code: number; reason: string } | null): void {
    if (this.current !== attempt) return;
    this.current = null;
    if (attempt.pingTimer) clearInterval(attempt.pingTimer);
    if (attempt.silenceTimer) clearTimeout(attempt.silenceTimer);
    const failure = attempt.failure ?? { kind: 'closed' as const, detail: closed?.reason ?? '', code: closed?.code ?? null };
    const kind: DisconnectKind = this.isRunning ? failure.kind : 'stopped';
    let retryInMs: number | null = null;
    if (this.isRunning) {
      // A proven server gets the first retry; a failing one passes the turn to the next URL.
      if (!attempt.isStable) this.urlIndex = (this.urlIndex + 1) % this.options.urls.length;
      const random = this.options.random ?? Math.random;
      retryInMs = computeBackoffMs(this.failedAttempts++, this.options.backoffInitialMs, this.options.backoffMaxMs, random);
      this.retryTimer = setTimeout(() => {
        this.retryTimer = null;
        if (this.isRunning) this.dial();
      }, retryInMs);
    }
    const disconnect: Disconnect = {
      url: attempt.url,
      kind,
      detail: failure.detail,
      code: failure.code,
      wasConnected: attempt.isConnected,
      retryInMs,
    };
    const logData = { ...disconnect, url: redactUrl(attempt.url) };
    if (attempt.isConnected) this.log?.warn(logData, 'disconnected');
    else this.log?.debug(logData, 'connect attempt failed');
    this.emit('disconnected', disconnect);
    if (!this.isRunning) this.stopWaiters.splice(0).forEach((resolve) => resolve());
  }

  private emit<E extends keyof ManagementClientEvents>(event: E, ...args: ManagementClientEvents[E]): void {
    for (const listener of [...this.listeners[event]]) {
      try {
        listener(...args);
      } catch (error) {
        this.log?.error({ event, err: errorMessage(error) }, 'listener threw, ignoring');
      }
    }
  }
}

/**
 * The arrays of a desired message whose elements the frame parser takes from
 * the last frame when they repeat it: the ACL lists and each guest network's
 * routed prefixes, the parts parseDesiredState keys by their text.
 */
export const REPEATED_ARRAYS: readonly JsonArrayPath[] = [
  ['spec', 'aclLists'],
  ['spec', 'guestNetworks', EACH, 'routedPrefixes'],
];

type ParsedFrame = { ok: true; value: ServerMessage; sourceOf: JsonSourceOf } | { ok: false; errors: FieldError[] };

/**
 * One received frame as a server message, with the texts of its ACL lists
 * and routed prefixes (RepeatingJsonParser's sourceOf), or why it is not one. Never throws:
 * binary frames, text that is not JSON (however deeply nested) and JSON that
 * is not a ServerMessage all come back as errors with a path.
 */
export function parseServerFrame(data: WebSocket.RawData, isBinary: boolean, parser = new RepeatingJsonParser(REPEATED_ARRAYS)): ParsedFrame {
  if (isBinary) return { ok: false, errors: [{ path: '$', message: 'binary frames are not part of the protocol' }] };
  const buffer = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
  let json: ParsedJson;
  try {
    json = parser.parse(buffer);
  } catch (error) {
    return { ok: false, errors: [{ path: '$', message: `not JSON: ${errorMessage(error)}` }] };
  }
  const message = parseWith(ServerMessage, json.value);
  return message.ok ? { ...message, sourceOf: json.sourceOf } : message;
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.username = '';
    parsed.password = '';
    return parsed.toString();
  } catch {
    return '<unparseable url>';
  }
}
