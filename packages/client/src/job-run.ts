import type { GearmanError } from '@gearmanode/protocol';

/** What a foreground job reports while it runs, in the order the worker sent it. */
export type JobEvent<R extends Buffer | string = Buffer> =
  /** The server queued the job (JOB_CREATED); `handle` identifies it on that server. */
  | { readonly type: 'created'; readonly handle: string }
  /** WORK_STATUS: progress as the worker reported it. */
  | { readonly type: 'status'; readonly numerator: number; readonly denominator: number }
  /** WORK_DATA: a chunk of output. */
  | { readonly type: 'data'; readonly data: R }
  /** WORK_WARNING: a chunk of output flagged as a warning. */
  | { readonly type: 'warning'; readonly data: R };

/**
 * A foreground job started with `client.start()`: an async iterable over its events that ends
 * when the job settles, and `result()` for the outcome. Events are buffered from the start, so
 * iterating late loses none (up to `maxBufferedEvents`; older ones are then dropped and counted
 * in `dropped`). Iterate at most once; `break` stops the buffering.
 */
export interface JobRun<R extends Buffer | string = Buffer> extends AsyncIterable<JobEvent<R>> {
  /** The job handle once JOB_CREATED arrived, else `undefined`. */
  readonly handle: string | undefined;
  /** Events discarded because the buffer was full. */
  readonly dropped: number;
  /**
   * Resolves with the WORK_COMPLETE payload. Rejects with JobFailedError (`ERR_JOB_FAILED`),
   * JobExceptionError (`ERR_JOB_EXCEPTION`), TimeoutError (`ERR_TIMEOUT`), the abort signal's
   * reason, ConnectionError (`ERR_CONNECTION`), ServerError (`ERR_SERVER`), ClosedError
   * (`ERR_CLOSED`) or InvalidArgumentError (`ERR_INVALID_ARGUMENT`). Returns the same promise on
   * every call; an outcome nobody asked for is never an unhandled rejection.
   */
  result(): Promise<R>;
}

type Outcome<R> = { ok: true; value: R } | { ok: false; error: unknown };

/** The JobRun behind `start()`; the client feeds it through `push()` and `settle()`. */
export class JobRunImpl<R extends Buffer | string>
  implements JobRun<R>, AsyncIterableIterator<JobEvent<R>>
{
  handle: string | undefined;
  dropped = 0;
  /** Events kept for a late iterator. */
  limit: number;
  #events: JobEvent<R>[] = [];
  #outcome: Outcome<R> | undefined;
  #result: Promise<R> | undefined;
  #resolve: ((value: R) => void) | undefined;
  #reject: ((error: unknown) => void) | undefined;
  #wake: ((result: IteratorResult<JobEvent<R>>) => void) | undefined;
  #stopped = false;

  constructor(limit: number) {
    this.limit = limit;
  }

  /** Takes one event from the client. */
  push(event: JobEvent<R>): void {
    if (this.#stopped || this.#outcome !== undefined) return;
    const wake = this.#wake;
    if (wake !== undefined) {
      this.#wake = undefined;
      wake({ value: event, done: false });
      return;
    }
    this.#events.push(event);
    if (this.#events.length > this.limit) {
      this.#events.shift();
      this.dropped++;
    }
  }

  /** Takes the outcome from the client; later calls are ignored. */
  settle(ok: true, value: R): void;
  settle(ok: false, error: GearmanError | unknown): void;
  settle(ok: boolean, value: unknown): void {
    if (this.#outcome !== undefined) return;
    this.#outcome = ok ? { ok: true, value: value as R } : { ok: false, error: value };
    if (ok) this.#resolve?.(value as R);
    else this.#reject?.(value);
    this.#resolve = undefined;
    this.#reject = undefined;
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.({ value: undefined, done: true });
  }

  result(): Promise<R> {
    if (this.#result !== undefined) return this.#result;
    const outcome = this.#outcome;
    if (outcome !== undefined) {
      this.#result = outcome.ok ? Promise.resolve(outcome.value) : Promise.reject(outcome.error);
    } else {
      this.#result = new Promise<R>((resolve, reject) => {
        this.#resolve = resolve;
        this.#reject = reject;
      });
    }
    return this.#result;
  }

  next(): Promise<IteratorResult<JobEvent<R>>> {
    if (this.#events.length > 0) {
      return Promise.resolve({ value: this.#events.shift() as JobEvent<R>, done: false });
    }
    if (this.#outcome !== undefined || this.#stopped) {
      return Promise.resolve({ value: undefined, done: true });
    }
    if (this.#wake !== undefined) {
      return Promise.reject(new Error('JobRun: next() called while another next() is pending'));
    }
    return new Promise((resolve) => {
      this.#wake = resolve;
    });
  }

  return(): Promise<IteratorResult<JobEvent<R>>> {
    this.#stopped = true;
    this.#events = [];
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.({ value: undefined, done: true });
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<JobEvent<R>> {
    return this;
  }
}
