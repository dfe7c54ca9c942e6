/**
 * The server's state as data
 * ([protocol.md 6.1](https://github.com/gearmanode/gearmanode/blob/main/docs/protocol.md#61-state)):
 * jobs, the functions they belong to with their queues, and peers with their registrations. The
 * rules that change it live in `job-store.ts` and the dispatcher; nothing here sends a packet or
 * starts a timer.
 */
import { Buffer } from 'node:buffer';
import type { SubmitKind } from '@gearmanode/protocol';
import { HeldJobs } from './held-jobs.js';

/** Queue index of a priority: 0 high, 1 normal, 2 low (the order GRAB looks at them). */
export type Priority = 0 | 1 | 2;
export const HIGH: Priority = 0;
export const NORMAL: Priority = 1;
export const LOW: Priority = 2;

/** The queue index of each SUBMIT_* priority (protocol's `SubmitKind.priority`). */
export const PRIORITIES: Readonly<Record<SubmitKind['priority'], Priority>> = {
  high: HIGH,
  normal: NORMAL,
  low: LOW,
};

/**
 * A job's payload as it arrived: one buffer, or a large one as the chunks it was read in (the
 * decoder's `onPayloadParts`), which go back out with one vectored write instead of being joined.
 */
export type Payload = Buffer | readonly Buffer[];

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
  /**
   * The submission's body as received (`function\0unique\0payload`), kept when it came as a
   * plain SUBMIT_JOB* in one piece: JOB_ASSIGN* is then built from these bytes (see
   * `replies.ts`), not encoded again from the decoded strings.
   */
  readonly wire: Buffer | undefined;
  /** One of the three is set: the payload, the parts it arrived in, or its offset in `wire`. */
  #payload: Buffer | undefined;
  #payloadParts: readonly Buffer[] | undefined;
  #payloadStart = -1;
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
  /**
   * The peer whose first wait made it wait on the job, which lists the job through
   * `waitPrev`/`waitNext` (see `Peer.addWait`).
   */
  waitOwner: Peer | null = null;
  waitPrev: Job | null = null;
  waitNext: Job | null = null;
  /** The neighbours in its worker's `HeldJobs` list while running: older, newer. */
  heldPrev: Job | null = null;
  heldNext: Job | null = null;
  /** Position in the epoch heap while delayed. */
  heapIndex = -1;
  /** The store has reported the job's end (cancelled jobs may stay in a queue a while). */
  ended = false;
  /**
   * The durable store's commit that writes the job's row (see `GroupCommit`), 0 when the job
   * has none: foreground, or no store configured.
   */
  commit = 0;
  /** The row's unique in the durable store: `unique`, or a generated one where that is no key. */
  storeKey = '';

  constructor(init: {
    handle: string;
    seq: number;
    fn: FunctionEntry;
    unique: string;
    key: string | undefined;
    /** The payload, or, with `wire`, its size (the last bytes of `wire`). */
    payload: Payload | number;
    wire?: Buffer | undefined;
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
    const { payload, wire } = init;
    this.wire = wire;
    if (typeof payload === 'number') this.#payloadStart = (wire as Buffer).length - payload;
    else if (Array.isArray(payload)) this.#payloadParts = payload as readonly Buffer[];
    else this.#payload = payload as Buffer;
    this.priority = init.priority;
    this.reducer = init.reducer;
    this.runAt = init.runAt;
    this.background = init.background;
  }

  /**
   * The payload in one buffer. A payload kept as parts is joined on first read (one copy, for
   * what needs it whole, such as the durable store) and kept joined from then on.
   */
  get payload(): Buffer {
    if (this.#payloadStart >= 0) {
      // A view of the wire bytes, made only when something asks (most jobs never do).
      this.#payload = (this.wire as Buffer).subarray(this.#payloadStart);
      this.#payloadStart = -1;
    }
    const parts = this.#payloadParts;
    if (parts !== undefined) {
      this.#payload = Buffer.concat(parts);
      this.#payloadParts = undefined;
    }
    return this.#payload as Buffer;
  }

  /** The parts a large payload arrived in, until something has read `payload`; else undefined. */
  get payloadParts(): readonly Buffer[] | undefined {
    return this.#payloadParts;
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

/** One CAN_DO or CAN_DO_TIMEOUT of a connection. */
export interface Registration {
  readonly fn: FunctionEntry;
  /** Server-side time limit per job in milliseconds, or 0 for none (plain CAN_DO). */
  readonly timeout: number;
}

/** A frame held back until a store commit, with what to send instead if that commit fails. */
interface HeldFrame {
  frame: Buffer;
  commit: number;
  failed: Buffer | undefined;
}

/**
 * The protocol state of one peer connection
 * ([protocol.md 6.1](https://github.com/gearmanode/gearmanode/blob/main/docs/protocol.md#61-state),
 * "Per connection"), without the socket. `PeerConnection` extends it; unit tests use a recording
 * subclass.
 */
export abstract class Peer {
  /** Shown as the first column of the `workers` admin listing, where gearmand shows its fd. */
  readonly id: number;
  /** Shown as the second column of `workers`. */
  readonly remoteAddress: string;
  /** SET_CLIENT_ID; `-` until one is set. */
  clientId = '-';
  /** OPTION_REQ `exceptions`: receive WORK_EXCEPTION instead of WORK_FAIL. */
  exceptions = false;
  /** PRE_SLEEP was sent and no GRAB since. */
  sleeping = false;
  /**
   * A NOOP was sent for the current sleep
   * ([protocol.md 5.2](https://github.com/gearmanode/gearmanode/blob/main/docs/protocol.md#52-getting-work):
   * at most one per sleep).
   */
  noopSent = false;
  /** CAN_DO registrations, oldest first; duplicates allowed (section 11, item 29). */
  readonly registrations: Registration[] = [];
  /** Jobs assigned to this peer, in the order they were assigned. */
  readonly held = new HeldJobs<Job>();
  /**
   * Foreground jobs this peer waits on, in two parts: those it was the first to wait on, in a
   * list linked through the jobs (newest first), and the others (coalesced submissions onto
   * another peer's job). A Map of every job would be filled and emptied once per job, where
   * the list costs a few field stores.
   */
  #owned: Job | null = null;
  readonly #joined = new Set<Job>();
  /** Set once the peer has gone; nothing more is sent to it. */
  gone = false;

  constructor(id: number, remoteAddress: string) {
    this.id = id;
    this.remoteAddress = remoteAddress;
  }

  /**
   * Records a wait of this peer on `job`; call it before adding the peer to `job.waiters`.
   * Waits are recorded per job, not per submission: `dropWaits` forgets them all.
   */
  addWait(job: Job): void {
    if (job.waiters.length > 0) {
      if (job.waitOwner !== this) this.#joined.add(job);
      return;
    }
    // The first wait on the job: no peer lists it yet.
    const newest = this.#owned;
    job.waitOwner = this;
    job.waitPrev = null;
    job.waitNext = newest;
    if (newest !== null) newest.waitPrev = job;
    this.#owned = job;
  }

  /** Forgets this peer's waits on `job`. */
  dropWaits(job: Job): void {
    if (job.waitOwner !== this) {
      this.#joined.delete(job);
      return;
    }
    const { waitPrev: prev, waitNext: next } = job;
    if (prev !== null) prev.waitNext = next;
    else this.#owned = next;
    if (next !== null) next.waitPrev = prev;
    job.waitOwner = null;
    job.waitPrev = null;
    job.waitNext = null;
  }

  /** The jobs this peer waits on. */
  waitedJobs(): Job[] {
    const jobs = [...this.#joined];
    for (let job = this.#owned; job !== null; job = job.waitNext) jobs.push(job);
    return jobs;
  }

  /**
   * Frames waiting for a store commit, oldest first; undefined while none waits, so that
   * without a store `send` costs one more field check.
   */
  #held: HeldFrame[] | undefined;

  /**
   * Queues a frame for this peer. Frames go out in the order they were queued: behind a frame
   * held for a commit, later ones wait too.
   */
  send(frame: Buffer): void {
    const held = this.#held;
    if (held === undefined) this.write(frame);
    else
      held.push({ frame, commit: (held[held.length - 1] as HeldFrame).commit, failed: undefined });
  }

  /**
   * Queues a frame that may go out only once store commit `commit` has succeeded; `failed`
   * goes in its place if that commit fails. Returns false when nothing was held (already
   * committed), after sending the frame as `send` does.
   */
  sendAfterCommit(frame: Buffer, commit: number, committed: number, failed: Buffer): boolean {
    if (commit <= committed) {
      this.send(frame);
      return false;
    }
    if (this.#held === undefined) this.#held = [];
    this.#held.push({ frame, commit, failed });
    return true;
  }

  /** Sends the held frames whose commit has finished: `ok` tells whether the last one did. */
  releaseCommitted(commit: number, ok: boolean): void {
    const held = this.#held;
    if (held === undefined) return;
    let i = 0;
    for (; i < held.length; i++) {
      const entry = held[i] as HeldFrame;
      if (entry.commit > commit) break;
      this.write(!ok && entry.commit === commit && entry.failed ? entry.failed : entry.frame);
    }
    if (i === held.length) this.#held = undefined;
    else held.splice(0, i);
  }

  /**
   * Asks for this peer's queued output to go out before other peers' in this turn: a worker
   * does nothing until its JOB_ASSIGN, NO_JOB or NOOP arrives, while a client's results can wait
   * a write. Nothing by default.
   */
  expedite(): void {}

  /** Writes a frame to the peer's output, in order. */
  protected abstract write(frame: Buffer): void;

  /** Whether this peer has more output queued than it should (see `PeerConnection`). */
  abstract get congested(): boolean;

  /**
   * Stops reading from this peer until `other` has drained its output: the backpressure for
   * WORK_* packets this peer produces and `other` does not read.
   */
  abstract pauseUntilDrained(other: Peer): void;
}
