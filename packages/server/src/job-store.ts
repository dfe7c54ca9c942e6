import { Buffer } from 'node:buffer';
import { createHash } from 'node:crypto';
import { MAX_REDUCER_SIZE, MAX_UNIQUE_SIZE, ownPayload } from '@gearmanode/protocol';
import {
  FunctionEntry,
  Job,
  type Payload,
  type Peer,
  type Priority,
  type QueueLimits,
} from './model.js';

/**
 * The key a submission de-duplicates on, or undefined when it creates a job regardless
 * ([protocol.md 4.3](https://github.com/gearmanode/gearmanode/blob/main/docs/protocol.md#43-unique-ids-and-de-duplication-coalescing)):
 * the unique itself; for the unique `-` with a payload, the payload bytes; nothing for an empty
 * unique or `-` with an empty payload. Payload keys start with a NUL, which no unique can contain,
 * so the two kinds share one index. A payload in parts is hashed part by part, to the key its
 * joined bytes would give.
 */
export function dedupeKey(
  unique: string,
  payload: Uint8Array | readonly Uint8Array[],
): string | undefined {
  if (unique === '') return undefined;
  if (unique !== '-') return unique;
  if (Array.isArray(payload)) return partsKey(payload as readonly Uint8Array[]);
  return bytesKey(payload as Uint8Array);
}

function partsKey(parts: readonly Uint8Array[]): string | undefined {
  let size = 0;
  for (const part of parts) size += part.byteLength;
  if (size <= 64) return bytesKey(Buffer.concat(parts, size));
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part);
  return `\0h${hash.digest('base64')}`;
}

function bytesKey(payload: Uint8Array): string | undefined {
  if (payload.byteLength === 0) return undefined;
  const bytes = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
  if (bytes.length <= 64) return `\0r${bytes.toString('latin1')}`;
  return `\0h${createHash('sha256').update(bytes).digest('base64')}`;
}

/** Whether `text` takes more than `max` bytes in UTF-8. */
export function longerThan(text: string, max: number): boolean {
  // UTF-8 takes at most 3 bytes per UTF-16 unit, so short strings need no byte count.
  return text.length > max / 3 && Buffer.byteLength(text) > max;
}

/** What a submission asks for, as `JobStore.submit` takes it. */
export interface SubmitRequest {
  functionName: string;
  unique: string;
  /** One buffer, or a large payload as the parts it arrived in (kept as such, not joined). */
  payload: Payload;
  /**
   * The submission's body as received, `function\0unique\0payload` with `payload` its last
   * bytes: given for a plain SUBMIT_JOB* (no reducer, no epoch), whose job is then assigned
   * from these bytes.
   */
  wire?: Buffer | undefined;
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

/** How a job left the server. */
export type JobEnd =
  /** A worker sent WORK_COMPLETE. */
  | 'completed'
  /** A worker sent WORK_FAIL or WORK_EXCEPTION, or the job ran out of `jobRetries`. */
  | 'failed'
  /** The admin command `cancel job`. */
  | 'cancelled'
  /** Nobody wanted it any more: thrown away from a queue, or its result dropped. */
  | 'discarded';

/**
 * Told about the jobs a store takes in and lets go: the place for a durable queue of background
 * jobs. Calls are synchronous and in the order the store's state changed; a durable queue
 * records them and sets `job.commit` to the commit that makes them durable, which the
 * dispatcher waits for before it sends JOB_CREATED (see `GroupCommit`).
 */
export interface JobStoreHooks {
  /**
   * A job became a background job: a new one, or a foreground one a background submission
   * coalesced onto (before its JOB_CREATED is sent). Not called for restored jobs.
   */
  accepted?(job: Job): void;
  /** A job ended; called once per job, background or not. */
  ended?(job: Job, end: JobEnd): void;
}

/**
 * The server's jobs and functions, and the rules that need no socket: submit, take, cancel,
 * dispose. Every job enters through `submit` and ends through `dispose` or `cancel`, the two
 * places `JobStoreHooks` are called from.
 */
export class JobStore {
  /**
   * Every job not yet gone, by `seq`: a number key is hashed and compared without reading a
   * string, which matters in a map as large as the queues. `find` looks a handle up.
   */
  readonly jobs = new Map<number, Job>();
  readonly functions = new Map<string, FunctionEntry>();
  /** The limits new functions start with (the `maxQueue` option). */
  defaultLimits: QueueLimits;
  readonly #handlePrefix: string;
  readonly #hooks: JobStoreHooks;
  #counter = 0;

  constructor(
    handlePrefix: string,
    defaultLimits: QueueLimits = [0, 0, 0],
    hooks: JobStoreHooks = {},
  ) {
    this.#handlePrefix = `${handlePrefix}:`;
    this.defaultLimits = defaultLimits;
    this.#hooks = hooks;
  }

  /** The job with this handle, if it is not gone. */
  find(handle: string): Job | undefined {
    const prefix = this.#handlePrefix;
    const end = handle.length;
    // Handles are the prefix and `seq` in decimal: no more digits than a safe integer has.
    if (end <= prefix.length || end > prefix.length + 15 || !handle.startsWith(prefix)) {
      return undefined;
    }
    let seq = 0;
    for (let i = prefix.length; i < end; i++) {
      const digit = handle.charCodeAt(i) - 48;
      if (digit < 0 || digit > 9) return undefined;
      seq = seq * 10 + digit;
    }
    const job = this.jobs.get(seq);
    // Leading zeros, or a `+`, would find a job by another spelling of its number.
    return job !== undefined && job.handle === handle ? job : undefined;
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
    return this.#submit(request, waiter, false);
  }

  /**
   * Takes back a background job from the durable store at start: no hook is called, queue
   * limits do not apply, and the job keeps its row (`storeKey`, committed as `commit`).
   */
  restore(request: SubmitRequest, storeKey: string, commit: number): SubmitResult {
    const result = this.#submit({ ...request, background: true }, undefined, true);
    if (result.ok && result.created) {
      result.job.storeKey = storeKey;
      result.job.commit = commit;
    }
    return result;
  }

  #submit(request: SubmitRequest, waiter: Peer | undefined, restoring: boolean): SubmitResult {
    const { unique, payload } = request;
    if (longerThan(unique, MAX_UNIQUE_SIZE)) {
      return { ok: false, code: 'ARGUMENT_TOO_LARGE', message: 'Unique value too large' };
    }
    const reducer = request.reducer ?? '';
    if (longerThan(reducer, MAX_REDUCER_SIZE)) {
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
        if (!request.background) this.addWaiter(existing, waiter);
        else if (!existing.background) {
          existing.background = true;
          // Cancelled jobs are no longer held by anyone; they are revived below, unstored.
          if (!existing.ended) this.#hooks.accepted?.(existing);
        }
        if (existing.abandoned) this.revive(existing);
        return { ok: true, job: existing, created: false };
      }
    }
    if (!restoring && fn.isFull(request.priority)) {
      return { ok: false, code: 'QUEUE_ERROR', message: 'Job queue is full' };
    }
    const runAt = request.runAt ?? 0;
    const seq = ++this.#counter;
    // With the wire bytes, the payload is their tail: only its size is kept.
    const wire = request.wire === undefined ? undefined : ownPayload(request.wire);
    const job = new Job({
      handle: this.#handlePrefix + seq,
      seq,
      fn,
      unique,
      key,
      payload:
        wire !== undefined
          ? (payload as Buffer).length
          : Array.isArray(payload)
            ? (payload as readonly Buffer[]).map(ownPayload)
            : ownPayload(payload as Buffer),
      wire,
      priority: request.priority,
      reducer,
      runAt,
      background: request.background,
    });
    if (!request.background && waiter !== undefined) {
      waiter.addWait(job);
      job.waiters.push(waiter);
    }
    this.jobs.set(seq, job);
    if (key !== undefined) fn.uniques.set(key, job);
    fn.total++;
    if (job.background && !restoring) this.#hooks.accepted?.(job);
    return { ok: true, job, created: true };
  }

  /**
   * Adds a foreground waiter; the same peer may wait several times
   * ([protocol.md 4.3](https://github.com/gearmanode/gearmanode/blob/main/docs/protocol.md#43-unique-ids-and-de-duplication-coalescing)).
   */
  addWaiter(job: Job, peer: Peer | undefined): void {
    if (peer === undefined) return;
    peer.addWait(job);
    job.waiters.push(peer);
  }

  /** Removes every wait of `peer` on `job`, abandoning the job if nobody holds it any more. */
  removeWaiter(job: Job, peer: Peer): void {
    peer.dropWaits(job);
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
    for (const peer of job.waiters) peer.dropWaits(job);
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
          this.dispose(queued, 'discarded');
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
    // A job keeps its key only while it is the key's entry (a key of a job in the index is
    // never set again, and forgetting clears it), so the entry is deleted without a lookup.
    if (job.key === undefined) return;
    job.fn.uniques.delete(job.key);
    job.key = undefined;
  }

  /** Holds a new job until its epoch time; the caller hands it to the epoch scheduler. */
  delay(job: Job): void {
    job.state = 'delayed';
    job.fn.delayed++;
  }

  /** Puts a new, due, or lost job at the tail of its priority queue. */
  enqueue(job: Job): void {
    if (job.state === 'delayed') job.fn.delayed--;
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
      this.dispose(job, 'discarded');
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
      this.dispose(job, 'discarded');
    }
  }

  /**
   * Forgets a job that is finished, failed, discarded or cancelled. The caller has taken it out
   * of its queue, the epoch heap or its worker first.
   */
  dispose(job: Job, end: JobEnd): void {
    if (job.state === 'gone') return;
    this.#end(job, end);
    if (job.state === 'delayed') job.fn.delayed--;
    job.state = 'gone';
    this.jobs.delete(job.seq);
    this.forgetUnique(job);
    job.fn.total--;
    if (job.waiters.length > 0) this.clearWaiters(job);
  }

  /**
   * PROTOCOL 6.7, `cancel job`: the waiters (already sent WORK_FAIL) are dropped and the unique
   * freed at once; a delayed job (out of the epoch heap first) goes, a queued one is abandoned
   * and a running one runs on with its result dropped.
   */
  cancel(job: Job): void {
    this.#end(job, 'cancelled');
    if (job.waiters.length > 0) this.clearWaiters(job);
    job.background = false;
    this.forgetUnique(job);
    if (job.state === 'delayed') this.dispose(job, 'cancelled');
    else this.abandon(job);
  }

  #end(job: Job, end: JobEnd): void {
    if (job.ended) return;
    job.ended = true;
    this.#hooks.ended?.(job, end);
  }

  /**
   * Drops a function nobody uses. Unlike gearmand (section 11, item 32), a function that still
   * has jobs is not dropped: its jobs would be orphaned.
   */
  dropFunction(name: string): 'dropped' | 'busy' | 'missing' {
    const fn = this.functions.get(name);
    if (fn === undefined) return 'missing';
    if (fn.registrations > 0 || fn.total > 0) return 'busy';
    this.functions.delete(name);
    return 'dropped';
  }

  /** `maxqueue`: only functions that exist are affected (section 11, item 33). */
  setLimits(name: string, limits: QueueLimits): void {
    const fn = this.functions.get(name);
    if (fn !== undefined) fn.limits = limits;
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
