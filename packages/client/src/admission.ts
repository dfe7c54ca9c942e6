import { QUEUED, type Submission } from './submission.js';

/**
 * The client's `maxInFlight` budget: submits waiting for JOB_CREATED or their result hold a
 * slot; the others wait here, in order, before anything is written. The wait queue is an
 * intrusive list through the submissions, so leaving it from the middle (an abort, a timeout)
 * costs O(1) and allocates nothing.
 */
export class Admission {
  readonly #limit: number;
  readonly #send: (submission: Submission) => void;
  readonly #canSend: () => boolean;
  #head: Submission | undefined;
  #tail: Submission | undefined;
  #queued = 0;
  #inFlight = 0;
  #pumping = false;
  /** While set, nothing is sent: the socket is over its high-water mark. */
  blocked = false;

  /**
   * `send` writes a submission that was just given a slot; `canSend` says whether a server would
   * take one now (false while every server is suspect or owes its share of replies: submissions
   * then wait here, and `pump()` is called when that changes).
   */
  constructor(limit: number, send: (submission: Submission) => void, canSend: () => boolean) {
    this.#limit = limit;
    this.#send = send;
    this.#canSend = canSend;
  }

  get limit(): number {
    return this.#limit;
  }

  get queued(): number {
    return this.#queued;
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  /** The first submission waiting for a slot. */
  get head(): Submission | undefined {
    return this.#head;
  }

  /** Sends the submission now if a slot is free and nobody waits ahead of it, else queues it. */
  admit(submission: Submission): void {
    if (
      this.#inFlight < this.#limit &&
      this.#head === undefined &&
      !this.blocked &&
      this.#canSend()
    ) {
      this.#take(submission);
    } else {
      this.#enqueue(submission);
    }
  }

  /** A queued submission is settled before it was sent: it leaves the queue. */
  leave(submission: Submission): void {
    if (submission.state === QUEUED && !submission.holdsSlot) {
      if (submission.prev !== undefined || this.#head === submission) this.#unlink(submission);
    }
  }

  /** A sent submission is settled: its slot goes to the next one waiting. */
  free(submission: Submission): void {
    if (submission.holdsSlot) {
      submission.holdsSlot = false;
      this.#inFlight--;
      if (this.#head !== undefined) this.pump();
    }
  }

  /** Sends queued submissions while slots are free. Not reentrant: a nested call returns. */
  pump(): void {
    if (this.#pumping) return;
    this.#pumping = true;
    try {
      while (
        this.#head !== undefined &&
        this.#inFlight < this.#limit &&
        !this.blocked &&
        this.#canSend()
      ) {
        const submission = this.#head;
        this.#unlink(submission);
        this.#take(submission);
      }
    } finally {
      this.#pumping = false;
    }
  }

  #take(submission: Submission): void {
    submission.holdsSlot = true;
    this.#inFlight++;
    this.#send(submission);
  }

  #enqueue(submission: Submission): void {
    submission.state = QUEUED;
    submission.prev = this.#tail;
    if (this.#tail === undefined) this.#head = submission;
    else this.#tail.next = submission;
    this.#tail = submission;
    this.#queued++;
  }

  #unlink(submission: Submission): void {
    const { prev, next } = submission;
    if (prev === undefined) this.#head = next;
    else prev.next = next;
    if (next === undefined) this.#tail = prev;
    else next.prev = prev;
    submission.prev = undefined;
    submission.next = undefined;
    this.#queued--;
  }
}
