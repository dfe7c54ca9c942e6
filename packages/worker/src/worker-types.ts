import type { ConnectionState } from '@gearmanode/core';
import type { GrabState } from './grab-loop.js';
import type { Job } from './job.js';

/** `running` until `close()` or `destroy()`, `draining` while in-flight jobs finish, then `closed`. */
export type WorkerState = 'running' | 'draining' | 'closed';

/** What happened to one of the worker's server connections; yielded by `status()`. */
export type WorkerEvent =
  /** Connected, registrations sent; `generation` increases with every new socket. */
  | { type: 'connect'; server: string; generation: number }
  /** The socket closed; jobs from it were lost (the server re-queues them). */
  | { type: 'disconnect'; server: string; error: Error | undefined }
  /** A connect attempt failed; another follows after a backoff. */
  | { type: 'reconnecting'; server: string; attempt: number; error: Error }
  /** The connection stopped trying (see the `reconnect` option). */
  | { type: 'give-up'; server: string; error: Error }
  /**
   * The server owes replies to GRABs and has sent nothing for `silentFor` ms (`suspectAfter`):
   * it gets no new GRAB until it answers, and the GRABs it holds stay within its share of
   * `concurrency`.
   */
  | { type: 'suspect'; server: string; silentFor: number }
  /** A suspect server sent bytes again and takes GRABs again. */
  | { type: 'responsive'; server: string }
  /**
   * The server answered a GRAB with ERROR: it does not know that GRAB. Perl's Gearman::Server
   * knows neither GRAB_JOB_UNIQ nor GRAB_JOB_ALL. Until it reconnects, the connection grabs with
   * `fallback` instead (GRAB_JOB_ALL → GRAB_JOB_UNIQ → GRAB_JOB); jobs from plain GRAB_JOB
   * carry no unique (`''`). With no `fallback` (GRAB_JOB itself was refused) the refusal counts
   * as "no job" and the connection polls every `pollInterval`.
   */
  | {
      type: 'grab-refused';
      server: string;
      packet: 'GRAB_JOB' | 'GRAB_JOB_UNIQ' | 'GRAB_JOB_ALL';
      fallback: 'GRAB_JOB' | 'GRAB_JOB_UNIQ' | undefined;
      error: Error;
    }
  /**
   * The server answered a report (WORK_*) with ERROR other than JOB_NOT_FOUND, and dropped it:
   * Perl's Gearman::Server answers WORK_DATA and WORK_WARNING, which it does not know, with
   * `server_error`, and a report for a job the socket does not hold with `not_worker`. Only
   * that report is lost; the job and the connection go on.
   */
  | { type: 'report-refused'; server: string; code: string; message: string };

/** One server connection as `stats()` shows it. */
export interface ServerStats {
  server: string;
  /** The socket's state. */
  connection: ConnectionState;
  /** Where the grab cycle is: `awake` (grabbing or ready to), `sleeping` (after PRE_SLEEP). */
  grab: GrabState;
  /** Jobs from this connection that are held (running or waiting to be yielded). */
  jobs: number;
  /** GRABs awaiting their reply. */
  grabsInFlight: number;
  /** Owes replies and has been silent for `suspectAfter` ms: it gets no new GRAB meanwhile. */
  suspect: boolean;
  /** Sockets opened so far. */
  generation: number;
  /** GRABs the server refused with ERROR, on every socket so far (see the `grab-refused` event). */
  grabRefused: number;
}

/** Counters since the worker was created, and the current load. */
export interface WorkerStats {
  /** Jobs assigned by the servers. */
  received: number;
  /** Jobs settled with WORK_COMPLETE, WORK_FAIL, WORK_EXCEPTION by their handlers. */
  completed: number;
  failed: number;
  exceptions: number;
  /** Jobs the worker failed itself at their time limit (WORK_EXCEPTION). */
  timeouts: number;
  /** Jobs whose connection was lost while they were held; the server re-queued them. */
  lost: number;
  /** Jobs still running when `close()` timed out or `destroy()` was called. */
  abandoned: number;
  /** Jobs assigned but never yielded (they arrived after `break` or `close()` began). */
  released: number;
  /**
   * Results not sent: the job's connection was gone, or the worker had taken the job back
   * (time limit, lost connection, close timeout) before the handler settled it.
   */
  droppedResults: number;
  /** ERROR JOB_NOT_FOUND replies: reports for jobs the server had taken back. */
  jobNotFound: number;
  /**
   * Other ERRORs answering a report (WORK_*): the server refused that report, e.g. a
   * WORK_DATA or WORK_WARNING it does not know. The job goes on; see the `report-refused` event.
   */
  reportRefused: number;
  /** GRABs sent, and how many of them were answered with NO_JOB. */
  grabs: number;
  noJobs: number;
  /** Jobs yielded (or given to `process()`) and not yet settled. */
  inFlight: number;
  /** Jobs assigned and waiting for the loop to ask for them. */
  buffered: number;
  /** GRABs awaiting their reply, over all servers. */
  grabsInFlight: number;
  servers: ServerStats[];
}

/** Options of `close()`. */
export interface CloseOptions {
  /**
   * How long jobs in flight may take to finish, in ms. After that their `signal` aborts with
   * WorkerClosingError, their results are no longer sent, and the sockets close, so the server
   * hands them to another worker. @default 10000
   */
  timeout?: number;
}

/** What `process()` calls per job: the return value completes the job, a throw fails it. */
export type JobHandler = (job: Job) => JobResult | Promise<JobResult> | void | Promise<void>;
/** A handler's result: bytes, text (UTF-8), or `undefined` for an empty WORK_COMPLETE. */
export type JobResult = Uint8Array | string | undefined;

/** Options of `process()`. */
export interface ProcessOptions {
  /** Run at most this many jobs at once; capped by the worker's `concurrency`. @default concurrency */
  concurrency?: number;
}

/**
 * A Gearman worker connected to one or more job servers. Iterate it to receive jobs, or hand
 * it a handler with `process()`; see `createWorker()`.
 */
export interface Worker extends AsyncIterable<Job>, AsyncDisposable {
  /** `running`, `draining` (after `close()`, while jobs finish) or `closed`. */
  readonly state: WorkerState;
  /**
   * Resolves once the worker is closed, with the cause: `undefined` after `close()`, the error
   * passed to `destroy()`, or the error of the last server when every connection gave up.
   * Never rejects.
   */
  readonly closed: Promise<Error | undefined>;
  /** The registered functions, in registration order. */
  readonly functions: readonly string[];
  /**
   * Registers a function (CAN_DO) on every server, now and after every reconnect. Registering
   * a name again only updates its time limit (the server keeps its single registration), and its
   * handler when one is given.
   * @throws InvalidArgumentError for a bad name, timeout or handler; ClosedError once closing.
   */
  register(name: string, options?: RegisterOptions): void;
  /**
   * Registers a function, as `register(name, options)` does, with the handler `process()` runs
   * for its jobs.
   * @example
   * worker.register('resize', { timeout: 30_000 }, (job) => resize(job.payload));
   * worker.register('reverse', (job) => job.text().split('').reverse().join(''));
   * await worker.process();
   */
  register(name: string, handler: JobHandler): void;
  /** Registers a function with a time limit and the handler `process()` runs for its jobs. */
  register(name: string, options: RegisterOptions, handler: JobHandler): void;
  /**
   * Unregisters a function (CANT_DO). gearmand re-queues jobs a worker holds of a function it
   * unregisters
   * ([protocol.md section 11](https://github.com/gearmanode/gearmanode/blob/main/docs/protocol.md#11-gearmand-1120-as-observed),
   * item 21), so on a connection that holds such jobs the CANT_DO waits until they are settled;
   * jobs of the function that arrive meanwhile are still handed out (and `process()` still runs its
   * handler for them). Unknown names are ignored.
   */
  unregister(name: string): void;
  /**
   * Runs a handler for every job, up to `concurrency` at once: the one registered for the job's
   * function with `register(name, handler)`, else `handler`. Its return value completes the job
   * (WORK_COMPLETE), a throw or rejection sends WORK_EXCEPTION with the error's message. A
   * handler may also settle the job itself. Resolves once the worker has closed.
   * @throws InvalidArgumentError when a `for await` loop or another `process()` is consuming
   *   jobs already.
   */
  process(handler: JobHandler, options?: ProcessOptions): Promise<void>;
  /**
   * Runs the handlers registered with `register(name, handler)`. A job of a function registered
   * later without a handler gets WORK_EXCEPTION.
   * @throws InvalidArgumentError when a function registered so far has no handler, or as
   *   `process(handler)` does.
   */
  process(options?: ProcessOptions): Promise<void>;
  /**
   * Closes gracefully: stops grabbing at once and ends the iteration, lets jobs in flight
   * finish and send their results for up to `timeout` ms, then aborts the rest (WorkerClosingError
   * on `job.signal`; the server re-runs them elsewhere) and closes the sockets. Abilities are not
   * reset first: on gearmand that would take running jobs away. Idempotent; never rejects.
   */
  close(options?: CloseOptions): Promise<void>;
  /** Closes now: aborts every job's signal and destroys the sockets. Idempotent. */
  destroy(cause?: Error): void;
  /** Connection events, and GRABs a server refused, from now until the worker closes. */
  status(): AsyncIterableIterator<WorkerEvent>;
  /** Counters and the current load. */
  stats(): WorkerStats;
  /**
   * Jobs, pulled: a GRAB goes out only while the loop waits for the next job and fewer than
   * `concurrency` jobs are unsettled. `break` stops grabbing; jobs yielded already must still be
   * settled. The iteration ends when the worker closes.
   * @throws InvalidArgumentError when another loop or `process()` is consuming jobs already.
   */
  [Symbol.asyncIterator](): AsyncIterator<Job>;
  /** Calls `close()`. */
  [Symbol.asyncDispose](): Promise<void>;
}

/** Options of `worker.register()`. */
export interface RegisterOptions {
  /**
   * Time limit per job in ms, enforced by the worker: at the deadline `job.signal` aborts with
   * JobTimeoutError and the job is failed with WORK_EXCEPTION. 0 for none.
   * @default the worker's `timeout`
   */
  timeout?: number;
}
