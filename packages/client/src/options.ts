import {
  type ConnectionTuning,
  checkBoolean,
  checkInteger,
  checkNumber,
  checkOptions,
  checkTimeout,
  MAX_DELAY,
  parseServers,
  type ResolvedConnectionTuning,
  resolveConnectionTuning,
  type ServerAddress,
  type ServerSpec,
  TUNING_KEYS,
} from '@gearmanode/core';
import { checkClientId, InvalidArgumentError } from '@gearmanode/protocol';

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
  ...TUNING_KEYS,
  'servers',
  'strategy',
  'recoverTime',
  'lazy',
  'maxInFlight',
  'retry',
  'clientId',
  'timeout',
]);

/**
 * Checks `createClient` options and fills in the defaults.
 * @throws InvalidArgumentError naming the first option at fault.
 */
export function resolveClientOptions(input?: ClientOptions): ResolvedClientOptions {
  const options: ClientOptions = checkOptions(input, KNOWN_OPTIONS, 'a client option');
  const strategy = options.strategy ?? 'round-robin';
  if (strategy !== 'round-robin' && strategy !== 'sequence') {
    throw new InvalidArgumentError('strategy', `must be 'round-robin' or 'sequence'`);
  }
  const clientId = options.clientId;
  if (clientId !== undefined) checkClientId(clientId, 'clientId');
  return {
    servers: parseServers(options.servers),
    strategy,
    recoverTime: checkInteger(options.recoverTime, 'recoverTime', 5000, 0, MAX_DELAY),
    lazy: checkBoolean(options.lazy, 'lazy', false),
    ...resolveConnectionTuning(options),
    maxInFlight: checkInteger(options.maxInFlight, 'maxInFlight', 1000, 1, Number.MAX_SAFE_INTEGER),
    retry: retryOption(options.retry),
    clientId,
    timeout: checkTimeout(options.timeout, 'timeout', 0),
  };
}

/** The `@default` of every `RetryOptions` field (`retries` when `retry` is an object). */
const RETRY_DEFAULTS = {
  retries: 3,
  minTimeout: 100,
  maxTimeout: 5000,
  factor: 2,
  randomize: true,
} as const satisfies Required<RetryOptions>;

function retryOption(value: unknown): Required<RetryOptions> {
  if (value === undefined) return { ...RETRY_DEFAULTS, retries: 0 };
  if (typeof value === 'number') {
    return { ...RETRY_DEFAULTS, retries: checkInteger(value, 'retry', 0, 0, 1000) };
  }
  if (value === null || typeof value !== 'object') {
    throw new InvalidArgumentError('retry', 'must be a number of retries or retry options');
  }
  const options = value as RetryOptions;
  return {
    retries: checkInteger(options.retries, 'retry.retries', RETRY_DEFAULTS.retries, 0, 1000),
    minTimeout: checkInteger(
      options.minTimeout,
      'retry.minTimeout',
      RETRY_DEFAULTS.minTimeout,
      0,
      MAX_DELAY,
    ),
    maxTimeout: checkInteger(
      options.maxTimeout,
      'retry.maxTimeout',
      RETRY_DEFAULTS.maxTimeout,
      0,
      MAX_DELAY,
    ),
    factor: checkNumber(options.factor, 'retry.factor', RETRY_DEFAULTS.factor, 1),
    randomize: checkBoolean(options.randomize, 'retry.randomize', RETRY_DEFAULTS.randomize),
  };
}
