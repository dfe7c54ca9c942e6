import { Buffer } from 'node:buffer';
import diagnostics, { type Channel, type TracingChannel } from 'node:diagnostics_channel';
import type { ConnectionEvent } from './connection/options.js';

// The channels client and worker publish on, so that tracers and APMs can watch submits and jobs
// without a dependency. Everything published here checks `hasSubscribers` first: with nobody
// listening, a submit or a job builds no context object and publishes nothing.

/** The names of gearmanode's diagnostics channels. */
export const DIAGNOSTICS_CHANNELS = {
  /** TracingChannel around each submit: `tracing:gearmanode:client:submit:{start,end,…}`. */
  clientSubmit: 'gearmanode:client:submit',
  /** TracingChannel around each job a worker runs: `tracing:gearmanode:worker:job:{…}`. */
  workerJob: 'gearmanode:worker:job',
  /** A submit is sent again after its connection was lost (the `retry` option). */
  clientRetry: 'gearmanode:client:retry',
  /** A connection passed its handshake and is ready. */
  connect: 'gearmanode:connection:connect',
  /** A ready connection lost its socket. */
  disconnect: 'gearmanode:connection:disconnect',
  /** A connection attempt failed and another one follows after a backoff. */
  reconnecting: 'gearmanode:connection:reconnecting',
} as const;

/** A context type with its fields writable: how the publishing side fills it in. */
export type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** A submit's priority. */
export type SubmitPriority = 'low' | 'normal' | 'high';

/**
 * The context object of one submit on `gearmanode:client:submit`: the same object travels
 * through `start`, `end`, then on settling `error` (failures only), `asyncStart` and
 * `asyncEnd`. Fields that become known later are filled in as the submit goes on; subscribers
 * may keep their own state for it in a WeakMap keyed by it.
 */
export interface ClientSubmitContext {
  /** The function name. */
  readonly functionName: string;
  /** The `unique` the caller gave, `''` for none. */
  readonly unique: string;
  readonly priority: SubmitPriority;
  /** `submitBackground()`: settles on JOB_CREATED. */
  readonly background: boolean;
  /** Bytes of the submitted payload. */
  readonly requestBytes: number;
  /** `host:port` of the server the submit was last sent to; undefined until it is sent. */
  readonly server: string | undefined;
  /** The job handle, once the server created the job. */
  readonly handle: string | undefined;
  /** Bytes of job output received: WORK_DATA, WORK_WARNING and WORK_COMPLETE payloads. */
  readonly responseBytes: number;
  /** How many times the submit was sent again after a lost connection. */
  readonly retries: number;
  /**
   * What the caller got as a rejection, set before `error` is published: usually a
   * GearmanError with a stable `code` (`ERR_JOB_FAILED`, `ERR_JOB_EXCEPTION`, `ERR_TIMEOUT`,
   * `ERR_CONNECTION`, …), or the abort signal's reason.
   */
  readonly error?: unknown;
}

/** How a job ended on the worker. */
export type WorkerJobOutcome =
  /** WORK_COMPLETE */
  | 'completed'
  /** WORK_FAIL */
  | 'failed'
  /** WORK_EXCEPTION */
  | 'exception'
  /** The worker's time limit passed: it sent WORK_EXCEPTION itself. */
  | 'timeout'
  /** The connection the job came on was lost: the server runs it again elsewhere. */
  | 'lost'
  /** The worker closed past its timeout or was destroyed. */
  | 'abandoned';

/**
 * The context object of one job on `gearmanode:worker:job`: `start` and `end` when the job is
 * handed to its handler (or `for await` loop), then on settling `error` (every outcome but
 * `completed`), `asyncStart` and `asyncEnd`.
 */
export interface WorkerJobContext {
  readonly functionName: string;
  /** `host:port` of the server the job came from. */
  readonly server: string;
  readonly handle: string;
  /** The client's unique, `''` for none. */
  readonly unique: string;
  /** Bytes of the job's payload. */
  readonly requestBytes: number;
  /** Bytes of output sent: WORK_DATA, WORK_WARNING and WORK_COMPLETE payloads. */
  readonly responseBytes: number;
  /** Set when the job settles. */
  readonly outcome: WorkerJobOutcome | undefined;
  /**
   * Set before `error` is published: what the handler passed to `fail()`/`exception()` (or
   * threw), a JobFailedError (`ERR_JOB_FAILED`) for a bare `fail()`, or the worker's
   * JobTimeoutError, JobLostError or WorkerClosingError.
   */
  readonly error?: unknown;
}

/** Message of `gearmanode:client:retry`, published as each new attempt is sent. */
export interface ClientRetryMessage {
  readonly functionName: string;
  readonly unique: string;
  /** 1 for the first retry. */
  readonly attempt: number;
  /** Why the previous attempt failed (a ConnectionError). */
  readonly error: unknown;
  /** The submit's context when `gearmanode:client:submit` has subscribers, else undefined. */
  readonly context: ClientSubmitContext | undefined;
}

/** Message of `gearmanode:connection:connect`. */
export type ConnectMessage = Extract<ConnectionEvent, { type: 'connect' }>;
/** Message of `gearmanode:connection:disconnect`; `error` is undefined for a clean close. */
export type DisconnectMessage = Extract<ConnectionEvent, { type: 'disconnect' }>;
/** Message of `gearmanode:connection:reconnecting`; `attempt` counts from 1. */
export type ReconnectingMessage = Extract<ConnectionEvent, { type: 'reconnecting' }>;

/** The submit TracingChannel; publish through `startTrace` and `settleTrace`. */
export const submitChannel: TracingChannel<object, ClientSubmitContext> =
  diagnostics.tracingChannel(DIAGNOSTICS_CHANNELS.clientSubmit);
/** The job TracingChannel; publish through `startTrace` and `settleTrace`. */
export const jobChannel: TracingChannel<object, WorkerJobContext> = diagnostics.tracingChannel(
  DIAGNOSTICS_CHANNELS.workerJob,
);
/** The retry channel. */
export const retryChannel: Channel<unknown, ClientRetryMessage> = diagnostics.channel(
  DIAGNOSTICS_CHANNELS.clientRetry,
) as Channel<unknown, ClientRetryMessage>;

const connectChannel = diagnostics.channel(DIAGNOSTICS_CHANNELS.connect);
const disconnectChannel = diagnostics.channel(DIAGNOSTICS_CHANNELS.disconnect);
const reconnectingChannel = diagnostics.channel(DIAGNOSTICS_CHANNELS.reconnecting);

/** Whether any of a TracingChannel's five channels has a subscriber, asking each. */
export function anySubscribed(channel: TracingChannel<object, object>): boolean {
  return (
    channel.start.hasSubscribers ||
    channel.end.hasSubscribers ||
    channel.asyncStart.hasSubscribers ||
    channel.asyncEnd.hasSubscribers ||
    channel.error.hasSubscribers
  );
}

/**
 * Whether any of a TracingChannel's five channels has a subscriber. Node has the getter on
 * TracingChannel since 20.13 (and 22.0); before that, the channels are asked one by one.
 */
export const isTraced: (channel: TracingChannel<object, object>) => boolean =
  'hasSubscribers' in submitChannel ? (channel) => channel.hasSubscribers : anySubscribed;

/**
 * Publishes `start` and `end` for an operation whose synchronous part is over, as
 * `tracePromise` does around the call that returns the promise.
 */
export function startTrace<C extends object>(channel: TracingChannel<object, C>, context: C): void {
  channel.start.publish(context);
  channel.end.publish(context);
}

/**
 * Publishes the settling of a traced operation: `error` when `failed` (with the context's
 * `error` set by the caller), then `asyncStart` and `asyncEnd`.
 */
export function settleTrace<C extends object>(
  channel: TracingChannel<object, C>,
  context: C,
  failed: boolean,
): void {
  if (failed) channel.error.publish(context);
  channel.asyncStart.publish(context);
  channel.asyncEnd.publish(context);
}

/** Bytes of a payload: a string is counted as UTF-8, as it is sent. */
export function byteLength(payload: Uint8Array | string): number {
  return typeof payload === 'string' ? Buffer.byteLength(payload, 'utf8') : payload.byteLength;
}

/** Publishes a connection's lifecycle event on its channel, when that has subscribers. */
export function publishConnectionEvent(event: ConnectionEvent): void {
  switch (event.type) {
    case 'connect':
      if (connectChannel.hasSubscribers) connectChannel.publish(event);
      return;
    case 'disconnect':
      if (disconnectChannel.hasSubscribers) disconnectChannel.publish(event);
      return;
    case 'reconnecting':
      if (reconnectingChannel.hasSubscribers) reconnectingChannel.publish(event);
      return;
    default:
      return;
  }
}
