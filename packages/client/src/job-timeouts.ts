import { Deadlines, MAX_DELAY } from '@gearmanode/core';
import type { Submission } from './submission.js';

/**
 * The `timeout` of every submit in flight, on one timer: it is armed for the earliest deadline
 * and re-armed when it fires, so a client with thousands of jobs keeps one timer.
 */
export class JobTimeouts {
  readonly #deadlines = new Deadlines<Submission>();
  readonly #onExpire: (submission: Submission) => void;
  #timer: NodeJS.Timeout | undefined;
  #timerAt = 0;

  constructor(onExpire: (submission: Submission) => void) {
    this.#onExpire = onExpire;
  }

  get size(): number {
    return this.#deadlines.size;
  }

  start(submission: Submission): void {
    this.#deadlines.add(submission, Date.now());
    this.#arm();
  }

  stop(submission: Submission): void {
    this.#deadlines.delete(submission);
  }

  /** Stops every clock and returns the submissions that had one. */
  clear(): Submission[] {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    return this.#deadlines.clear();
  }

  #arm(): void {
    const next = this.#deadlines.next();
    if (next === undefined) return;
    if (this.#timer !== undefined) {
      if (this.#timerAt <= next) return;
      clearTimeout(this.#timer);
    }
    this.#timerAt = next;
    this.#timer = setTimeout(this.#fire, Math.min(Math.max(0, next - Date.now()), MAX_DELAY));
    this.#timer.unref();
  }

  readonly #fire = (): void => {
    this.#timer = undefined;
    for (const submission of this.#deadlines.expire(Date.now())) {
      if (!submission.done) this.#onExpire(submission);
    }
    this.#arm();
  };
}
