import { Buffer } from 'node:buffer';
import type net from 'node:net';
import {
  ClosedError,
  ConnectionError,
  type GearmanError,
  type Packet,
  type PacketInit,
  type PacketType,
  TimeoutError,
} from '@gearmanode/protocol';
import pRetry from 'p-retry';
import { formatAddress } from '../address.js';
import { publishConnectionEvent } from '../diagnostics.js';
import { Heartbeat, type WatchedLink } from './heartbeat.js';
import {
  type ConnectionEvent,
  type ConnectionOptions,
  type ConnectionState,
  type ReplyHandler,
  type ResolvedConnectionTuning,
  type TextReplyHandler,
  TUNING_DEFAULTS,
} from './options.js';
import type { FrameWriter } from './outbox.js';
import { type Pending, Session } from './session.js';
import {
  type AttemptHooks,
  connectAttempt,
  firstRetryDelay,
  reconnectPolicy,
  type SocketSink,
} from './socket.js';

/**
 * One job server connection, shared by the client, the admin client and the worker: the state
 * machine that ties a socket (socket.ts) to a session (session.ts). It owns one socket at a
 * time, reconnects with backoff, and fails what a lost socket owed with a typed error.
 */
export class Connection implements SocketSink {
  readonly server: string;
  readonly #options: ConnectionOptions & ResolvedConnectionTuning;
  readonly #session: Session;
  readonly #heartbeat: Heartbeat;
  #state: ConnectionState = 'idle';
  #socket: net.Socket | undefined;
  #generation = 0;
  /** Bytes arrived since the heartbeat last looked. */
  #received = false;
  #suspect = false;
  #retryAbort = new AbortController();
  #readyWaiters: { resolve: () => void; reject: (error: Error) => void }[] = [];
  #closedResolve!: (cause: Error | undefined) => void;
  #drainWaiters: (() => void)[] = [];

  /** Resolves once the connection is closed for good, with the cause (never rejects). */
  readonly closed: Promise<Error | undefined>;

  constructor(options: ConnectionOptions) {
    this.#options = { ...TUNING_DEFAULTS, ...options };
    this.server = formatAddress(options.address);
    this.#session = new Session({
      server: this.server,
      maxPacketSize: this.#options.maxPacketSize,
      text: options.text === true,
      requestTimeout: this.#options.requestTimeout,
      onPacket: options.onPacket,
      bodyDecoders: options.bodyDecoders,
    });
    const { requestTimeout, heartbeatInterval, suspectAfter } = this.#options;
    this.#heartbeat = new Heartbeat(requestTimeout, heartbeatInterval, suspectAfter);
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

  /**
   * The server owes replies and has sent nothing for `suspectAfter` ms; false again once bytes
   * arrive or the socket is replaced. See the `suspect` and `responsive` events.
   */
  get suspect(): boolean {
    return this.#suspect;
  }

  /** Requests written or queued that await a reply. */
  get pendingRequests(): number {
    return this.#session.size;
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
    if (this.#state !== 'ready') {
      this.#session.encode(packet); // throws for a packet that cannot be encoded, as when ready
      return false;
    }
    this.#session.send(packet);
    return true;
  }

  /**
   * `send()` for a packet that `writer` writes itself, `size` bytes header included, into the
   * outbox (for a packet whose fields the caller holds as bytes). The writer must write exactly
   * `size` bytes of a well-formed packet of type `type`. Returns false, calling nothing, when
   * there is no live socket.
   */
  sendFrame(type: PacketType, size: number, writer: FrameWriter): boolean {
    if (this.#state !== 'ready') return false;
    this.#session.sendFrame(type, size, writer);
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
    const parts = this.#session.encode(packet);
    this.#admit();
    this.#session.request(packet.type, handler, parts);
  }

  /**
   * `request()` for a packet encoded already (with `encodePacketParts`), so that a request sent
   * again and again is encoded once. The frames are written as they are: they must not change.
   * @throws as `request()` does, except for encoding.
   */
  requestEncoded(type: PacketType, frames: readonly Buffer[], handler: ReplyHandler): void {
    this.#admit();
    this.#session.request(type, handler, frames);
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
    this.#session.request('TEXT', handler, [Buffer.from(line, 'utf8')]);
  }

  /**
   * Closes the socket after writing what is queued; requests still awaiting a reply reject
   * with ClosedError. No reconnect follows. Idempotent.
   */
  async close(): Promise<void> {
    if (this.#state !== 'closed') {
      const socket = this.#socket;
      this.#session.flush();
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

  // ---- SocketSink ---------------------------------------------------------------------------

  /** The buffer the socket reads into while ready (the session's), or undefined for a fresh one. */
  readTarget(): Buffer | undefined {
    return this.#state === 'ready' ? this.#session.readTarget() : undefined;
  }

  /**
   * Bytes from the socket (`chunk`'s first `end`, or all of it): they feed the session's
   * decoder and count as a sign of life.
   */
  onData(chunk: Buffer, end?: number): void {
    this.#received = true;
    if (this.#suspect) {
      this.#suspect = false;
      this.#emit({ type: 'responsive', server: this.server });
    }
    try {
      this.#session.push(chunk, end);
    } catch (error) {
      this.#socket?.destroy(error instanceof Error ? error : new Error(String(error)));
    }
  }

  // ---- connecting ---------------------------------------------------------------------------

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

  async #connectLoop(): Promise<void> {
    this.#state = 'connecting';
    const policy = reconnectPolicy(this.#options.reconnect, {
      signal: this.#retryAbort.signal,
      isClosed: () => this.#isClosed(),
      onFailedAttempt: (error, attempt, retriesLeft) => {
        this.#state = 'reconnecting';
        // Requests queued for this attempt can go elsewhere: they were never written.
        this.#session.end((pending) => this.#session.lostError(pending, error));
        if (retriesLeft > 0) {
          this.#emit({ type: 'reconnecting', server: this.server, attempt, error });
        }
      },
    });
    try {
      await pRetry(() => this.#open(), policy);
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

  /** One connect attempt (see `connectAttempt`). */
  #open(): Promise<void> {
    if (this.#state === 'closed') return Promise.reject(new ClosedError('connection is closed'));
    this.#state = 'connecting';
    return connectAttempt(this.server, this.#options.address, this.#options, this, this.#attempt);
  }

  /** What a connect attempt asks of this connection. */
  readonly #attempt: AttemptHooks = {
    isClosed: () => this.#isClosed(),
    handshake: (socket, fail, ready) => this.#handshake(socket, fail, ready),
    ready: (socket) => this.#attach(socket),
  };

  /**
   * Writes the setup packets on a new socket and calls `ready` once the server answers the
   * first of them: OPTION_REQ `exceptions`, or ECHO_REQ when exceptions are off.
   */
  #handshake(socket: net.Socket, fail: (error: Error) => void, ready: () => void): void {
    this.#socket = socket;
    this.#generation++;
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
    this.#session.begin(socket, probe, handler, [...(this.#options.setup?.() ?? [])]);
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
    this.#heartbeat.start(this.#watched);
    this.#session.attach(socket);
    this.#emit({ type: 'connect', server: this.server, generation: this.#generation });
    for (const waiter of this.#readyWaiters.splice(0)) waiter.resolve();
  }

  /** What the heartbeat watches: this connection's replies and silence. */
  readonly #watched: WatchedLink = (() => {
    const self = this;
    return {
      get head(): Pending | undefined {
        return self.#session.head;
      },
      received(): boolean {
        const received = self.#received;
        self.#received = false;
        return received;
      },
      get suspect(): boolean {
        return self.#suspect;
      },
      suspected(silentFor: number): void {
        self.#suspect = true;
        self.#emit({ type: 'suspect', server: self.server, silentFor });
      },
      late(pending: Pending, heartbeat: boolean): void {
        const within = `within ${self.#options.requestTimeout} ms`;
        self.#socket?.destroy(
          new TimeoutError(
            `no reply to ${pending.type} from ${self.server} ${within}${heartbeat ? ' (heartbeat)' : ''}`,
          ),
        );
      },
      echo(): Pending {
        const session = self.#session;
        const handler: ReplyHandler = {
          onReply: () => self.#heartbeat.answered(pending),
          onError: () => {}, // a failure closes the socket anyway
        };
        const frames = session.encode({ type: 'ECHO_REQ', payload: '' });
        const pending = session.request('ECHO_REQ', handler, frames);
        session.flush();
        return pending;
      },
    };
  })();

  readonly #onDrain = (): void => {
    for (const resolve of this.#drainWaiters.splice(0)) resolve();
  };

  #onSocketClose(socket: net.Socket, error: Error | undefined): void {
    if (socket !== this.#socket) return;
    this.#socket = undefined;
    this.#suspect = false;
    this.#heartbeat.stop();
    this.#onDrain();
    if (this.#state === 'closed') return;
    // Before any callback runs: a request made from a rejection handler must fail over rather
    // than join the dead socket's queue.
    this.#state = 'reconnecting';
    this.#session.end((pending) => this.#session.lostError(pending, error));
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
    setTimeout(() => {
      if (this.#state === 'reconnecting') void this.#connectLoop();
    }, firstRetryDelay(this.#options.reconnect)).unref();
  }

  #shutdown(error: GearmanError, cause: Error | undefined): void {
    this.#state = 'closed';
    this.#retryAbort.abort(error);
    this.#heartbeat.stop();
    this.#session.end(() => error);
    for (const waiter of this.#readyWaiters.splice(0)) waiter.reject(error);
    this.#onDrain();
    this.#closedResolve(cause);
  }

  #isClosed(): boolean {
    return this.#state === 'closed';
  }

  #emit(event: ConnectionEvent): void {
    publishConnectionEvent(event);
    this.#options.onEvent?.(event);
  }
}
