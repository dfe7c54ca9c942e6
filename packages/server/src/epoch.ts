import type { Job } from './jobs.js';

/** Earlier time first; jobs due at the same time keep their submission order. */
function before(a: Job, b: Job): boolean {
  return a.runAt < b.runAt || (a.runAt === b.runAt && a.seq < b.seq);
}

// setTimeout fires at once for delays above 2^31 - 1 ms; longer waits re-arm on the way.
const MAX_DELAY = 0x7fffffff;

/**
 * Holds SUBMIT_JOB_EPOCH jobs until their time, in a min-heap by `runAt`, with one timer for
 * the earliest. Due jobs go to `onDue`, which queues them and wakes sleeping workers: the fix
 * for gearmand 1.1.20 leaving them unannounced
 * ([protocol.md section 11](https://github.com/gearmanode/gearmanode/blob/main/docs/protocol.md#11-gearmand-1120-as-observed),
 * item 26).
 */
export class EpochScheduler {
  readonly #heap: Job[] = [];
  readonly #onDue: (job: Job) => void;
  readonly #now: () => number;
  #timer: NodeJS.Timeout | undefined;
  #timerAt = Number.POSITIVE_INFINITY;

  constructor(onDue: (job: Job) => void, now: () => number = Date.now) {
    this.#onDue = onDue;
    this.#now = now;
  }

  get size(): number {
    return this.#heap.length;
  }

  add(job: Job): void {
    job.heapIndex = this.#heap.length;
    this.#heap.push(job);
    this.#up(job.heapIndex);
    if (job.runAt < this.#timerAt) this.#arm();
  }

  /** Takes a job out before its time (admin `cancel job`). */
  remove(job: Job): void {
    const index = job.heapIndex;
    if (index < 0 || this.#heap[index] !== job) return;
    this.#removeAt(index);
    if (index === 0) this.#arm();
  }

  /** Hands every job that is due to `onDue`, in `runAt` order, then re-arms the timer. */
  runDue(): void {
    const now = this.#now();
    const heap = this.#heap;
    while (heap.length > 0 && (heap[0] as Job).runAt <= now) {
      const job = heap[0] as Job;
      this.#removeAt(0);
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

  #removeAt(index: number): void {
    const job = this.#heap[index] as Job;
    const last = this.#heap.pop() as Job;
    job.heapIndex = -1;
    if (index < this.#heap.length) {
      this.#heap[index] = last;
      last.heapIndex = index;
      this.#down(index);
      this.#up(last.heapIndex);
    }
  }

  #arm(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const first = this.#heap[0];
    if (first === undefined) {
      this.#timerAt = Number.POSITIVE_INFINITY;
      return;
    }
    this.#timerAt = first.runAt;
    const delay = Math.min(Math.max(first.runAt - this.#now(), 0), MAX_DELAY);
    this.#timer = setTimeout(() => this.runDue(), delay);
    this.#timer.unref(); // the listening socket keeps the process alive, not a far-off job
  }

  #up(index: number): void {
    const heap = this.#heap;
    const job = heap[index] as Job;
    while (index > 0) {
      const parentIndex = (index - 1) >> 1;
      const parent = heap[parentIndex] as Job;
      if (!before(job, parent)) break;
      heap[index] = parent;
      parent.heapIndex = index;
      index = parentIndex;
    }
    heap[index] = job;
    job.heapIndex = index;
  }

  #down(index: number): void {
    const heap = this.#heap;
    const job = heap[index] as Job;
    const length = heap.length;
    for (;;) {
      const left = 2 * index + 1;
      if (left >= length) break;
      const right = left + 1;
      let child = left;
      if (right < length && before(heap[right] as Job, heap[left] as Job)) child = right;
      const smaller = heap[child] as Job;
      if (!before(smaller, job)) break;
      heap[index] = smaller;
      smaller.heapIndex = index;
      index = child;
    }
    heap[index] = job;
    job.heapIndex = index;
  }
}
