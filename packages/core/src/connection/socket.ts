import { Buffer } from 'node:buffer';
import net from 'node:net';
import tls from 'node:tls';
import {
  ClosedError,
  ConnectionError,
  type GearmanError,
  isGearmanError,
  TimeoutError,
} from '@gearmanode/protocol';
import type { Options as RetryOptions } from 'p-retry';
import type { ServerAddress } from '../address.js';
import type { ReconnectOptions, ResolvedConnectionTuning } from './options.js';

// The socket half of a connection: opening a plain or TLS socket, one connect attempt within its
// timeout, reading from the socket without copies, and the backoff between attempts. It knows
// nothing of packets or requests.

// Plain sockets read into a slab of this size, starting a new one when less than MIN_READ is
// left, and straight into a packet's body while at least READ_IN_PLACE bytes of it are missing.
const SLAB_SIZE = 64 * 1024;
const MIN_READ = 16 * 1024;
/** The smallest missing body a read goes straight into. */
export const READ_IN_PLACE = 64 * 1024;

/** Where a socket's bytes go: `target` may offer a buffer to read into (a packet's body). */
export interface SocketSink {
  readTarget(): Buffer | undefined;
  /** Bytes read: `chunk`'s first `end` bytes, or all of it. */
  onData(chunk: Buffer, end?: number): void;
}

/**
 * Reads a plain socket in place (Node's `onread` option): into the body of a large packet in
 * progress, so that it arrives in few large reads, or else into the free tail of a shared slab
 * (packets decoded from it are views, and a slab is never written twice).
 */
class SlabReader {
  #slab: Buffer = Buffer.alloc(0);
  /**
   * The slab's memory and where the slab starts in it, read once per slab: `buffer` on a view is
   * a call into the runtime.
   */
  #memory: ArrayBufferLike = this.#slab.buffer;
  #base = 0;
  #used = 0;
  /**
   * Whether the buffer last handed to the socket is a view of the slab's free tail (not a
   * packet's body): Node reads into the buffer its last `buffer()` call returned. A flag, not
   * the view itself: storing a new view in this long-lived object on every read costs a write
   * barrier.
   */
  #slabView = false;
  readonly #sink: SocketSink;

  constructor(sink: SocketSink) {
    this.#sink = sink;
  }

  readonly buffer = (): Buffer => {
    const target = this.#sink.readTarget();
    if (target !== undefined) {
      this.#slabView = false;
      return target;
    }
    if (this.#slab.length - this.#used < MIN_READ) {
      this.#slab = Buffer.allocUnsafe(SLAB_SIZE);
      this.#memory = this.#slab.buffer;
      this.#base = this.#slab.byteOffset;
      this.#used = 0;
    }
    // A view of the free tail, made from the memory read once per slab (`subarray` would read
    // the slab's `buffer`, a call into the runtime, on every read). The read's bytes go to the
    // decoder as this view and their count, without a second view of just them.
    const view = Buffer.from(this.#memory, this.#base + this.#used, SLAB_SIZE - this.#used);
    this.#slabView = true;
    return view;
  };

  readonly callback = (bytes: number, buffer: Uint8Array): boolean => {
    // Node hands back the buffer the last `buffer()` call returned (and asks for the next one
    // right after this call): a slab view is known without asking it for its memory.
    if (this.#slabView) {
      this.#used += bytes;
      this.#sink.onData(buffer as Buffer, bytes);
    } else {
      const memory = buffer.buffer;
      if (memory === this.#memory) this.#used += bytes;
      this.#sink.onData(Buffer.from(memory, buffer.byteOffset, bytes));
    }
    return true;
  };
}

/**
 * Opens a socket to `address` with the tuning's TCP and TLS settings; bytes go to `sink`. The
 * host name goes to net.connect as given, never a cached address: each attempt looks it up
 * anew, so a server whose name moved is reached at its new address on the next reconnect.
 */
export function createSocket(
  address: ServerAddress,
  tuning: ResolvedConnectionTuning,
  sink: SocketSink,
): net.Socket {
  const base: net.NetConnectOpts =
    'path' in address
      ? { path: address.path }
      : {
          host: address.host,
          port: address.port,
          keepAlive: tuning.keepAlive,
          keepAliveInitialDelay: 10_000,
          noDelay: tuning.noDelay,
        };
  if (tuning.tls === false) {
    const reader = new SlabReader(sink);
    return net.connect({ ...base, onread: { buffer: reader.buffer, callback: reader.callback } });
  }
  const extra = tuning.tls === true ? {} : tuning.tls;
  const servername = 'host' in address && net.isIP(address.host) === 0 ? address.host : undefined;
  const socket = tls.connect({ ...base, servername, ...extra } as tls.ConnectionOptions);
  socket.on('data', (chunk: Buffer) => sink.onData(chunk));
  return socket;
}

/** The event that says a new socket can be written to. */
export function connectEvent(tuning: ResolvedConnectionTuning): 'connect' | 'secureConnect' {
  return tuning.tls === false ? 'connect' : 'secureConnect';
}

/** A failed attempt as the error its waiters get. */
export function connectError(server: string, error: Error, usesTls: boolean): GearmanError {
  if (isGearmanError(error)) return error;
  // A plaintext server answering a TLS hello just drops the socket; say what it likely means.
  const hint =
    usesTls && (error as NodeJS.ErrnoException).code === 'ECONNRESET'
      ? ' (is the server speaking TLS?)'
      : '';
  return new ConnectionError(
    `cannot connect to ${server}: ${error.message}${hint}`,
    { maybeRan: false, server },
    { cause: error },
  );
}

/** What one connect attempt asks of the connection that makes it. */
export interface AttemptHooks {
  /** Whether the connection was closed meanwhile: the attempt then fails. */
  isClosed(): boolean;
  /** The socket is connected: write the handshake, and call `ready` once the server answers. */
  handshake(socket: net.Socket, fail: (error: Error) => void, ready: () => void): void;
  /** The handshake is answered: take the socket into use (before the attempt resolves). */
  ready(socket: net.Socket): void;
}

/**
 * One connect attempt: resolves once the socket is connected and the server has answered the
 * handshake. A TCP accept alone proves little (a proxy or a NAT that drops the link accepts
 * too), and requests queued meanwhile must stay unwritten, so that they can fail over with
 * `maybeRan: false` if the attempt fails. `connectTimeout` covers all of it.
 */
export function connectAttempt(
  server: string,
  address: ServerAddress,
  tuning: ResolvedConnectionTuning,
  sink: SocketSink,
  hooks: AttemptHooks,
): Promise<void> {
  const { connectTimeout, tls } = tuning;
  return new Promise<void>((resolve, reject) => {
    const socket = createSocket(address, tuning, sink);
    let settled = false;
    const fail = (error: Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      reject(connectError(server, error, tls !== false));
    };
    const closedEarly = (): void => {
      fail(new Error('the server closed the connection during the handshake'));
    };
    const timer = setTimeout(() => {
      fail(new TimeoutError(`connecting to ${server} took over ${connectTimeout} ms`));
    }, connectTimeout);
    socket.once('error', fail);
    socket.once('close', closedEarly);
    socket.once(connectEvent(tuning), () => {
      if (hooks.isClosed()) {
        fail(new ClosedError('connection is closed'));
        return;
      }
      hooks.handshake(socket, fail, () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        socket.off('error', fail);
        socket.off('close', closedEarly);
        hooks.ready(socket);
        resolve();
      });
    });
  });
}

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
export function isPermanent(error: Error): boolean {
  for (let e: unknown = error; e instanceof Error; e = e.cause) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== undefined && (PERMANENT_TLS_ERRORS.has(code) || code.startsWith('ERR_TLS_CERT'))) {
      return true;
    }
  }
  return false;
}

/** What the connect loop needs to know of each attempt besides the backoff. */
export interface RetryHooks {
  signal: AbortSignal;
  isClosed(): boolean;
  onFailedAttempt(error: Error, attempt: number, retriesLeft: number): void;
}

/** The p-retry options of a connection's connect loop. */
export function reconnectPolicy(
  reconnect: boolean | ReconnectOptions,
  hooks: RetryHooks,
): RetryOptions {
  const retry: ReconnectOptions = typeof reconnect === 'object' ? reconnect : {};
  return {
    retries: reconnect === false ? 0 : (retry.retries ?? Number.POSITIVE_INFINITY),
    minTimeout: retry.minTimeout ?? 100,
    maxTimeout: retry.maxTimeout ?? 5000,
    factor: retry.factor ?? 2,
    randomize: retry.randomize ?? true,
    signal: hooks.signal,
    unref: true,
    onFailedAttempt: ({ error, attemptNumber, retriesLeft }) => {
      if (!hooks.isClosed()) hooks.onFailedAttempt(error, attemptNumber, retriesLeft);
    },
    shouldRetry: async ({ error, attemptNumber }) => {
      if (hooks.isClosed() || isPermanent(error)) return false;
      const hook = retry.shouldRetry;
      return hook === undefined ? true : hook({ error, attempt: attemptNumber });
    },
  };
}

/**
 * The pause before the first attempt after losing a socket, so that a server that accepts and
 * drops at once is not hammered in a tight loop.
 */
export function firstRetryDelay(reconnect: boolean | ReconnectOptions): number {
  const min = typeof reconnect === 'object' ? (reconnect.minTimeout ?? 100) : 100;
  return min * (1 + Math.random());
}
