import { Buffer } from 'node:buffer';
import { InvalidArgumentError, MAX_UNIQUE_SIZE } from '@gearmanode/protocol';
import {
  type ConnectionTuning,
  type ReconnectOptions,
  type ServerAddress,
  TUNING_DEFAULTS,
} from './connection.js';
import { parseServers, type ServerSpec } from './servers.js';

/** A job payload: bytes, or a string sent as UTF-8. */
export type Payload = string | Uint8Array;

/** Job priority: which of the server's three queues the job joins (per function). */
export type Priority = 'low' | 'normal' | 'high';

/** How jobs without a `unique` are spread over several servers. */
export type Strategy = 'round-robin' | 'sequence';

/** How a lost foreground submit is tried again (passed to p-retry). */
export interface RetryOptions {
  /** Attempts after the first. @default 3 */
  retries?: number;
  /** Delay before the second retry, in ms; the first goes out at once. @default 100 */
  minTimeout?: number;
  /** Longest delay between attempts, in ms. @default 5000 */
  maxTimeout?: number;
  /** Growth of the delay per attempt. @default 2 */
  factor?: number;
  /** Multiply each delay by a random factor from 1 to 2. @default true */
  randomize?: boolean;
}

/** Options of `createClient`. Every one is checked: a bad value throws InvalidArgumentError. */
export interface ClientOptions extends ConnectionTuning {
  /**
   * The job servers: `'host:port'` strings (`'host'` alone means port 4730, `'[::1]:4730'` for
   * IPv6), `{ host, port }` objects, or `{ path }` for a Unix socket. A comma-separated string
   * is accepted too.
   * @default ['127.0.0.1:4730']
   */
  servers?: readonly ServerSpec[] | string;
  /**
   * How jobs without a `unique` pick a server: `round-robin` spreads them over the healthy
   * servers, `sequence` sends them to the first healthy one in list order. Jobs with a `unique`
   * always go to the server their unique hashes to, whatever the strategy.
   * @default 'round-robin'
   */
  strategy?: Strategy;
  /** How long a server that failed is skipped, in ms (cut short when it reconnects). @default 5000 */
  recoverTime?: number;
  /**
   * Connect on first use instead of in `createClient`. With `false`, `createClient` resolves
   * once one server is connected and rejects when the first attempt to every server failed.
   * @default false
   */
  lazy?: boolean;
  /**
   * Submits waiting for JOB_CREATED or for their result at once; more wait in the client, in
   * order, before anything is written.
   * @default 1000
   */
  maxInFlight?: number;
  /**
   * Try a submit again when its connection was lost: always when nothing was sent (every
   * server down), and after sending only for jobs with a `unique` or marked `idempotent`. A
   * number is the count of retries. @default 0 (off)
   */
  retry?: number | RetryOptions;
  /** SET_CLIENT_ID on every connection: shown by the admin `workers` command. */
  clientId?: string;
  /** Default job timeout in ms, from `submit()` to the result; 0 for none. @default 0 */
  timeout?: number;
}

/** Options shared by every kind of submit. */
export interface JobOptions {
  /**
   * The job's key on the server, at most 63 bytes: while a job with the same function and
   * unique is queued or running, another submit joins it instead of creating a job. A job with
   * a unique always goes to the same server of a pool. @default '' (no de-duplication); a
   * background job without one is sent with a random UUID, so that a persistent queue keeps it
   * and `getStatus({ unique })` can find it (routing and retry treat it as having none)
   */
  unique?: string;
  /** @default 'normal' */
  priority?: Priority;
  /**
   * Give up waiting after this many ms with TimeoutError. The job is not cancelled (Gearman has
   * no cancel): it may still run. @default the client's `timeout`
   */
  timeout?: number;
  /** Stop waiting when it aborts, rejecting with `signal.reason`. The job may still run. */
  signal?: AbortSignal;
  /**
   * The job may run more than once harmlessly, so it can be sent again after a lost connection
   * (with the client's `retry` option). Jobs with a `unique` count as idempotent. @default false
   */
  idempotent?: boolean;
  /** Make it a reduce job (SUBMIT_REDUCE_JOB) with this reducer function; no priority. */
  reducer?: string;
}

/** Options of `submit()` and `start()`. */
export interface SubmitOptions extends JobOptions {
  /** Decode the result (and data and warning events) as text. @default undefined (Buffer) */
  encoding?: BufferEncoding;
  /** Events `start()` keeps for an iterator that reads late; older ones are dropped. @default 1000 */
  maxBufferedEvents?: number;
}

/** Options of `submitBackground()`. */
export interface BackgroundOptions extends JobOptions {
  /**
   * Run no earlier than this time (SUBMIT_JOB_EPOCH): background jobs only, normal priority,
   * whole seconds. A time in the past runs at once.
   */
  at?: Date;
}

/** Options of requests with a reply: `getStatus()`, `echo()`. */
export interface RequestOptions {
  /** Give up after this many ms. @default the client's `requestTimeout` */
  timeout?: number;
  signal?: AbortSignal;
  /** Ask this server (`host:port` or path as configured) instead of choosing one. */
  server?: string;
}

/** Options of `close()`. */
export interface CloseOptions {
  /** How long to wait for jobs in flight before rejecting them with ClosedError. @default 30000 */
  timeout?: number;
}

/** `ConnectionTuning` checked, with its defaults. */
export type ResolvedConnectionTuning = Readonly<Required<ConnectionTuning>>;

/** The checked options with their defaults. */
export interface ResolvedClientOptions extends ResolvedConnectionTuning {
  readonly servers: ServerAddress[];
  readonly strategy: Strategy;
  readonly recoverTime: number;
  readonly lazy: boolean;
  readonly maxInFlight: number;
  readonly retry: Required<RetryOptions>;
  readonly clientId: string | undefined;
  readonly timeout: number;
}

const KNOWN_OPTIONS = new Set<string>([
  ...Object.keys(TUNING_DEFAULTS),
  'servers',
  'strategy',
  'recoverTime',
  'lazy',
  'maxInFlight',
  'retry',
  'clientId',
  'timeout',
]);

/** The longest delay Node's timers take. */
export const MAX_DELAY = 0x7fffffff;

/**
 * Checks `createClient` options and fills in the defaults.
 * @throws InvalidArgumentError naming the first option at fault.
 */
export function resolveClientOptions(options: ClientOptions = {}): ResolvedClientOptions {
  if (options === null || typeof options !== 'object') {
    throw new InvalidArgumentError('options', 'must be an object');
  }
  for (const key of Object.keys(options)) {
    if (!KNOWN_OPTIONS.has(key)) throw new InvalidArgumentError(key, 'is not a client option');
  }
  const strategy = options.strategy ?? 'round-robin';
  if (strategy !== 'round-robin' && strategy !== 'sequence') {
    throw new InvalidArgumentError('strategy', `must be 'round-robin' or 'sequence'`);
  }
  const clientId = options.clientId;
  if (clientId !== undefined) checkClientId(clientId, 'clientId');
  return {
    servers: parseServers(options.servers),
    strategy,
    recoverTime: integer(options.recoverTime, 'recoverTime', 5000, 0, MAX_DELAY),
    lazy: boolean(options.lazy, 'lazy', false),
    ...resolveConnectionTuning(options),
    maxInFlight: integer(options.maxInFlight, 'maxInFlight', 1000, 1, Number.MAX_SAFE_INTEGER),
    retry: retryOption(options.retry),
    clientId,
    timeout: timeout(options.timeout, 'timeout', 0),
  };
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
  return {
    tls,
    connectTimeout: integer(
      options.connectTimeout,
      'connectTimeout',
      defaults.connectTimeout,
      1,
      MAX_DELAY,
    ),
    requestTimeout: integer(
      options.requestTimeout,
      'requestTimeout',
      defaults.requestTimeout,
      1,
      MAX_DELAY,
    ),
    heartbeatInterval: integer(
      options.heartbeatInterval,
      'heartbeatInterval',
      defaults.heartbeatInterval,
      0,
      MAX_DELAY,
    ),
    keepAlive: boolean(options.keepAlive, 'keepAlive', defaults.keepAlive),
    noDelay: boolean(options.noDelay, 'noDelay', defaults.noDelay),
    maxPacketSize: integer(
      options.maxPacketSize,
      'maxPacketSize',
      defaults.maxPacketSize,
      0,
      0xffffffff,
    ),
    reconnect: reconnectOption(options.reconnect),
  };
}

/** Just the `ConnectionTuning` of resolved options, to pass on to a `Connection`. */
export function tuningOf(options: ResolvedConnectionTuning): ResolvedConnectionTuning {
  const { tls, connectTimeout, requestTimeout, heartbeatInterval } = options;
  const { keepAlive, noDelay, maxPacketSize, reconnect } = options;
  return {
    tls,
    connectTimeout,
    requestTimeout,
    heartbeatInterval,
    keepAlive,
    noDelay,
    maxPacketSize,
    reconnect,
  };
}

/**
 * A timeout in ms: 0 or Infinity mean none (returned as 0).
 * @throws InvalidArgumentError unless it is a non-negative number.
 */
export function timeout(value: unknown, field: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || Number.isNaN(value) || value < 0) {
    throw new InvalidArgumentError(field, `must be a number of ms >= 0, got ${describe(value)}`);
  }
  return value === Number.POSITIVE_INFINITY ? 0 : value;
}

/** @throws InvalidArgumentError unless `value` is an integer from `min` to `max`. */
export function integer(
  value: unknown,
  field: string,
  fallback: number,
  min: number,
  max: number,
): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new InvalidArgumentError(
      field,
      `must be an integer from ${min} to ${max}, got ${describe(value)}`,
    );
  }
  return value;
}

function boolean(value: unknown, field: string, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') {
    throw new InvalidArgumentError(field, `must be a boolean, got ${describe(value)}`);
  }
  return value;
}

function reconnectOption(value: unknown): boolean | ReconnectOptions {
  if (value === undefined || typeof value === 'boolean') return value ?? TUNING_DEFAULTS.reconnect;
  if (value === null || typeof value !== 'object') {
    throw new InvalidArgumentError('reconnect', 'must be a boolean or reconnect options');
  }
  const options = value as ReconnectOptions;
  const retries = options.retries;
  if (retries !== undefined && retries !== Number.POSITIVE_INFINITY) {
    integer(retries, 'reconnect.retries', 0, 0, Number.MAX_SAFE_INTEGER);
  }
  integer(options.minTimeout, 'reconnect.minTimeout', 0, 0, MAX_DELAY);
  integer(options.maxTimeout, 'reconnect.maxTimeout', 0, 0, MAX_DELAY);
  number(options.factor, 'reconnect.factor', 1);
  boolean(options.randomize, 'reconnect.randomize', true);
  if (options.shouldRetry !== undefined && typeof options.shouldRetry !== 'function') {
    throw new InvalidArgumentError('reconnect.shouldRetry', 'must be a function');
  }
  return options;
}

function retryOption(value: unknown): Required<RetryOptions> {
  const defaults = { retries: 3, minTimeout: 100, maxTimeout: 5000, factor: 2, randomize: true };
  if (value === undefined) return { ...defaults, retries: 0 };
  if (typeof value === 'number') {
    return { ...defaults, retries: integer(value, 'retry', 0, 0, 1000) };
  }
  if (value === null || typeof value !== 'object') {
    throw new InvalidArgumentError('retry', 'must be a number of retries or retry options');
  }
  const options = value as RetryOptions;
  return {
    retries: integer(options.retries, 'retry.retries', defaults.retries, 0, 1000),
    minTimeout: integer(options.minTimeout, 'retry.minTimeout', defaults.minTimeout, 0, MAX_DELAY),
    maxTimeout: integer(options.maxTimeout, 'retry.maxTimeout', defaults.maxTimeout, 0, MAX_DELAY),
    factor: number(options.factor, 'retry.factor', 1) ?? defaults.factor,
    randomize: boolean(options.randomize, 'retry.randomize', defaults.randomize),
  };
}

function number(value: unknown, field: string, min: number): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min) {
    throw new InvalidArgumentError(field, `must be a number >= ${min}, got ${describe(value)}`);
  }
  return value;
}

// PROTOCOL section 10: gearmand keeps 127 bytes of a client id; the `workers` listing is split
// on spaces, so printable ASCII without spaces.
const CLIENT_ID = /^[\x21-\x7e]{1,127}$/;

/** @throws InvalidArgumentError unless `id` is 1–127 printable ASCII characters, no spaces. */
export function checkClientId(id: unknown, field: string): string {
  if (typeof id !== 'string' || !CLIENT_ID.test(id)) {
    throw new InvalidArgumentError(field, 'must be 1 to 127 printable ASCII characters, no spaces');
  }
  return id;
}

/**
 * Checks a function name: 1 to 512 bytes (libgearman's range, protocol.md section 10), no NUL.
 * @throws InvalidArgumentError naming `field`.
 */
export function checkFunctionName(name: unknown, field = 'name'): string {
  if (typeof name !== 'string' || name.length === 0) {
    throw new InvalidArgumentError(field, 'must be a non-empty string');
  }
  // At most 3 UTF-8 bytes per UTF-16 unit: 170 units cannot exceed 512 bytes.
  if (name.length > 170 && Buffer.byteLength(name) > 512) {
    throw new InvalidArgumentError(field, 'must be at most 512 bytes');
  }
  if (name.includes('\0')) throw new InvalidArgumentError(field, 'must not contain a NUL byte');
  return name;
}

/**
 * Checks a unique before anything is sent: gearmand mishandles 64 bytes and refuses more
 * (protocol.md section 11, item 16).
 * @throws InvalidArgumentError unless it is a string of at most 63 bytes without NUL.
 */
export function checkUnique(unique: unknown, field = 'unique'): string {
  if (typeof unique !== 'string') {
    throw new InvalidArgumentError(field, `must be a string, got ${describe(unique)}`);
  }
  if (unique.length > 21 && Buffer.byteLength(unique) > MAX_UNIQUE_SIZE) {
    throw new InvalidArgumentError(
      field,
      `${Buffer.byteLength(unique)} bytes exceeds the limit of ${MAX_UNIQUE_SIZE} bytes`,
    );
  }
  if (unique.includes('\0')) throw new InvalidArgumentError(field, 'must not contain a NUL byte');
  return unique;
}

/** @throws InvalidArgumentError unless `payload` is a string or a Uint8Array. */
export function checkPayload(payload: unknown): void {
  if (typeof payload !== 'string' && !(payload instanceof Uint8Array)) {
    throw new InvalidArgumentError(
      'payload',
      `must be a string or Uint8Array, got ${describe(payload)}`,
    );
  }
}

export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (typeof value === 'string') return JSON.stringify(value.slice(0, 40));
  return typeof value === 'object' ? (value.constructor?.name ?? 'object') : typeof value;
}
