/**
 * What the list needs of a job: its handle, and the two links it keeps for the list (held
 * here as a shape rather than `model.ts`'s `Job`, which holds a `HeldJobs` and so would make
 * the two files import each other).
 */
export interface HeldLinks<J> {
  readonly handle: string;
  heldPrev: J | null;
  heldNext: J | null;
}

/** How many of a worker's newest jobs a handle is looked for among before the server-wide index. */
const SCAN_LIMIT = 8;

/**
 * The jobs one worker holds, oldest to newest, as a list linked through the jobs themselves
 * (`Job.heldPrev`, `Job.heldNext`). A worker usually holds one job, or a few: a Map or Set here
 * is emptied and filled again once per job, and V8 shrinks and regrows its table each time,
 * where the list costs two field stores. WORK_* packets find their job by scanning the newest
 * few; `find` gives up beyond them, and the caller asks the server-wide index instead.
 */
export class HeldJobs<Job extends HeldLinks<Job>> {
  #newest: Job | null = null;
  #size = 0;

  get size(): number {
    return this.#size;
  }

  /** Adds a job that no worker holds. */
  add(job: Job): void {
    const newest = this.#newest;
    job.heldPrev = newest;
    job.heldNext = null;
    if (newest !== null) newest.heldNext = job;
    this.#newest = job;
    this.#size++;
  }

  /** Removes a job this list holds. */
  delete(job: Job): void {
    const { heldPrev: prev, heldNext: next } = job;
    if (prev !== null) prev.heldNext = next;
    if (next !== null) next.heldPrev = prev;
    else this.#newest = prev;
    job.heldPrev = null;
    job.heldNext = null;
    this.#size--;
  }

  /**
   * The held job with this handle among the newest `SCAN_LIMIT`: undefined when it is not
   * held, or, unless `scannedAll`, when it may be held further back.
   */
  find(handle: string): Job | undefined {
    let job = this.#newest;
    for (let i = 0; job !== null && i < SCAN_LIMIT; i++) {
      if (job.handle === handle) return job;
      job = job.heldPrev;
    }
    return undefined;
  }

  /** Whether `find` looked at every held job. */
  get scannedAll(): boolean {
    return this.#size <= SCAN_LIMIT;
  }

  /** The held jobs, newest first. */
  newestFirst(): Job[] {
    const jobs: Job[] = [];
    for (let job = this.#newest; job !== null; job = job.heldPrev) jobs.push(job);
    return jobs;
  }
}
