import { Buffer } from 'node:buffer';
import net from 'node:net';
import tls from 'node:tls';
import {
  ClosedError,
  ConnectionError,
  DEFAULT_MAX_PACKET_SIZE,
  encodePacketParts,
  type GearmanError,
  isGearmanError,
  type Packet,
  PacketDecoder,
  type PacketInit,
  type PacketType,
  ProtocolError,
  ServerError,
  TimeoutError,
} from '@gearmanode/protocol';
import pRetry from 'p-retry';
import { Queue } from './queue.js';

// A flush joins its frames into one buffer up to this many bytes; beyond, they go out as a
// corked writev, so that large payloads are never copied.
const JOIN_LIMIT = 64 * 1024;
// Plain sockets read into a slab of this size, starting a new one when less than MIN_READ is
// left, and straight into a packet's body while at least READ_IN_PLACE bytes of it are missing.
const SLAB_SIZE = 64 * 1024;
const MIN_READ = 16 * 1024;
const READ_IN_PLACE = 64 * 1024;

/** Where a job server listens: TCP `host:port`, or a Unix socket `path`. */
export type ServerAddress = { host: string; port: number } | { path: string };

/** How a connection tries again after losing its socket (passed to p-retry). */
export interface ReconnectOptions {
  /** Attempts after the first before giving up. @default Infinity */
  retries?: number;
  /** Delay before the first retry, in ms. @default 100 */
  minTimeout?: number;
  /** Longest delay between attempts, in ms. @default 5000 */
  maxTimeout?: number;
  /** Growth of the delay per attempt. @default 2 */
  factor?: number;
  /** Multiply each delay by a random factor from 1 to 2 (jitter). @default true */
  randomize?: boolean;
  /** Strategy hook: return false to give up after this failed attempt. */
  shouldRetry?: (context: { error: Error; attempt: number }) => boolean | Promise<boolean>;
}

/**
 * How connections to job servers behave: the options `createClient` and `createWorker` share and
 * pass to every connection they open.
 */
export interface ConnectionTuning {
  /**
   * Wrap the socket in TLS from the first byte. `true` verifies the server against Node's
   * default CAs; an object is passed to `tls.connect` (ca, cert, servername, …). There is no
   * fallback to plaintext. @default false
   */
  tls?: boolean | tls.ConnectionOptions;
  /** Give up on one connect attempt after this many ms. @default 5000 */
  connectTimeout?: number;
  /**
   * Deadline for every reply the server owes (a client's JOB_CREATED, STATUS_RES and ECHO_RES, a
   * worker's reply to GRAB), from when the request is written. gearmand answers some bad
   * requests with silence (protocol.md section 11, item 8); when a deadline passes the socket is
   * closed and opened again, since the reply order can no longer be trusted.
   * @default 10000
   */
  requestTimeout?: number;
  /**
   * Send ECHO_REQ after this many ms without incoming bytes, to detect a dead link. Its reply is
   * due within the same interval (at least 1 s, at most `requestTimeout`), so a dead link is
   * found within twice the interval. 0 disables. @default 15000
   */
  heartbeatInterval?: number;
  /** TCP keepalive. @default true */
  keepAlive?: boolean;
  /** TCP_NODELAY: without it small packets wait for Nagle's algorithm. @default true */
  noDelay?: boolean;
  /** Largest packet body sent or accepted, in bytes. @default 67108864 (64 MiB) */
  maxPacketSize?: number;
  /**
   * Reconnect with backoff after losing the socket; `false` closes that connection for good
   * instead (a client then uses its other servers, a worker drops that server). @default true
   */
  reconnect?: boolean | ReconnectOptions;
}

/** The `@default` of every `ConnectionTuning` option. */
export const TUNING_DEFAULTS = {
  tls: false,
  connectTimeout: 5000,
  requestTimeout: 10_000,
  heartbeatInterval: 15_000,
  keepAlive: true,
  noDelay: true,
  maxPacketSize: DEFAULT_MAX_PACKET_SIZE,
  reconnect: true,
} as const satisfies Required<ConnectionTuning>;

/** Options of one connection to one job server. */
export interface ConnectionOptions extends ConnectionTuning {
  address: ServerAddress;
  /** Send OPTION_REQ `exceptions` on every socket, so WORK_EXCEPTION reaches us. @default true */
  exceptions?: boolean;
  /** Accept admin text responses (for admin connections). @default false */
  text?: boolean;
  /** Packets written first on every new socket, e.g. a worker's CAN_DO and SET_CLIENT_ID. */
  setup?: () => readonly PacketInit[];
  /** Packets that answer no request: WORK_* for clients, NOOP for workers, JOB_NOT_FOUND. */
  onPacket?: (packet: Packet) => void;
  /** Lifecycle events; see `ConnectionEvent`. */
  onEvent?: (event: ConnectionEvent) => void;
}

/** What happened to a connection. */
export type ConnectionEvent =
  | { type: 'connect'; server: string; generation: number }
  | { type: 'disconnect'; server: string; error: Error | undefined }
  | { type: 'reconnecting'; server: string; attempt: number; error: Error }
  | { type: 'give-up'; server: string; error: Error };

/** `idle` (not yet connected), `connecting`, `ready`, `reconnecting` (between attempts), `closed`. */
export type ConnectionState = 'idle' | 'connecting' | 'ready' | 'reconnecting' | 'closed';

/** Receives the reply to one request. Must not throw. */
export interface ReplyHandler {
  /** The reply packet: one of the types the request expects. */
  onReply(packet: Packet): void;
  /** ServerError for an ERROR reply; ConnectionError, TimeoutError or ClosedError otherwise. */
  onError(error: GearmanError): void;
}

/** Receives an admin text response line by line. Must not throw. */
export interface TextReplyHandler {
  /** One line without its line ending; return true when it completes the response. */
  onLine(line: string): boolean;
  onError(error: GearmanError): void;
}

interface Pending {
  readonly type: PacketType | 'TEXT';
  readonly handler: ReplyHandler | TextReplyHandler;
  written: boolean;
  deadline: number;
}

// PROTOCOL section 4.1: which packets answer which request (ERROR answers any of them).
const REPLIES: Partial<Record<PacketType, ReadonlySet<PacketType>>> = (() => {
  const created = new Set<PacketType>(['JOB_CREATED']);
  const submits: PacketType[] = [
    'SUBMIT_JOB',
    'SUBMIT_JOB_BG',
    'SUBMIT_JOB_HIGH',
    'SUBMIT_JOB_HIGH_BG',
    'SUBMIT_JOB_LOW',
    'SUBMIT_JOB_LOW_BG',
    'SUBMIT_JOB_SCHED',
    'SUBMIT_JOB_EPOCH',
    'SUBMIT_REDUCE_JOB',
    'SUBMIT_REDUCE_JOB_BACKGROUND',
  ];
  return {
    ...Object.fromEntries(submits.map((type) => [type, created])),
    GET_STATUS: new Set(['STATUS_RES']),
    GET_STATUS_UNIQUE: new Set(['STATUS_RES_UNIQUE']),
    OPTION_REQ: new Set(['OPTION_RES']),
    ECHO_REQ: new Set(['ECHO_RES']),
    GRAB_JOB: new Set(['JOB_ASSIGN', 'NO_JOB']),
    GRAB_JOB_UNIQ: new Set(['JOB_ASSIGN_UNIQ', 'NO_JOB']),
    // PROTOCOL section 5.2: GRAB_JOB_ALL gets JOB_ASSIGN_UNIQ for jobs without a reducer.
    GRAB_JOB_ALL: new Set(['JOB_ASSIGN_ALL', 'JOB_ASSIGN_UNIQ', 'NO_JOB']),
  };
})();

const UNSOLICITED = new Set<PacketType>([
  'NOOP',
  'WORK_STATUS',
  'WORK_COMPLETE',
  'WORK_FAIL',
  'WORK_EXCEPTION',
  'WORK_DATA',
  'WORK_WARNING',
]);

// Certificate checks that fail once fail every time: retrying only hides the cause.
const PERMANENT_TLS_ERRORS: ReadonlySet<string> = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'CERT_SIGNATURE_FAILURE',
  'HOSTNAME_MISMATCH',
]);

/** Whether a failed attempt's cause is a refused server certificate. */
function isPermanent(error: Error): boolean {
  for (let e: unknown = error; e instanceof Error; e = e.cause) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== undefined && (PERMANENT_TLS_ERRORS.has(code) || code.startsWith('ERR_TLS_CERT'))) {
      return true;
    }
  }
  return false;
}

/** `host:port` or the socket path, for messages and events. */
export function formatAddress(address: ServerAddress): string {
  return 'path' in address ? address.path : `${address.host}:${address.port}`;
}

/**
 * One job server connection, shared by the client, the admin client and the worker: it owns
 * one socket at a time, feeds the decoder, batches writes per tick, matches replies to requests
 * strictly in order, and reconnects with backoff.
 *
 * Not part of the public API: sibling packages import it from `@gearmanode/client/internal`.
 */
export class Connection {
  readonly server: string;
  readonly #options: ConnectionOptions;
  readonly #requestTimeout: number;
  readonly #heartbeatInterval: number;
  readonly #fifo = new Queue<Pending>();
  #state: ConnectionState = 'idle';
  #socket: net.Socket | undefined;
  #decoder: PacketDecoder;
  #generation = 0;
  #outbox: Buffer[] = [];
  #outboxBytes = 0;
  #slab: Buffer = Buffer.alloc(0);
  #slabUsed = 0;
  #unwritten: Pending[] = [];
  #flushScheduled = false;
  #lastReceive = 0;
  #heartbeat: Pending | undefined;
  #timer: NodeJS.Timeout | undefined;
  #retryAbort = new AbortController();
  #readyWaiters: { resolve: () => void; reject: (error: Error) => void }[] = [];
  #closedResolve!: (cause: Error | undefined) => void;
  #drainWaiters: (() => void)[] = [];

  /** Resolves once the connection is closed for good, with the cause (never rejects). */
  readonly closed: Promise<Error | undefined>;

  constructor(options: ConnectionOptions) {
    this.#options = options;
    this.server = formatAddress(options.address);
    this.#requestTimeout = options.requestTimeout ?? TUNING_DEFAULTS.requestTimeout;
    this.#heartbeatInterval = options.heartbeatInterval ?? TUNING_DEFAULTS.heartbeatInterval;
    this.#decoder = this.#newDecoder();
    this.closed = new Promise((resolve) => {
      this.#closedResolve = resolve;
    });
  }

  get state(): ConnectionState {
    return this.#state;
  }

  /** Increases with every new socket; a job taken on one generation belongs to that socket. */
  get generation(): number {
    return this.#generation;
  }

  /** Requests written or queued that await a reply. */
  get pendingRequests(): number {
    return this.#fifo.size;
  }

  /** True while the socket's buffer is over its high-water mark: wait for `drained()`. */
  get needsDrain(): boolean {
    return this.#socket?.writableNeedDrain ?? false;
  }

  /**
   * Starts connecting if idle and resolves once ready. Rejects with the first attempt's error
   * when reconnecting is off, or with the last one when the connection gives up or closes.
   */
  connect(): Promise<void> {
    if (this.#state === 'ready') return Promise.resolve();
    if (this.#state === 'closed') return Promise.reject(new ClosedError('connection is closed'));
    const ready = new Promise<void>((resolve, reject) => {
      this.#readyWaiters.push({ resolve, reject });
    });
    if (this.#state === 'idle') void this.#connectLoop();
    return ready;
  }

  /** Resolves when the socket can take more writes. */
  drained(): Promise<void> {
    if (!this.needsDrain) return Promise.resolve();
    return new Promise((resolve) => this.#drainWaiters.push(resolve));
  }

  /**
   * Sends a packet that expects no reply (CAN_DO, WORK_*, …). Returns false, sending nothing,
   * when there is no live socket; packets are never carried over to a later socket.
   * @throws InvalidArgumentError when the packet cannot be encoded.
   */
  send(packet: PacketInit): boolean {
    const parts = this.#encode(packet);
    if (this.#state !== 'ready') return false;
    this.#enqueue(parts);
    return true;
  }

  /**
   * Sends a request whose reply goes to `handler`: the next reply-type packet, in order. An
   * idle connection starts connecting, and requests made while connecting are sent once ready.
   * @throws InvalidArgumentError when the packet cannot be encoded; ConnectionError
   *   (`maybeRan: false`) when the connection is between reconnect attempts; ClosedError after
   *   close. Nothing is queued when it throws.
   */
  request(packet: PacketInit, handler: ReplyHandler): void {
    const parts = this.#encode(packet);
    this.#admit();
    const pending: Pending = { type: packet.type, handler, written: false, deadline: 0 };
    this.#fifo.push(pending);
    this.#unwritten.push(pending);
    this.#enqueue(parts);
  }

  /** `request()` as a promise; ERROR replies reject with ServerError. */
  requestAsync(packet: PacketInit): Promise<Packet> {
    return new Promise((resolve, reject) => {
      this.request(packet, { onReply: resolve, onError: reject });
    });
  }

  /**
   * Sends an admin text command (with its `\r\n`) and hands the response lines to `handler`.
   * Requires the `text` option.
   */
  requestText(line: string, handler: TextReplyHandler): void {
    if (this.#options.text !== true) throw new Error('requestText needs the text option');
    this.#admit();
    const pending: Pending = { type: 'TEXT', handler, written: false, deadline: 0 };
    this.#fifo.push(pending);
    this.#unwritten.push(pending);
    this.#enqueue([Buffer.from(line, 'utf8')]);
  }

  /**
   * Closes the socket after writing what is queued; requests still awaiting a reply reject
   * with ClosedError. No reconnect follows. Idempotent.
   */
  async close(): Promise<void> {
    if (this.#state !== 'closed') {
      const socket = this.#socket;
      this.#flush();
      this.#shutdown(new ClosedError('connection closed'), undefined);
      if (socket !== undefined && !socket.destroyed) {
        const gone = new Promise<void>((resolve) => socket.once('close', () => resolve()));
        socket.end();
        const timer = setTimeout(() => socket.destroy(), 1000).unref();
        await gone;
        clearTimeout(timer);
      }
    }
    await this.closed;
  }

  /** Closes the socket now; everything pending rejects with ClosedError. Idempotent. */
  destroy(cause?: Error): void {
    if (this.#state === 'closed') return;
    const socket = this.#socket;
    this.#shutdown(new ClosedError('connection destroyed', { cause }), cause);
    socket?.destroy();
  }

  #encode(packet: PacketInit): Buffer[] {
    return encodePacketParts(packet, { maxPacketSize: this.#options.maxPacketSize });
  }

  #admit(): void {
    switch (this.#state) {
      case 'closed':
        throw new ClosedError('connection is closed');
      case 'reconnecting':
        throw new ConnectionError(`not connected to ${this.server}`, {
          maybeRan: false,
          server: this.server,
        });
      case 'idle':
        void this.#connectLoop();
        return;
      default:
        return;
    }
  }

  #enqueue(parts: Buffer[]): void {
    for (const part of parts) {
      this.#outbox.push(part);
      this.#outboxBytes += part.length;
    }
    if (!this.#flushScheduled && this.#state === 'ready') {
      this.#flushScheduled = true;
      queueMicrotask(this.#flushTask);
    }
  }

  readonly #flushTask = (): void => {
    this.#flushScheduled = false;
    this.#flush();
  };

  /** Writes everything queued in one corked batch and starts the reply deadlines. */
  #flush(): void {
    const socket = this.#socket;
    if (this.#state !== 'ready' || socket === undefined || this.#outbox.length === 0) return;
    const outbox = this.#outbox;
    const bytes = this.#outboxBytes;
    this.#outbox = [];
    this.#outboxBytes = 0;
    if (outbox.length === 1) {
      socket.write(outbox[0] as Buffer);
    } else if (bytes <= JOIN_LIMIT) {
      // Small frames: one copy into one buffer is cheaper than a corked writev of many.
      socket.write(Buffer.concat(outbox, bytes));
    } else {
      // Large payloads stay uncopied (encodePacketParts): one writev of the whole batch.
      socket.cork();
      for (const chunk of outbox) socket.write(chunk);
      socket.uncork();
    }
    const deadline = Date.now() + this.#requestTimeout;
    for (const pending of this.#unwritten) {
      pending.written = true;
      pending.deadline = deadline;
    }
    this.#unwritten = [];
  }

  async #connectLoop(): Promise<void> {
    this.#state = 'connecting';
    const reconnect = this.#options.reconnect ?? TUNING_DEFAULTS.reconnect;
    const retry: ReconnectOptions = typeof reconnect === 'object' ? reconnect : {};
    try {
      await pRetry(() => this.#open(), {
        retries: reconnect === false ? 0 : (retry.retries ?? Number.POSITIVE_INFINITY),
        minTimeout: retry.minTimeout ?? 100,
        maxTimeout: retry.maxTimeout ?? 5000,
        factor: retry.factor ?? 2,
        randomize: retry.randomize ?? true,
        signal: this.#retryAbort.signal,
        unref: true,
        onFailedAttempt: ({ error, attemptNumber, retriesLeft }) => {
          if (this.#isClosed()) return;
          this.#state = 'reconnecting';
          // Requests queued for this attempt can go elsewhere: they were never written.
          this.#rejectPending(error);
          if (retriesLeft > 0) {
            this.#emit({
              type: 'reconnecting',
              server: this.server,
              attempt: attemptNumber,
              error,
            });
          }
        },
        shouldRetry: async ({ error, attemptNumber }) => {
          if (this.#isClosed() || isPermanent(error)) return false;
          const hook = retry.shouldRetry;
          return hook === undefined ? true : hook({ error, attempt: attemptNumber });
        },
      });
    } catch (error) {
      if (this.#isClosed()) return;
      const cause = error instanceof Error ? error : new Error(String(error));
      this.#emit({ type: 'give-up', server: this.server, error: cause });
      this.#shutdown(
        new ConnectionError(
          `gave up connecting to ${this.server}: ${cause.message}`,
          { maybeRan: false, server: this.server },
          { cause },
        ),
        cause,
      );
    }
  }

  /**
   * One connect attempt: resolves once the socket is connected and the server has answered the
   * handshake. A TCP accept alone proves little (a proxy or a NAT that drops the link accepts
   * too), and requests queued meanwhile must stay unwritten, so that they can fail over with
   * `maybeRan: false` if the attempt fails. `connectTimeout` covers all of it.
   */
  #open(): Promise<void> {
    if (this.#state === 'closed') return Promise.reject(new ClosedError('connection is closed'));
    this.#state = 'connecting';
    return new Promise<void>((resolve, reject) => {
      const socket = this.#createSocket();
      const connectEvent = this.#options.tls ? 'secureConnect' : 'connect';
      let settled = false;
      const fail = (error: Error): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        socket.destroy();
        reject(this.#connectError(error));
      };
      const closedEarly = (): void => {
        fail(new Error('the server closed the connection during the handshake'));
      };
      const timer = setTimeout(() => {
        fail(new TimeoutError(`connecting to ${this.server} took over ${this.#connectTimeout} ms`));
      }, this.#connectTimeout);
      socket.once('error', fail);
      socket.once('close', closedEarly);
      socket.once(connectEvent, () => {
        if (this.#isClosed()) {
          fail(new ClosedError('connection is closed'));
          return;
        }
        this.#handshake(socket, fail, () => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          socket.off('error', fail);
          socket.off('close', closedEarly);
          this.#attach(socket);
          resolve();
        });
      });
    });
  }

  #connectError(error: Error): GearmanError {
    if (isGearmanError(error)) return error;
    // A plaintext server answering a TLS hello just drops the socket; say what it likely means.
    const hint =
      this.#options.tls && (error as NodeJS.ErrnoException).code === 'ECONNRESET'
        ? ' (is the server speaking TLS?)'
        : '';
    return new ConnectionError(
      `cannot connect to ${this.server}: ${error.message}${hint}`,
      { maybeRan: false, server: this.server },
      { cause: error },
    );
  }

  /**
   * Writes the setup packets on a new socket and calls `ready` once the server answers the
   * first of them: OPTION_REQ `exceptions`, or ECHO_REQ when exceptions are off.
   */
  #handshake(socket: net.Socket, fail: (error: Error) => void, ready: () => void): void {
    this.#socket = socket;
    this.#generation++;
    this.#decoder = this.#newDecoder();
    this.#lastReceive = Date.now();
    // A plain socket hands its reads to #onRead (the `onread` option); TLS emits 'data'.
    if (this.#options.tls) socket.on('data', this.#onData);
    const probe: PacketInit =
      (this.#options.exceptions ?? true)
        ? { type: 'OPTION_REQ', option: 'exceptions' }
        : { type: 'ECHO_REQ', payload: '' };
    const handler: ReplyHandler = {
      onReply: ready,
      // An ERROR is an answer too: an old server may not know OPTION_REQ, and WORK_EXCEPTION
      // then arrives as WORK_FAIL, no worse. Anything else means the attempt failed.
      onError: (error) => (error.code === 'ERR_SERVER' ? ready() : fail(error)),
    };
    this.#fifo.unshift({ type: probe.type, handler, written: true, deadline: 0 });
    const setup = this.#encode(probe);
    for (const packet of this.#options.setup?.() ?? []) setup.push(...this.#encode(packet));
    socket.cork();
    for (const chunk of setup) socket.write(chunk);
    socket.uncork();
  }

  #isClosed(): boolean {
    return this.#state === 'closed';
  }

  get #connectTimeout(): number {
    return this.#options.connectTimeout ?? TUNING_DEFAULTS.connectTimeout;
  }

  #createSocket(): net.Socket {
    const { address, tls: tlsOption } = this.#options;
    const base: net.NetConnectOpts =
      'path' in address
        ? { path: address.path }
        : {
            host: address.host,
            port: address.port,
            keepAlive: this.#options.keepAlive ?? TUNING_DEFAULTS.keepAlive,
            keepAliveInitialDelay: 10_000,
            noDelay: this.#options.noDelay ?? TUNING_DEFAULTS.noDelay,
          };
    if (tlsOption === undefined || tlsOption === false) {
      return net.connect({ ...base, onread: { buffer: this.#readBuffer, callback: this.#onRead } });
    }
    const extra = tlsOption === true ? {} : tlsOption;
    const servername = 'host' in address && net.isIP(address.host) === 0 ? address.host : undefined;
    return tls.connect({ ...base, servername, ...extra } as tls.ConnectionOptions);
  }

  /** Takes a socket that passed the handshake into use, and sends what was queued. */
  #attach(socket: net.Socket): void {
    socket.on('drain', this.#onDrain);
    // The 'close' handler reports the first error; later ones add nothing.
    let socketError: Error | undefined;
    socket.on('error', (error) => {
      socketError ??= error;
    });
    socket.once('close', () => this.#onSocketClose(socket, socketError));

    this.#state = 'ready';
    this.#startTimer();
    this.#flush();
    this.#emit({ type: 'connect', server: this.server, generation: this.#generation });
    for (const waiter of this.#readyWaiters.splice(0)) waiter.resolve();
  }

  #newDecoder(): PacketDecoder {
    return new PacketDecoder((packet, magic) => this.#onPacket(packet, magic), {
      maxPacketSize: this.#options.maxPacketSize,
      onText: this.#options.text === true ? (line) => this.#onLine(line) : undefined,
      maxLineLength: 1024 * 1024,
    });
  }

  /**
   * Where a plain socket reads next: into the body of a large packet in progress, so that it
   * arrives in place in few large reads, or else into the free tail of a shared slab (packets
   * decoded from it are views, and a slab is never written twice).
   */
  readonly #readBuffer = (): Buffer => {
    const target = this.#state === 'ready' ? this.#decoder.readTarget(READ_IN_PLACE) : undefined;
    if (target !== undefined) return target;
    if (this.#slab.length - this.#slabUsed < MIN_READ) {
      this.#slab = Buffer.allocUnsafe(SLAB_SIZE);
      this.#slabUsed = 0;
    }
    return this.#slab.subarray(this.#slabUsed);
  };

  /** A plain socket's read of `bytes` into the buffer `#readBuffer` gave it; true: read on. */
  readonly #onRead = (bytes: number, buffer: Uint8Array): boolean => {
    if (buffer.buffer === this.#slab.buffer) this.#slabUsed += bytes;
    this.#onData(Buffer.from(buffer.buffer, buffer.byteOffset, bytes));
    return true;
  };

  readonly #onData = (chunk: Buffer): void => {
    this.#lastReceive = Date.now();
    try {
      this.#decoder.push(chunk);
    } catch (error) {
      this.#socket?.destroy(error instanceof Error ? error : new Error(String(error)));
    }
  };

  readonly #onDrain = (): void => {
    for (const resolve of this.#drainWaiters.splice(0)) resolve();
  };

  #onPacket(packet: Packet, magic: 'REQ' | 'RES'): void {
    if (magic !== 'RES') {
      throw new ProtocolError('UNEXPECTED_PACKET', `the server sent ${packet.type} as a request`);
    }
    const type = packet.type;
    // PROTOCOL section 8: JOB_NOT_FOUND answers a WORK_* packet, which has no FIFO entry.
    if (UNSOLICITED.has(type) || (type === 'ERROR' && packet.code === 'JOB_NOT_FOUND')) {
      this.#options.onPacket?.(packet);
      return;
    }
    const head = this.#fifo.peek();
    const expected = head === undefined || head.type === 'TEXT' ? undefined : REPLIES[head.type];
    if (head === undefined || (type !== 'ERROR' && expected?.has(type) !== true)) {
      throw new ProtocolError(
        'UNEXPECTED_PACKET',
        `unexpected ${type} from ${this.server} while ${head ? `awaiting a reply to ${head.type}` : 'no request was pending'}`,
      );
    }
    this.#fifo.shift();
    if (head === this.#heartbeat) this.#heartbeat = undefined;
    const handler = head.handler as ReplyHandler;
    if (packet.type === 'ERROR') handler.onError(new ServerError(packet.code, packet.message));
    else handler.onReply(packet);
  }

  #onLine(line: string): void {
    const head = this.#fifo.peek();
    if (head === undefined || head.type !== 'TEXT') {
      throw new ProtocolError('UNEXPECTED_PACKET', `unexpected text line from ${this.server}`);
    }
    if ((head.handler as TextReplyHandler).onLine(line)) this.#fifo.shift();
  }

  #onSocketClose(socket: net.Socket, error: Error | undefined): void {
    if (socket !== this.#socket) return;
    this.#socket = undefined;
    this.#stopTimer();
    this.#onDrain();
    if (this.#state === 'closed') return;
    // Before any callback runs: a request made from a rejection handler must fail over rather
    // than join the dead socket's queue.
    this.#state = 'reconnecting';
    this.#rejectPending(error);
    this.#emit({ type: 'disconnect', server: this.server, error });
    if (this.#isClosed()) return; // a callback closed the connection
    if (this.#options.reconnect === false) {
      this.#shutdown(
        new ConnectionError(`connection to ${this.server} lost`, {
          maybeRan: false,
          server: this.server,
        }),
        error,
      );
      return;
    }
    // A short pause before the first attempt, so a server that accepts and drops at once
    // is not hammered in a tight loop.
    setTimeout(() => {
      if (this.#state === 'reconnecting') void this.#connectLoop();
    }, this.#firstRetryDelay()).unref();
  }

  #firstRetryDelay(): number {
    const reconnect = this.#options.reconnect;
    const min = typeof reconnect === 'object' ? (reconnect.minTimeout ?? 100) : 100;
    return min * (1 + Math.random());
  }

  /** Fails every request of the lost socket, saying whether each may have reached the server. */
  #rejectPending(cause: Error | undefined): void {
    this.#outbox = [];
    this.#outboxBytes = 0;
    this.#unwritten = [];
    this.#heartbeat = undefined;
    const detail = cause ? `: ${cause.message}` : '';
    for (const pending of this.#fifo.drain()) {
      pending.handler.onError(
        new ConnectionError(
          `connection to ${this.server} lost before the reply to ${pending.type}${detail}`,
          { maybeRan: pending.written, server: this.server },
          { cause },
        ),
      );
    }
  }

  #shutdown(error: GearmanError, cause: Error | undefined): void {
    this.#state = 'closed';
    this.#retryAbort.abort(error);
    this.#stopTimer();
    this.#outbox = [];
    this.#outboxBytes = 0;
    this.#unwritten = [];
    for (const pending of this.#fifo.drain()) pending.handler.onError(error);
    for (const waiter of this.#readyWaiters.splice(0)) waiter.reject(error);
    this.#onDrain();
    this.#closedResolve(cause);
  }

  #startTimer(): void {
    const watch = Math.min(
      this.#requestTimeout,
      this.#heartbeatInterval || Number.POSITIVE_INFINITY,
    );
    const period = Math.max(25, Math.min(1000, Math.floor(watch / 4)));
    this.#timer = setInterval(() => this.#tick(), period).unref();
  }

  #stopTimer(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** One shared deadline check instead of a timer per request. */
  #tick(): void {
    if (this.#state !== 'ready') return;
    const now = Date.now();
    const head = this.#fifo.peek();
    const heartbeat = this.#heartbeat;
    const late =
      head?.written && head.deadline <= now
        ? head
        : heartbeat?.written && heartbeat.deadline <= now
          ? heartbeat
          : undefined;
    if (late !== undefined) {
      this.#socket?.destroy(
        new TimeoutError(
          `no reply to ${late.type} from ${this.server} within ${this.#requestTimeout} ms${late === heartbeat ? ' (heartbeat)' : ''}`,
        ),
      );
      return;
    }
    const interval = this.#heartbeatInterval;
    if (interval > 0 && heartbeat === undefined && now - this.#lastReceive >= interval) {
      const pending: Pending = {
        type: 'ECHO_REQ',
        handler: { onReply: () => {}, onError: () => {} }, // a failure closes the socket anyway
        written: false,
        deadline: 0,
      };
      this.#heartbeat = pending;
      this.#fifo.push(pending);
      this.#enqueue(this.#encode({ type: 'ECHO_REQ', payload: '' }));
      this.#flush();
      pending.written = true;
      // Answered within the interval itself (at least a second, at most requestTimeout), a dead
      // link shows within twice the heartbeat; a short interval must not make a slow link "dead".
      pending.deadline = now + Math.min(this.#requestTimeout, Math.max(interval, 1000));
    }
  }

  #emit(event: ConnectionEvent): void {
    this.#options.onEvent?.(event);
  }
}
