import { Buffer } from 'node:buffer';
import { JobSettledError, type PacketInit } from '@gearmanode/protocol';
import type { RawAssignment } from './assignment.js';
import { type JobTrace, releasedOutcome, traceJobSettled, traceOutput } from './diagnostics.js';

/**
 * A job the worker holds: what the client submitted, and the calls that report back.
 *
 * Settle it with exactly one of `complete()`, `fail()` or `exception()`; until then it takes one
 * of the worker's `concurrency` slots. The reporting methods resolve once the packet is handed
 * to the socket (they wait while the socket is over its high-water mark) and never reject. They
 * throw synchronously for a packet that cannot be encoded (`ERR_INVALID_ARGUMENT`), and with
 * JobSettledError (`ERR_JOB_SETTLED`) once you have settled the job: nothing is ever sent for a
 * handle after its final packet.
 *
 * When the worker settles the job itself (time limit), or can no longer report on it (its
 * connection was lost, or the worker closed past its timeout), `signal` aborts and later calls
 * resolve without sending anything: the job server has either received the failure already or
 * handed the job to another worker. Handlers should therefore be idempotent: a job whose worker
 * dies runs again elsewhere (at-least-once).
 */
export interface Job {
  /** The function name the job was submitted to. */
  readonly name: string;
  /** The server's handle, e.g. `H:host:42`; unique per server only. */
  readonly handle: string;
  /** The unique the client chose (`''` for none); same-unique submissions share one job. */
  readonly unique: string;
  /** The reducer of a reduce job, with `grabMode: 'all'`; `''` otherwise. */
  readonly reducer: string;
  /** `host:port` (or socket path) of the job server that sent the job. */
  readonly server: string;
  /**
   * The job's bytes, exactly as submitted (NUL bytes and all). Small payloads are copied out of
   * the socket's read buffer, so a held job does not keep a large buffer alive.
   */
  readonly payload: Buffer;
  /**
   * Aborts when the job runs past its time limit (JobTimeoutError), its connection is lost
   * (JobLostError), or the worker closes past its timeout or is destroyed (WorkerClosingError).
   */
  readonly signal: AbortSignal;
  /** True once the job was settled, by you or by the worker. */
  readonly settled: boolean;
  /** The payload decoded as text. @default encoding 'utf8' */
  text(encoding?: BufferEncoding): string;
  /** The payload parsed as JSON (UTF-8). @throws SyntaxError for invalid JSON */
  json<T = unknown>(): T;
  /** Sends WORK_STATUS: progress as two integers from 0 to 4294967295. */
  status(numerator: number, denominator: number): Promise<void>;
  /** Sends WORK_DATA: a chunk of output, delivered to the client in order. */
  data(chunk: Uint8Array | string): Promise<void>;
  /** Sends WORK_WARNING: like `data()`, flagged as a warning. */
  warning(chunk: Uint8Array | string): Promise<void>;
  /** Settles the job with WORK_COMPLETE and `result` (a string is sent as UTF-8). @default '' */
  complete(result?: Uint8Array | string): Promise<void>;
  /**
   * Settles the job as failed. Without a reason it sends WORK_FAIL; with one it behaves as
   * `exception(reason)`, so `catch (error) { await job.fail(error) }` reports the message.
   */
  fail(reason?: unknown): Promise<void>;
  /**
   * Settles the job with WORK_EXCEPTION: an Error's message, a string (UTF-8) or bytes. gearmand
   * passes it on as WORK_FAIL to clients that did not ask for exceptions.
   */
  exception(error: unknown): Promise<void>;
}

/** How a job ended, for the worker's counters. */
export type JobOutcome = 'completed' | 'failed' | 'exception';

/** What a job needs from the worker that holds it. */
export interface JobHost {
  /**
   * Sends a packet for `job` on the connection it came from. Returns a promise that resolves
   * once the socket can take more; drops the packet (and counts a dropped result when `final`)
   * when that connection is gone. Throws only when the packet cannot be encoded.
   */
  send(job: JobImpl, packet: PacketInit, final: boolean): Promise<void>;
  /** The job was settled by its handler: free its slot. */
  settled(job: JobImpl, outcome: JobOutcome): void;
  /**
   * `send()` of WORK_COMPLETE with `result`, written from the handle's bytes `raw` (see
   * assignment.ts), for a job whose handle was never made a string.
   */
  sendComplete(job: JobImpl, raw: RawAssignment, result: Uint8Array): Promise<void>;
  /** The handler settled a job the worker had taken back already: its result is dropped. */
  dropped(job: JobImpl): void;
}

const RUNNING = 0;
const SETTLED = 1; // by the user
const RELEASED = 2; // by the worker: time limit, lost connection, close

/** Resolved once and shared: most reports need no waiting. */
export const RESOLVED: Promise<void> = Promise.resolve();
const EMPTY = Buffer.alloc(0);

/** The worker's side of a job; users see it as `Job`. */
export class JobImpl implements Job {
  readonly name: string;
  readonly reducer: string;
  readonly server: string;
  readonly payload: Buffer;
  readonly #host: JobHost;
  // Bookkeeping for the worker, kept private so that logging a job prints only what users see.
  readonly #link: unknown;
  readonly #generation: number;
  readonly #timeout: number;
  #deadline = 0;
  #state = RUNNING;
  #lateResult = false;
  #controller: AbortController | undefined;
  #abortReason: Error | undefined;
  #trace: JobTrace | undefined;
  // Made from `#raw`'s bytes on first use (see assignment.ts), or given as strings.
  #handle: string | undefined;
  #unique: string | undefined;
  readonly #raw: RawAssignment | undefined;

  /**
   * The job's fields come one by one, as the server sent them (see grab-replies.ts), rather
   * than in an object made for the purpose: one allocation less per job.
   */
  constructor(
    host: JobHost,
    link: unknown,
    server: string,
    generation: number,
    timeout: number,
    name: string,
    handle: string | undefined,
    unique: string | undefined,
    reducer: string,
    payload: Buffer,
    raw?: RawAssignment,
  ) {
    this.#host = host;
    this.#link = link;
    this.server = server;
    this.#generation = generation;
    this.#timeout = timeout;
    this.name = name;
    this.#handle = handle;
    this.#unique = unique;
    this.reducer = reducer;
    this.payload = payload;
    this.#raw = raw;
  }

  get handle(): string {
    if (this.#handle === undefined) this.#handle = (this.#raw as RawAssignment).handle;
    return this.#handle;
  }

  get unique(): string {
    if (this.#unique === undefined) this.#unique = (this.#raw as RawAssignment).unique;
    return this.#unique;
  }

  /** What `JSON.stringify` shows: the fields users see, as when they were plain properties. */
  toJSON(): Record<string, unknown> {
    return this.#fields();
  }

  /** What `console.log` and `util.inspect` show: the same fields, under the class name. */
  [Symbol.for('nodejs.util.inspect.custom')](
    _depth: number,
    options: object,
    inspect: (value: unknown, options: object) => string,
  ): string {
    return `JobImpl ${inspect(this.#fields(), options)}`;
  }

  #fields(): Record<string, unknown> {
    return {
      name: this.name,
      handle: this.handle,
      unique: this.unique,
      reducer: this.reducer,
      server: this.server,
      payload: this.payload,
    };
  }

  /** The worker's link the job arrived on; typed loosely to keep this module free of it. */
  get link(): unknown {
    return this.#link;
  }

  /** The connection generation the job arrived on: results go only to that socket. */
  get generation(): number {
    return this.#generation;
  }

  /** The diagnostics context, when `gearmanode:worker:job` had subscribers as the job began. */
  get trace(): JobTrace | undefined {
    return this.#trace;
  }

  set trace(value: JobTrace | undefined) {
    this.#trace = value;
  }

  /** Time limit in ms; 0 for none. */
  get timeout(): number {
    return this.#timeout;
  }

  /** When the time limit passes, on the worker's clock; set when the job starts. */
  get deadline(): number {
    return this.#deadline;
  }

  set deadline(value: number) {
    this.#deadline = value;
  }

  get signal(): AbortSignal {
    // Created on first use: most handlers never look at it, and an AbortController per job is
    // a measurable share of the per-job cost.
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#abortReason !== undefined) this.#controller.abort(this.#abortReason);
    }
    return this.#controller.signal;
  }

  get settled(): boolean {
    return this.#state !== RUNNING;
  }

  /** True while neither the handler nor the worker has settled the job. */
  get running(): boolean {
    return this.#state === RUNNING;
  }

  /** True when the worker took the job back (time limit, lost connection, close). */
  get released(): boolean {
    return this.#state === RELEASED;
  }

  text(encoding: BufferEncoding = 'utf8'): string {
    return this.payload.toString(encoding);
  }

  json<T = unknown>(): T {
    return JSON.parse(this.payload.toString('utf8')) as T;
  }

  status(numerator: number, denominator: number): Promise<void> {
    if (this.#state !== RUNNING) return this.#late();
    return this.#host.send(
      this,
      { type: 'WORK_STATUS', handle: this.handle, numerator, denominator },
      false,
    );
  }

  data(chunk: Uint8Array | string): Promise<void> {
    if (this.#state !== RUNNING) return this.#late();
    const sent = this.#host.send(
      this,
      { type: 'WORK_DATA', handle: this.handle, payload: chunk },
      false,
    );
    if (this.#trace !== undefined) traceOutput(this.#trace, chunk);
    return sent;
  }

  warning(chunk: Uint8Array | string): Promise<void> {
    if (this.#state !== RUNNING) return this.#late();
    const sent = this.#host.send(
      this,
      { type: 'WORK_WARNING', handle: this.handle, payload: chunk },
      false,
    );
    if (this.#trace !== undefined) traceOutput(this.#trace, chunk);
    return sent;
  }

  complete(result: Uint8Array | string = EMPTY): Promise<void> {
    if (this.#state !== RUNNING) return this.#late(true);
    const raw = this.#raw;
    const sent =
      raw !== undefined && this.#handle === undefined && result instanceof Uint8Array
        ? this.#host.sendComplete(this, raw, result)
        : this.#host.send(
            this,
            { type: 'WORK_COMPLETE', handle: this.handle, payload: result },
            true,
          );
    if (this.#trace !== undefined) traceOutput(this.#trace, result);
    this.#settle('completed', undefined);
    return sent;
  }

  fail(reason?: unknown): Promise<void> {
    if (reason !== undefined) return this.exception(reason);
    if (this.#state !== RUNNING) return this.#late(true);
    const sent = this.#host.send(this, { type: 'WORK_FAIL', handle: this.handle }, true);
    this.#settle('failed', undefined);
    return sent;
  }

  exception(error: unknown): Promise<void> {
    if (this.#state !== RUNNING) return this.#late(true);
    const payload = exceptionData(error);
    const sent = this.#host.send(
      this,
      { type: 'WORK_EXCEPTION', handle: this.handle, payload },
      true,
    );
    this.#settle('exception', error);
    return sent;
  }

  /**
   * The worker takes the job out of the handler's hands: later reports are dropped without an
   * error. Returns false when it was settled already. Call `abort()` next.
   */
  release(): boolean {
    if (this.#state !== RUNNING) return false;
    this.#state = RELEASED;
    return true;
  }

  /** Aborts `signal` with `reason` (once). */
  abort(reason: Error): void {
    if (this.#abortReason !== undefined) return;
    this.#abortReason = reason;
    const trace = this.#trace;
    if (trace !== undefined && this.#state === RELEASED) {
      this.#trace = undefined;
      traceJobSettled(trace, releasedOutcome(reason), reason);
    }
    this.#controller?.abort(reason);
  }

  #settle(outcome: JobOutcome, error: unknown): void {
    this.#state = SETTLED;
    this.#host.settled(this, outcome);
    const trace = this.#trace;
    if (trace !== undefined) {
      this.#trace = undefined;
      traceJobSettled(trace, outcome, error);
    }
  }

  #late(final = false): Promise<void> {
    if (this.#state === SETTLED) throw new JobSettledError(this.handle);
    // Released by the worker (time limit, lost connection, close): the server has the job's
    // fate in hand already, so a late report is dropped on purpose rather than thrown at a
    // handler that is merely slow. The first late result is counted.
    if (final && !this.#lateResult) {
      this.#lateResult = true;
      this.#host.dropped(this);
    }
    return RESOLVED;
  }
}

/** The WORK_EXCEPTION payload for whatever a handler threw or passed. */
export function exceptionData(error: unknown): Uint8Array | string {
  if (typeof error === 'string' || error instanceof Uint8Array) return error;
  if (error instanceof Error) return error.message || error.name;
  return String(error);
}
