import { Buffer } from 'node:buffer';
import { performance } from 'node:perf_hooks';
import { checkFunction, checkInteger } from '@gearmanode/core';
import { InvalidArgumentError } from '@gearmanode/protocol';
import { type Job, type JobImpl, RESOLVED } from './job.js';
import type { JobHandler, JobResult, ProcessOptions } from './worker-types.js';

/** Who takes the jobs: a `for await` loop or `process()`. */
export interface Consumer {
  /** How many jobs it wants on the way (buffered or being grabbed) right now. */
  want(): number;
  /** Takes a job now if it can; false to have it buffered. */
  offer(job: JobImpl): boolean;
  /** The worker is closing: stop. */
  end(): void;
}

/** What a consumer needs from the worker. */
export interface ConsumerHost {
  /** The worker's `concurrency`. */
  readonly concurrency: number;
  /** Jobs handed to the consumer and not settled. */
  running(): number;
  /** False once the worker is closing. */
  taking(): boolean;
  /** The next job assigned before anyone asked for it, if any. */
  nextBuffered(): JobImpl | undefined;
  /** The consumer takes `job`: it now holds a slot, and its time limit runs. */
  start(job: JobImpl): void;
  /** Sends the GRABs the consumer wants now. */
  pump(): void;
  /** The consumer stopped (a `for await` loop ended early). */
  detach(consumer: Consumer): void;
}

/** How a `for await` loop consumes jobs; see `depth()`. */
type Pace = 'fill' | 'fast' | 'one';

const DONE: IteratorResult<Job> = Object.freeze({ value: undefined, done: true });
const EMPTY = Buffer.alloc(0);
// A loop back for the next job within this many ms of the last one is a fast loop.
const FAST_LOOP_MS = 1;
// GRABs kept on the way for a fast loop that awaits each job.
const FAST_LOOP_DEPTH = 8;

/** An iterator that yields no job, for a worker that is closing. */
export function endedIterator(): AsyncIterator<Job> {
  return { next: () => Promise.resolve(DONE), return: () => Promise.resolve(DONE) };
}

/**
 * The consumer of a `for await` loop, and the iterator the loop reads. Jobs are pulled: GRABs
 * go out only while the loop waits on `next()`.
 */
export function loopConsumer(host: ConsumerHost): {
  consumer: Consumer;
  iterator: AsyncIterator<Job>;
} {
  let waiting: ((result: IteratorResult<Job>) => void) | undefined;
  // How the loop asked for its next job on an empty buffer (see depth()).
  let pace: Pace = 'one';
  let lastYield = Number.NEGATIVE_INFINITY;
  let finished = false;
  const finish = (): void => {
    finished = true;
    host.detach(consumer);
    const wake = waiting;
    waiting = undefined;
    wake?.(DONE);
  };
  const consumer: Consumer = {
    want: () => (waiting === undefined ? 0 : depth(host, pace)),
    offer: (job) => {
      const wake = waiting;
      if (wake === undefined) return false;
      waiting = undefined;
      host.start(job);
      lastYield = performance.now();
      wake({ value: job, done: false });
      return true;
    },
    end: finish,
  };
  const iterator: AsyncIterator<Job> = {
    next: () => {
      if (finished || !host.taking()) {
        finish();
        return Promise.resolve(DONE);
      }
      const job = host.nextBuffered();
      if (job !== undefined) {
        host.start(job);
        lastYield = performance.now();
        return Promise.resolve({ value: job, done: false });
      }
      pace =
        host.running() > 0 ? 'fill' : performance.now() - lastYield < FAST_LOOP_MS ? 'fast' : 'one';
      const next = new Promise<IteratorResult<Job>>((resolve) => {
        waiting = resolve;
      });
      host.pump();
      return next;
    },
    return: () => {
      finish();
      return Promise.resolve(DONE);
    },
  };
  return { consumer, iterator };
}

/**
 * How many jobs a loop waiting on an empty buffer wants on the way. A loop that asked while
 * jobs it was given were still unsettled does not await them (`fill`): every free slot. A loop
 * that came back within a millisecond handles jobs faster than a round trip to the server
 * (`fast`): a few, so it does not wait for each one. Any other loop awaits each job (`one`):
 * one at a time, so that no job waits in this worker while another worker could run it.
 */
function depth(host: ConsumerHost, pace: Pace): number {
  const free = host.concurrency - host.running();
  return pace === 'fill' ? free : pace === 'fast' ? Math.min(free, FAST_LOOP_DEPTH) : 1;
}

/**
 * The handler and the concurrency limit of a `process(handler?, options?)` call.
 * `functionWithoutHandler` names a registered function that has no handler of its own.
 * @throws InvalidArgumentError for a bad argument, or for a missing handler.
 */
export function processArgs(
  handlerOrOptions: JobHandler | ProcessOptions | undefined,
  processOptions: ProcessOptions | undefined,
  concurrency: number,
  functionWithoutHandler: () => string | undefined,
): { handler: JobHandler | undefined; limit: number } {
  let handler: JobHandler | undefined;
  let options: ProcessOptions;
  if (typeof handlerOrOptions === 'function' || processOptions !== undefined) {
    handler = checkFunction<JobHandler>(handlerOrOptions, 'handler');
    options = processOptions ?? {};
  } else {
    if (handlerOrOptions !== undefined && !isObject(handlerOrOptions)) {
      checkFunction(handlerOrOptions, 'handler');
    }
    options = handlerOrOptions ?? {};
    const name = functionWithoutHandler();
    if (name !== undefined) {
      throw new InvalidArgumentError(
        'handler',
        `is required: function ${JSON.stringify(name)} has none of its own`,
      );
    }
  }
  const limit =
    options.concurrency === undefined
      ? concurrency
      : Math.min(
          checkInteger(options.concurrency, 'concurrency', 1, 1, Number.MAX_SAFE_INTEGER),
          concurrency,
        );
  return { handler, limit };
}

/**
 * The consumer of `process()`: runs the handler of each job as it arrives, up to `limit` at
 * once. `handlerOf` picks the job's handler; undefined fails the job.
 */
export function processConsumer(
  host: ConsumerHost,
  limit: number,
  handlerOf: (job: JobImpl) => JobHandler | undefined,
): Consumer {
  return {
    want: () => limit - host.running(),
    offer: (job) => {
      // Full: a job from a server that answered a GRAB after all once it was suspect (see the
      // worker's pump) waits in the buffer for a slot.
      if (host.running() >= limit) return false;
      host.start(job);
      runHandler(job, handlerOf(job));
      return true;
    },
    end: () => {},
  };
}

/**
 * Runs `handler` for `job`: its return value completes the job, a throw or rejection sends
 * WORK_EXCEPTION. Never throws or rejects.
 *
 * A promise reaction rather than an async function: the same microtasks (a synchronous throw is
 * handled at once, a value or a promise a tick after it settles, as `await` would), without a
 * suspended function to resume per job.
 */
function runHandler(job: JobImpl, handler: JobHandler | undefined): void {
  let result: unknown;
  try {
    // Registered without a handler after a handler-less process() began.
    if (handler === undefined) throw new Error(`no handler for function ${job.name}`);
    result = handler(job);
  } catch (error) {
    handlerFailed(job, error);
    return;
  }
  if (job.settled && !job.released) {
    // The handler settled the job before it returned (it awaited `job.complete()`, say), and
    // a settled job stays settled: what the handler returns or throws next has nowhere to go.
    // Only a rejection is caught, so that it is not reported as unhandled. No closures per job.
    void Promise.resolve(result).then(undefined, ignoreLateError);
    return;
  }
  void Promise.resolve(result).then(
    (value) => handlerReturned(job, value),
    (error: unknown) => handlerFailed(job, error),
  );
}

function ignoreLateError(): void {}

function handlerFailed(job: JobImpl, error: unknown): void {
  // A job the worker took back counts the failure as a dropped result. One the handler
  // settled itself already leaves the error nowhere to go: it threw after reporting.
  if (!job.settled || job.released) except(job, error);
}

function handlerReturned(job: JobImpl, result: unknown): Promise<void> | undefined {
  if (job.settled && !job.released) return undefined; // the handler settled it itself
  let sent: Promise<void>;
  try {
    // Checked by the encoder: anything but bytes or a string throws InvalidArgumentError, and
    // only synchronously (the promise, of the socket's drain, never rejects).
    sent = job.complete((result ?? EMPTY) as JobResult);
  } catch (error) {
    // The result could not be encoded (not bytes or a string, or over maxPacketSize).
    except(job, error);
    return undefined;
  }
  // A congested socket holds the handler's reaction until it drains, so a server that stops
  // reading stops this worker's results from piling up in memory; the usual already-written
  // case costs no extra microtask.
  return sent === RESOLVED ? undefined : sent;
}

function except(job: JobImpl, error: unknown): void {
  try {
    void job.exception(error);
  } catch {
    // The message itself could not be sent (over maxPacketSize): fail without detail.
    if (job.running) void job.fail();
  }
}

function isObject(value: unknown): value is object {
  return typeof value === 'object' && value !== null;
}
