import type { ConnectionError, GearmanError } from '@gearmanode/protocol';
import pRetry from 'p-retry';
import type { RetryOptions } from './options.js';
import { RETRYING, type Submission } from './submission.js';
import { traceRetry } from './submit-trace.js';

/** What retrying needs of the client. */
export interface RetryHost {
  /** The client is closed: nothing is sent again. */
  readonly isClosed: boolean;
  /** Whether some server would take a job with this unique now. */
  hasServerFor(unique: string): boolean;
  /** Sends the submission to the best server (the outcome comes back through the submission). */
  dispatch(submission: Submission): void;
  fail(submission: Submission, error: unknown): void;
  /** One more attempt went out (for `stats()`). */
  countRetry(): void;
}

/**
 * The `retry` option: a submit whose connection was lost is sent again with p-retry's backoff
 * when that is safe, always when nothing reached a server, and after sending only for jobs
 * that may run twice (a `unique`, or `idempotent`).
 */
export class Retrier {
  readonly #retry: Required<RetryOptions>;
  readonly #host: RetryHost;
  /** Submissions between attempts. */
  readonly retrying = new Set<Submission>();

  constructor(retry: Required<RetryOptions>, host: RetryHost) {
    this.#retry = retry;
    this.#host = host;
  }

  /** An attempt failed with `error`: try again if allowed, else fail the submission. */
  retryOrFail(submission: Submission, error: GearmanError): void {
    const attempt = submission.attempt;
    if (attempt !== undefined) {
      submission.attempt = undefined;
      submission.state = RETRYING;
      attempt.reject(error); // p-retry decides
      return;
    }
    if (this.#canRetry(submission, error) && !this.#host.isClosed) {
      submission.state = RETRYING;
      this.#start(submission, error);
      return;
    }
    this.#host.fail(submission, error);
  }

  #canRetry(submission: Submission, error: unknown): boolean {
    if (this.#retry.retries === 0 || submission.done) return false;
    if ((error as GearmanError | undefined)?.code !== 'ERR_CONNECTION') return false;
    // Sent and maybe run: only a job that may run twice is sent again.
    return !(error as ConnectionError).maybeRan || submission.retriable;
  }

  /** Sends the submission again with backoff; the first retry goes out at once. */
  #start(submission: Submission, firstError: GearmanError): void {
    const retry = this.#retry;
    const host = this.#host;
    const controller = new AbortController();
    submission.retryAbort = controller;
    this.retrying.add(submission);
    let lastError: unknown = firstError;
    pRetry(
      async (attemptNumber) => {
        // With no server up, an immediate retry would only fail again: wait for the backoff.
        if (attemptNumber === 1 && !host.hasServerFor(submission.unique)) {
          await new Promise((resolve) => setTimeout(resolve, retry.minTimeout).unref());
        }
        if (submission.done) return;
        await new Promise<void>((resolve, reject) => {
          host.countRetry();
          traceRetry(submission, attemptNumber, lastError);
          submission.attempt = { resolve, reject };
          host.dispatch(submission);
        });
      },
      {
        retries: retry.retries - 1,
        minTimeout: retry.minTimeout,
        maxTimeout: retry.maxTimeout,
        factor: retry.factor,
        randomize: retry.randomize,
        signal: controller.signal,
        unref: true,
        shouldRetry: ({ error }) => this.#canRetry(submission, error),
        onFailedAttempt: ({ error }) => {
          lastError = error;
        },
      },
    ).then(
      () => this.retrying.delete(submission),
      (error: unknown) => {
        this.retrying.delete(submission);
        submission.retryAbort = undefined;
        if (!submission.done) host.fail(submission, error);
      },
    );
  }
}
