import { Deadlines } from '@gearmanode/core';
import type { JobImpl } from './job.js';

const NONE: readonly JobImpl[] = Object.freeze([]);

/**
 * The time limits of the running jobs, checked from the worker's one shared timer: a job's clock
 * starts when the consumer is given the job, not when the server assigned it.
 */
export class TimeLimits {
  readonly #deadlines = new Deadlines<JobImpl>();

  /** Starts the clock of `job` at `now`, if it has a time limit. */
  start(job: JobImpl, now: number): void {
    if (job.timeout > 0) this.#deadlines.add(job, now);
  }

  stop(job: JobImpl): void {
    if (job.timeout > 0) this.#deadlines.delete(job);
  }

  /** Removes and returns the jobs whose time limit has passed at `now`. */
  expired(now: number): readonly JobImpl[] {
    // Called on every tick: no array while no job has a time limit.
    return this.#deadlines.size === 0 ? NONE : this.#deadlines.expire(now);
  }

  clear(): void {
    this.#deadlines.clear();
  }
}
