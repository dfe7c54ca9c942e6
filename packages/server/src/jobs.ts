import { Buffer } from 'node:buffer';
import { createHash } from 'node:crypto';
import { MAX_REDUCER_SIZE, MAX_UNIQUE_SIZE } from '@gearmanode/protocol';
import type { Peer } from './peer.js';

/** Queue index of a priority: 0 high, 1 normal, 2 low (the order GRAB looks at them). */
export type Priority = 0 | 1 | 2;
export const HIGH: Priority = 0;
export const NORMAL: Priority = 1;
export const LOW: Priority = 2;

/** Where a job is: in its function's queue, waiting for its epoch time, with a worker, or gone. */
export type JobState = 'queued' | 'delayed' | 'running' | 'gone';

/**
 * Per-priority queue limits, high/normal/low; 0 means unlimited
 * ([protocol.md section 7](https://github.com/gearmanode/gearmanode/blob/main/docs/protocol.md#7-queue-limits)).
 */
export type QueueLimits = [high: number, normal: number, low: number];

/**
 * One job in the server
 * ([protocol.md 6.1](https://github.com/gearmanode/gearmanode/blob/main/docs/protocol.md#61-state),
 * "Per job").
 */
export class Job {
  readonly handle: string;
  /** Creation order, server-wide. */
  readonly seq: number;
  readonly fn: FunctionEntry;
  /** The unique as submitted (`-` stays `-`), reported by JOB_ASSIGN_UNIQ and admin output. */
  readonly unique: string;
  /** Key in `fn.uniques`, or undefined when the job does not de-duplicate or no longer does. */
  key: string | undefined;
  readonly payload: Buffer;
  readonly priority: Priority;
  /**
   * Reduce jobs' reducer; empty for ordinary jobs
   * ([protocol.md 6.6](https://github.com/gearmanode/gearmanode/blob/main/docs/protocol.md#66-reduce-jobs)).
   */
  readonly reducer: string;
  /** Unix time in ms before which the job is not handed out; 0 when runnable at once. */
  readonly runAt: number;
  /** A background request holds the job: it survives its foreground waiters leaving. */
  background: boolean;
  /**
   * Peers waiting for WORK_* packets, once per submission
   * ([protocol.md 4.3](https://github.com/gearmanode/gearmanode/blob/main/docs/protocol.md#43-unique-ids-and-de-duplication-coalescing)).
   */
  readonly waiters: Peer[] = [];
  worker: Peer | null = null;
  numerator = 0;
  denominator = 0;
  /** How many times a worker lost the job (`show jobs` second column). */
  retries = 0;
  /** Nobody wants the result any more: cancelled, or the last foreground waiter left. */
  abandoned = false;
  state: JobState = 'queued';
  /** The CAN_DO_TIMEOUT timer while running. */
  timer: NodeJS.Timeout | undefined;
  /** Position in the epoch heap while delayed. */
  heapIndex = -1;

  constructor(init: {
    handle: string;
    seq: number;
    fn: FunctionEntry;
    unique: string;
    key: string | undefined;
    payload: Buffer;
    priority: Priority;
    reducer: string;
    runAt: number;
    background: boolean;
  }) {
    this.handle = init.handle;
    this.seq = init.seq;
    this.fn = init.fn;
    this.unique = init.unique;
    this.key = init.key;
    this.payload = init.payload;
    this.priority = init.priority;
    this.reducer = init.reducer;
    this.runAt = init.runAt;
    this.background = init.background;
  }
}

/** A FIFO of jobs: push at the tail, shift from the head, both O(1) amortised. */
export class JobQueue {
  #items: (Job | undefined)[] = [];
  #head = 0;

  get length(): number {
    return this.#items.length - this.#head;
  }

  push(job: Job): void {
    this.#items.push(job);
  }

  peek(): Job | undefined {
    return this.#items[this.#head];
  }

  shift(): Job | undefined {
    const items = this.#items;
    if (this.#head >= items.length) return undefined;
    const job = items[this.#head];
    items[this.#head++] = undefined; // let the job go
    if (this.#head === items.length) {
      this.#items = [];
      this.#head = 0;
    } else if (this.#head >= 1024 && this.#head * 2 >= items.length) {
      this.#items = items.slice(this.#head);
      this.#head = 0;
    }
    return job;
  }

  /** Removes the jobs for which `remove` returns true, keeping the order of the rest. */
  removeWhere(remove: (job: Job) => boolean): void {
    const kept: Job[] = [];
    for (const job of this) if (!remove(job)) kept.push(job);
    this.#items = kept;
    this.#head = 0;
  }

  *[Symbol.iterator](): Iterator<Job> {
    for (let i = this.#head; i < this.#items.length; i++) yield this.#items[i] as Job;
  }
}

/**
 * A function name the server knows
 * ([protocol.md 6.1](https://github.com/gearmanode/gearmanode/blob/main/docs/protocol.md#61-state),
 * "Per function").
 */
export class FunctionEntry {
  readonly name: string;
  /** Runnable jobs by priority: high, normal, low. Abandoned jobs stay until they reach a head. */
  readonly queues: readonly [JobQueue, JobQueue, JobQueue] = [
    new JobQueue(),
    new JobQueue(),
    new JobQueue(),
  ];
  /** De-duplication index: unique (or the `-` payload key) to its queued or running job. */
  readonly uniques = new Map<string, Job>();
  /** Registered peers and how many registrations each has. */
  readonly workers = new Map<Peer, number>();
  /** CAN_DO registrations, duplicates counted (`status` fourth column). */
  registrations = 0;
  /** Jobs of this function in any state but gone: the `status` total and the maxqueue count. */
  total = 0;
  running = 0;
  /** Epoch jobs not yet due; `prioritystatus` counts them as normal, as gearmand does. */
  delayed = 0;
  /** Abandoned jobs still sitting in the queues. */
  abandonedQueued = 0;
  limits: QueueLimits;

  constructor(name: string, limits: QueueLimits = [0, 0, 0]) {
    this.name = name;
    this.limits = limits;
  }

  /** Jobs in the queues, abandoned ones included. */
  get queued(): number {
    return this.queues[0].length + this.queues[1].length + this.queues[2].length;
  }

  /**
   * Whether a new job of this priority is refused
   * ([protocol.md section 7](https://github.com/gearmanode/gearmanode/blob/main/docs/protocol.md#7-queue-limits)):
   * the function's total, all priorities, queued and running, is at or above the priority's limit;
   * 0 is unlimited.
   */
  isFull(priority: Priority): boolean {
    const limit = this.limits[priority];
    return limit > 0 && this.total >= limit;
  }

  /** The head of the highest non-empty priority, without taking it. */
  peek(): Job | undefined {
    return this.queues[0].peek() ?? this.queues[1].peek() ?? this.queues[2].peek();
  }

  /** Takes the oldest job of the highest non-empty priority. */
  shift(): Job | undefined {
    const [high, normal, low] = this.queues;
    if (high.length > 0) return high.shift();
    if (normal.length > 0) return normal.shift();
    return low.shift();
  }
}

/**
 * The key a submission de-duplicates on, or undefined when it creates a job regardless
 * ([protocol.md 4.3](https://github.com/gearmanode/gearmanode/blob/main/docs/protocol.md#43-unique-ids-and-de-duplication-coalescing)):
 * the unique itself; for the unique `-` with a payload, the payload bytes; nothing for an empty
 * unique or `-` with an empty payload. Payload keys start with a NUL, which no unique can contain,
 * so the two kinds share one index.
 */
export function dedupeKey(unique: string, payload: Uint8Array): string | undefined {
  if (unique === '') return undefined;
  if (unique !== '-') return unique;
  if (payload.byteLength === 0) return undefined;
  const bytes = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
  if (bytes.length <= 64) return `\0r${bytes.toString('latin1')}`;
  return `\0h${createHash('sha256').update(bytes).digest('base64')}`;
}

/** What a submission asks for, as `JobStore.submit` takes it. */
export interface SubmitRequest {
  functionName: string;
  unique: string;
  payload: Buffer;
  priority: Priority;
  background: boolean;
  reducer?: string;
  /** Unix time in ms; 0 or a past time means now. */
  runAt?: number;
}

/** The outcome of a submission: a job (new or coalesced), or the ERROR to answer with. */
export type SubmitResult =
  | { ok: true; job: Job; created: boolean }
  | { ok: false; code: 'ARGUMENT_TOO_LARGE' | 'QUEUE_ERROR'; message: string };

/** Copy a payload when it is a small view into a larger buffer, so it does not pin the chunk. */
function ownPayload(payload: Buffer): Buffer {
  return payload.byteLength * 2 < payload.buffer.byteLength ? Buffer.from(payload) : payload;
}

/** The server's jobs and functions, and the rules that need no socket: submit, take, dispose. */
export class JobStore {
  readonly jobs = new Map<string, Job>();
  readonly functions = new Map<string, FunctionEntry>();
  /** The limits new functions start with (the `maxQueue` option). */
  defaultLimits: QueueLimits;
  readonly #handlePrefix: string;
  #counter = 0;

  constructor(handlePrefix: string, defaultLimits: QueueLimits = [0, 0, 0]) {
    this.#handlePrefix = `${handlePrefix}:`;
    this.defaultLimits = defaultLimits;
  }

  /** The function entry for `name`, created on first use (as gearmand does). */
  function(name: string): FunctionEntry {
    let fn = this.functions.get(name);
    if (fn === undefined) {
      fn = new FunctionEntry(name, [...this.defaultLimits]);
      this.functions.set(name, fn);
    }
    return fn;
  }

  /**
   * Submits a job: validates sizes, coalesces onto an existing job with the same key, checks
   * the queue limit, or creates the job (state `queued` or `delayed`, not yet in a queue: the
   * caller schedules it). `waiter` is the foreground submitter; none for background requests.
   */
  submit(request: SubmitRequest, waiter: Peer | undefined): SubmitResult {
    const { unique, payload } = request;
    // UTF-8 takes at most 3 bytes per UTF-16 unit, so short strings need no byte count.
    if (unique.length > MAX_UNIQUE_SIZE / 3 && Buffer.byteLength(unique) > MAX_UNIQUE_SIZE) {
      return { ok: false, code: 'ARGUMENT_TOO_LARGE', message: 'Unique value too large' };
    }
    const reducer = request.reducer ?? '';
    if (reducer.length > MAX_REDUCER_SIZE / 3 && Buffer.byteLength(reducer) > MAX_REDUCER_SIZE) {
      // PROTOCOL section 8: gearmand's message for the reducer is the unique's.
      return { ok: false, code: 'ARGUMENT_TOO_LARGE', message: 'Unique value too large' };
    }
    const fn = this.function(request.functionName);
    const key = dedupeKey(unique, payload);
    if (key !== undefined) {
      const existing = fn.uniques.get(key);
      if (existing !== undefined) {
        // PROTOCOL 4.3 and section 7: the later payload, priority and kind are ignored, and a
        // coalesced submission is never refused.
        if (request.background) existing.background = true;
        else this.addWaiter(existing, waiter);
        if (existing.abandoned) this.revive(existing);
        return { ok: true, job: existing, created: false };
      }
    }
    if (fn.isFull(request.priority)) {
      return { ok: false, code: 'QUEUE_ERROR', message: 'Job queue is full' };
    }
    const runAt = request.runAt ?? 0;
    const seq = ++this.#counter;
    const job = new Job({
      handle: this.#handlePrefix + seq,
      seq,
      fn,
      unique,
      key,
      payload: ownPayload(payload),
      priority: request.priority,
      reducer,
      runAt,
      background: request.background,
    });
    if (!request.background) this.addWaiter(job, waiter);
    this.jobs.set(job.handle, job);
    if (key !== undefined) fn.uniques.set(key, job);
    fn.total++;
    return { ok: true, job, created: true };
  }

  /**
   * Adds a foreground waiter; the same peer may wait several times
   * ([protocol.md 4.3](https://github.com/gearmanode/gearmanode/blob/main/docs/protocol.md#43-unique-ids-and-de-duplication-coalescing)).
   */
  addWaiter(job: Job, peer: Peer | undefined): void {
    if (peer === undefined) return;
    job.waiters.push(peer);
    peer.waiting.set(job, (peer.waiting.get(job) ?? 0) + 1);
  }

  /** Removes every wait of `peer` on `job`, abandoning the job if nobody holds it any more. */
  removeWaiter(job: Job, peer: Peer): void {
    let kept = 0;
    const waiters = job.waiters;
    for (let i = 0; i < waiters.length; i++) {
      const waiter = waiters[i] as Peer;
      if (waiter !== peer) waiters[kept++] = waiter;
    }
    waiters.length = kept;
    if (kept === 0 && !job.background) this.abandon(job);
  }

  /** Drops every waiter of `job` (after they were sent a terminal packet). */
  clearWaiters(job: Job): void {
    for (const peer of job.waiters) peer.waiting.delete(job);
    job.waiters.length = 0;
  }

  /**
   * Marks a job nobody wants
   * ([protocol.md 6.4](https://github.com/gearmanode/gearmanode/blob/main/docs/protocol.md#64-foreground-background-abandonment)):
   * a queued one is thrown away when it reaches the head of its queue, a running one runs on with
   * its results dropped.
   */
  abandon(job: Job): void {
    if (job.abandoned || job.state === 'gone') return;
    job.abandoned = true;
    if (job.state !== 'queued') return;
    const fn = job.fn;
    fn.abandonedQueued++;
    // Bound the memory of abandoned jobs in a queue no worker drains: compact when they are
    // most of it. gearmand keeps them until a GRAB reaches them.
    if (fn.abandonedQueued >= 1024 && fn.abandonedQueued * 2 >= fn.queued) {
      for (const queue of fn.queues) {
        queue.removeWhere((queued) => {
          if (!queued.abandoned) return false;
          this.dispose(queued);
          return true;
        });
      }
      fn.abandonedQueued = 0;
    }
  }

  /** Un-abandons a job that a new submission coalesced onto. */
  revive(job: Job): void {
    if (!job.abandoned) return;
    job.abandoned = false;
    if (job.state === 'queued') job.fn.abandonedQueued--;
  }

  /** Stops a job from de-duplicating: later submissions with its unique create a new job. */
  forgetUnique(job: Job): void {
    if (job.key !== undefined && job.fn.uniques.get(job.key) === job)
      job.fn.uniques.delete(job.key);
    job.key = undefined;
  }

  /** Puts a job at the tail of its priority queue. */
  enqueue(job: Job): void {
    job.state = 'queued';
    job.fn.queues[job.priority].push(job);
    if (job.abandoned) job.fn.abandonedQueued++;
  }

  /** Takes the next job of `fn` for a worker, throwing away abandoned jobs on the way. */
  take(fn: FunctionEntry): Job | undefined {
    for (;;) {
      const job = fn.shift();
      if (job === undefined) return undefined;
      if (!job.abandoned) return job;
      fn.abandonedQueued--;
      this.dispose(job);
    }
  }

  /** Whether `fn` has a job to hand out, throwing away abandoned jobs at the heads. */
  hasWork(fn: FunctionEntry): boolean {
    for (;;) {
      const job = fn.peek();
      if (job === undefined) return false;
      if (!job.abandoned) return true;
      fn.shift();
      fn.abandonedQueued--;
      this.dispose(job);
    }
  }

  /**
   * Forgets a job that is finished, failed, discarded or cancelled. The caller has taken it out
   * of its queue, the epoch heap or its worker first.
   */
  dispose(job: Job): void {
    if (job.state === 'gone') return;
    if (job.state === 'delayed') job.fn.delayed--;
    job.state = 'gone';
    this.jobs.delete(job.handle);
    this.forgetUnique(job);
    job.fn.total--;
    if (job.waiters.length > 0) this.clearWaiters(job);
  }

  /**
   * The job GET_STATUS_UNIQUE reports on: any function's job with this unique
   * ([protocol.md 4.4](https://github.com/gearmanode/gearmanode/blob/main/docs/protocol.md#44-options-status-and-housekeeping)
   * says the lookup ignores the function).
   */
  findUnique(unique: string): Job | undefined {
    if (unique === '') return undefined;
    for (const fn of this.functions.values()) {
      const job = fn.uniques.get(unique);
      if (job !== undefined) return job;
    }
    return undefined;
  }
}
