import type { ConnectionEvent, ConnectionState } from '@gearmanode/core';
import type { JobRun } from './job-run.js';
import type {
  BackgroundOptions,
  CloseOptions,
  Payload,
  RequestOptions,
  SubmitOptions,
} from './options.js';

/** A lifecycle event of one of the client's server connections; see `Client.status()`. */
export type ClientEvent = ConnectionEvent;

/** `running`, `draining` (close() waits for jobs in flight), `closed`. */
export type ClientState = 'running' | 'draining' | 'closed';

/** The answer to GET_STATUS. */
export interface JobStatus {
  readonly handle: string;
  /** The server has the job, queued or running. False for unknown and finished jobs. */
  readonly known: boolean;
  /** A worker holds the job right now. */
  readonly running: boolean;
  /** The last WORK_STATUS, both 0 before any. */
  readonly numerator: number;
  readonly denominator: number;
}

/** The answer to GET_STATUS_UNIQUE. */
export interface UniqueJobStatus {
  readonly unique: string;
  readonly known: boolean;
  readonly running: boolean;
  readonly numerator: number;
  readonly denominator: number;
  /** Foreground clients waiting for the job's result (0 for background jobs). */
  readonly waitingClients: number;
}

/** One server as `stats()` reports it. */
export interface ServerStats {
  readonly server: string;
  readonly state: ConnectionState;
  /** Skipped after a failure until it reconnects or `recoverTime` passes. */
  readonly down: boolean;
  /**
   * Owes replies and has sent nothing for `suspectAfter` ms: it takes no new submits until it
   * answers (see the `suspect` and `responsive` events of `status()`).
   */
  readonly suspect: boolean;
  /** Requests written or queued on the connection that await a reply. */
  readonly pendingRequests: number;
  /** Handles of created foreground jobs awaiting their result on this connection. */
  readonly jobs: number;
}

/** Counters since `createClient`, and the current load. */
export interface ClientStats {
  /** Jobs accepted by submit(), start() and submitBackground(). */
  readonly submitted: number;
  /** Foreground jobs that completed (WORK_COMPLETE). */
  readonly completed: number;
  /** Background jobs the server queued (JOB_CREATED). */
  readonly created: number;
  /** WORK_FAIL. */
  readonly failed: number;
  /** WORK_EXCEPTION. */
  readonly exceptions: number;
  readonly timeouts: number;
  readonly aborted: number;
  /** Jobs and requests that rejected with ConnectionError. */
  readonly connectionErrors: number;
  /** Jobs and requests that rejected with ServerError (an ERROR packet). */
  readonly serverErrors: number;
  /** Submits sent again after losing their connection. */
  readonly retries: number;
  /** Jobs holding an in-flight slot: sent or waiting for a retry. */
  readonly inFlight: number;
  /** Jobs waiting in the client for a slot. */
  readonly queued: number;
  readonly servers: readonly ServerStats[];
}

/** The internal maps of a client, for tests: all zero when the client is idle. */
export interface ClientDebugState {
  readonly inFlight: number;
  readonly queued: number;
  readonly requests: number;
  readonly deadlines: number;
  readonly retrying: number;
  /** Handle entries over all connections, ghosts of abandoned waits included. */
  readonly handles: number;
  /** Waiters in those entries whose caller gave up (timeout, abort) before the result. */
  readonly ghosts: number;
  readonly pendingRequests: number;
  readonly statusSubscribers: number;
}

/**
 * A Gearman client over one or more job servers. Create it with `createClient`.
 *
 * Gearman has no cancel: a timeout or an abort stops the waiting, not the job, which may still
 * run on a worker.
 */
export interface Client extends AsyncDisposable {
  /** `running`, `draining` or `closed`. */
  readonly state: ClientState;
  /** Resolves once the client is closed, with the cause for `destroy(cause)`; never rejects. */
  readonly closed: Promise<Error | undefined>;

  /**
   * Runs a foreground job and resolves with its WORK_COMPLETE payload: a Buffer, or a string
   * with `encoding`. Rejects with JobFailedError (`ERR_JOB_FAILED`), JobExceptionError
   * (`ERR_JOB_EXCEPTION`, see `data`), TimeoutError (`ERR_TIMEOUT`), `signal.reason` on abort,
   * ConnectionError (`ERR_CONNECTION`, see `maybeRan`), ServerError (`ERR_SERVER`), ClosedError
   * (`ERR_CLOSED`) or InvalidArgumentError (`ERR_INVALID_ARGUMENT`).
   * @example const thumb = await client.submit('resize', image, { timeout: 10_000 });
   */
  submit(
    name: string,
    payload: Payload,
    options?: SubmitOptions & { encoding?: undefined },
  ): Promise<Buffer>;
  /** As above, resolving with the result decoded as `encoding`. */
  submit(
    name: string,
    payload: Payload,
    options: SubmitOptions & { encoding: BufferEncoding },
  ): Promise<string>;
  /** As above: a string with `encoding`, a Buffer without. */
  submit(name: string, payload: Payload, options?: SubmitOptions): Promise<Buffer | string>;

  /**
   * Starts a foreground job and returns at once: iterate the JobRun for its `created`, `status`,
   * `data` and `warning` events, and await `result()` for the outcome (as `submit()`).
   * @example
   * const run = client.start('transcode', video);
   * for await (const event of run) if (event.type === 'status') show(event.numerator);
   * const output = await run.result();
   */
  start(
    name: string,
    payload: Payload,
    options?: SubmitOptions & { encoding?: undefined },
  ): JobRun<Buffer>;
  /** As above, with `data` and `warning` chunks and the result decoded as `encoding`. */
  start(
    name: string,
    payload: Payload,
    options: SubmitOptions & { encoding: BufferEncoding },
  ): JobRun<string>;
  /** As above: strings with `encoding`, Buffers without. */
  start(name: string, payload: Payload, options?: SubmitOptions): JobRun<Buffer | string>;

  /**
   * Queues a background job and resolves with its handle once the server has it (JOB_CREATED).
   * Its result cannot be fetched; `getStatus()` shows its progress. With `at` it is scheduled
   * (SUBMIT_JOB_EPOCH). Rejects as `submit()` does, minus the job errors.
   */
  submitBackground(name: string, payload: Payload, options?: BackgroundOptions): Promise<string>;

  /**
   * Asks for a job's status by handle (GET_STATUS) or by unique (GET_STATUS_UNIQUE). Handles
   * are unique per server only: with several servers every one is asked (or just `server`) and
   * a server that knows the job wins. Rejects with TimeoutError, ConnectionError, ClosedError.
   */
  getStatus(handle: string, options?: RequestOptions): Promise<JobStatus>;
  /** As above, by the job's unique (GET_STATUS_UNIQUE). */
  getStatus(query: { unique: string }, options?: RequestOptions): Promise<UniqueJobStatus>;

  /** Sends ECHO_REQ to one server and resolves with the echoed bytes. */
  echo(payload?: Payload, options?: RequestOptions): Promise<Buffer>;

  /** Sets the id the server shows in its `workers` listing, now and after every reconnect. */
  setClientId(id: string): void;

  /**
   * Connection events of every server: `connect`, `disconnect`, `reconnecting`, `give-up`.
   * Each call returns a new iterator with its own buffer (the newest 1000 events); it ends when
   * the client closes.
   */
  status(): AsyncIterableIterator<ClientEvent>;

  /** Counters and current load. */
  stats(): ClientStats;

  /**
   * Stops taking jobs, waits up to `timeout` for the ones in flight and queued, rejects what is
   * left with ClosedError and closes the connections. Idempotent.
   */
  close(options?: CloseOptions): Promise<void>;

  /** Rejects every pending job with ClosedError and closes the sockets now. Idempotent. */
  destroy(cause?: Error): void;
}
