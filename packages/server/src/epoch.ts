import { MinHeap } from './min-heap.js';
import type { Job } from './model.js';

/** Earlier time first; jobs due at the same time keep their submission order. */
function before(a: Job, b: Job): boolean {
  return a.runAt < b.runAt || (a.runAt === b.runAt && a.seq < b.seq);
}

/**
 * The longest delay setTimeout takes (about 24.8 days); it fires at once beyond that. Longer
 * epoch waits re-arm on the way.
 */
export const MAX_DELAY = 0x7fffffff;

/**
 * Holds SUBMIT_JOB_EPOCH jobs until their time, in a min-heap by `runAt`, with one timer for
 * the earliest. Due jobs go to `onDue`, which queues them and wakes sleeping workers: the fix
 * for gearmand 1.1.20 leaving them unannounced
 * ([protocol.md section 11](https://github.com/gearmanode/gearmanode/blob/main/docs/protocol.md#11-gearmand-1120-as-observed),
 * item 26).
 */
export class EpochScheduler {
  readonly #heap = new MinHeap<Job>(before);
  readonly #onDue: (job: Job) => void;
  readonly #now: () => number;
  #timer: NodeJS.Timeout | undefined;
  #timerAt = Number.POSITIVE_INFINITY;

  constructor(onDue: (job: Job) => void, now: () => number = Date.now) {
    this.#onDue = onDue;
    this.#now = now;
  }

  get size(): number {
    return this.#heap.size;
  }

  add(job: Job): void {
    this.#heap.push(job);
    if (job.runAt < this.#timerAt) this.#arm();
  }

  /** Takes a job out before its time (admin `cancel job`). */
  remove(job: Job): void {
    const wasFirst = this.#heap.peek() === job;
    if (this.#heap.remove(job) && wasFirst) this.#arm();
  }

  /** Hands every job that is due to `onDue`, in `runAt` order, then re-arms the timer. */
  runDue(): void {
    const now = this.#now();
    for (
      let job = this.#heap.peek();
      job !== undefined && job.runAt <= now;
      job = this.#heap.peek()
    ) {
      this.#heap.shift();
      this.#onDue(job);
    }
    this.#arm();
  }

  /** Stops the timer; the jobs stay (the server is closing). */
  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAt = Number.POSITIVE_INFINITY;
  }

  #arm(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const first = this.#heap.peek();
    if (first === undefined) {
      this.#timerAt = Number.POSITIVE_INFINITY;
      return;
    }
    this.#timerAt = first.runAt;
    const delay = Math.min(Math.max(first.runAt - this.#now(), 0), MAX_DELAY);
    this.#timer = setTimeout(() => this.runDue(), delay);
    this.#timer.unref(); // the listening socket keeps the process alive, not a far-off job
  }
}
