import type tls from 'node:tls';
import {
  DEFAULT_MAX_PACKET_SIZE,
  type DecoderOptions,
  type GearmanError,
  InvalidArgumentError,
  type Packet,
  type PacketInit,
} from '@gearmanode/protocol';
import type { ServerAddress } from '../address.js';
import { checkBoolean, checkInteger, checkNumber, MAX_DELAY } from '../checks.js';

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
   * requests with silence
   * ([protocol.md section 11](https://github.com/gearmanode/gearmanode/blob/main/docs/protocol.md#11-gearmand-1120-as-observed),
   * item 8); when a deadline passes the socket is closed and opened again, since the reply order
   * can no longer be trusted.
   * @default 10000
   */
  requestTimeout?: number;
  /**
   * A server that owes replies and has sent nothing for this many ms is suspect: the connection
   * says so (`suspect`, and a `suspect` event; `responsive` once bytes arrive again), and a client
   * sends it no new submits meanwhile, so that a frozen server (a hung host, a partition without
   * RST) holds only what was already written to it. Its requests still fail only when
   * `requestTimeout` passes. 0 disables. @default 500
   */
  suspectAfter?: number;
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
  suspectAfter: 500,
  heartbeatInterval: 15_000,
  keepAlive: true,
  noDelay: true,
  maxPacketSize: DEFAULT_MAX_PACKET_SIZE,
  reconnect: true,
} as const satisfies Required<ConnectionTuning>;

/** The names of the `ConnectionTuning` options, for an options object's known keys. */
export const TUNING_KEYS: readonly string[] = Object.keys(TUNING_DEFAULTS);

/** `ConnectionTuning` checked, with its defaults. */
export type ResolvedConnectionTuning = Readonly<Required<ConnectionTuning>>;

/** Options of one connection to one job server. */
export interface ConnectionOptions extends ConnectionTuning {
  readonly address: ServerAddress;
  /** Send OPTION_REQ `exceptions` on every socket, so WORK_EXCEPTION reaches us. @default true */
  readonly exceptions?: boolean;
  /** Accept admin text responses (for admin connections). @default false */
  readonly text?: boolean;
  /** Packets written first on every new socket, e.g. a worker's CAN_DO and SET_CLIENT_ID. */
  readonly setup?: () => readonly PacketInit[];
  /** Packets that answer no request: WORK_* for clients, NOOP for workers, JOB_NOT_FOUND. */
  readonly onPacket?: (packet: Packet) => void;
  /** Decoders of the connection's own for some packet types (`DecoderOptions.bodyDecoders`). */
  readonly bodyDecoders?: DecoderOptions['bodyDecoders'];
  /** Lifecycle events; see `ConnectionEvent`. */
  readonly onEvent?: (event: ConnectionEvent) => void;
}

/** What happened to a connection. */
export type ConnectionEvent =
  | { type: 'connect'; server: string; generation: number }
  | { type: 'disconnect'; server: string; error: Error | undefined }
  | { type: 'reconnecting'; server: string; attempt: number; error: Error }
  | { type: 'give-up'; server: string; error: Error }
  /** The server owes replies and has been silent for `silentFor` ms (`suspectAfter`). */
  | { type: 'suspect'; server: string; silentFor: number }
  /** A suspect server sent bytes again. */
  | { type: 'responsive'; server: string };

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
  /** The response will not come: ConnectionError, TimeoutError or ClosedError. */
  onError(error: GearmanError): void;
}

/**
 * Checks the `ConnectionTuning` options of `createClient` or `createWorker` and fills in the
 * defaults; other keys of `options` are ignored.
 * @throws InvalidArgumentError naming the first option at fault.
 */
export function resolveConnectionTuning(options: ConnectionTuning): ResolvedConnectionTuning {
  const defaults = TUNING_DEFAULTS;
  const tls = options.tls ?? defaults.tls;
  if (typeof tls !== 'boolean' && (tls === null || typeof tls !== 'object')) {
    throw new InvalidArgumentError('tls', 'must be a boolean or tls.connect options');
  }
  const { connectTimeout, requestTimeout, heartbeatInterval, maxPacketSize } = options;
  return {
    tls,
    connectTimeout: checkInteger(
      connectTimeout,
      'connectTimeout',
      defaults.connectTimeout,
      1,
      MAX_DELAY,
    ),
    requestTimeout: checkInteger(
      requestTimeout,
      'requestTimeout',
      defaults.requestTimeout,
      1,
      MAX_DELAY,
    ),
    suspectAfter: checkInteger(
      options.suspectAfter,
      'suspectAfter',
      defaults.suspectAfter,
      0,
      MAX_DELAY,
    ),
    heartbeatInterval: checkInteger(
      heartbeatInterval,
      'heartbeatInterval',
      defaults.heartbeatInterval,
      0,
      MAX_DELAY,
    ),
    keepAlive: checkBoolean(options.keepAlive, 'keepAlive', defaults.keepAlive),
    noDelay: checkBoolean(options.noDelay, 'noDelay', defaults.noDelay),
    maxPacketSize: checkInteger(
      maxPacketSize,
      'maxPacketSize',
      defaults.maxPacketSize,
      0,
      0xffffffff,
    ),
    reconnect: checkReconnect(options.reconnect),
  };
}

/** Just the `ConnectionTuning` of resolved options, to pass on to a `Connection`. */
export function tuningOf(options: ResolvedConnectionTuning): ResolvedConnectionTuning {
  const { tls, connectTimeout, requestTimeout, suspectAfter, heartbeatInterval } = options;
  const { keepAlive, noDelay, maxPacketSize, reconnect } = options;
  return {
    tls,
    connectTimeout,
    requestTimeout,
    suspectAfter,
    heartbeatInterval,
    keepAlive,
    noDelay,
    maxPacketSize,
    reconnect,
  };
}

function checkReconnect(value: unknown): boolean | ReconnectOptions {
  if (value === undefined || typeof value === 'boolean') return value ?? TUNING_DEFAULTS.reconnect;
  if (value === null || typeof value !== 'object') {
    throw new InvalidArgumentError('reconnect', 'must be a boolean or reconnect options');
  }
  const options = value as ReconnectOptions;
  const retries = options.retries;
  if (retries !== undefined && retries !== Number.POSITIVE_INFINITY) {
    checkInteger(retries, 'reconnect.retries', 0, 0, Number.MAX_SAFE_INTEGER);
  }
  checkInteger(options.minTimeout, 'reconnect.minTimeout', 0, 0, MAX_DELAY);
  checkInteger(options.maxTimeout, 'reconnect.maxTimeout', 0, 0, MAX_DELAY);
  checkNumber(options.factor, 'reconnect.factor', 1, 1);
  checkBoolean(options.randomize, 'reconnect.randomize', true);
  if (options.shouldRetry !== undefined && typeof options.shouldRetry !== 'function') {
    throw new InvalidArgumentError('reconnect.shouldRetry', 'must be a function');
  }
  return options;
}
