import type { Buffer } from 'node:buffer';
import {
  ConnectionError,
  type GearmanError,
  JobExceptionError,
  JobFailedError,
  ownPayload,
  type Packet,
  TimeoutError,
} from '@gearmanode/protocol';
import type { Admission } from './admission.js';
import { type ClientCounts, countError } from './client-stats.js';
import { type Dispatcher, holdSlot } from './dispatcher.js';
import { isJobPacket } from './job-table.js';
import type { JobTimeouts } from './job-timeouts.js';
import type { Retrier } from './retry.js';
import type { ServerLink } from './server-link.js';
import { CREATED, DONE, type Submission, type SubmissionOwner } from './submission.js';
import { traceSettled } from './submit-trace.js';

/**
 * The way back in for submissions: JOB_CREATED and request errors, the WORK_* packets routed
 * by handle, lost connections, timeouts and aborts, and settling each submission for its
 * caller exactly once.
 */
export class JobReplies implements SubmissionOwner {
  /** Called after each settle while `close()` waits for the client to go idle. */
  onSettled: (() => void) | undefined;
  readonly #dispatcher: Dispatcher;
  readonly #admission: Admission;
  readonly #retrier: Retrier;
  readonly #timeouts: JobTimeouts;
  readonly #counts: ClientCounts;
  readonly #recoverTime: number;

  constructor(
    dispatcher: Dispatcher,
    timeouts: JobTimeouts,
    counts: ClientCounts,
    recoverTime: number,
  ) {
    this.#dispatcher = dispatcher;
    this.#admission = dispatcher.admission;
    this.#retrier = dispatcher.retrier;
    this.#timeouts = timeouts;
    this.#counts = counts;
    this.#recoverTime = recoverTime;
  }

  /** JOB_CREATED for a submission (SubmissionOwner). */
  jobCreated(submission: Submission, handle: string): void {
    if (submission.background) {
      if (!submission.done) {
        this.#counts.created++;
        this.#succeed(submission, handle);
      }
      return;
    }
    // Registered even when the caller gave up: the server sends this submission's copies of
    // every WORK_* packet regardless, and the ghost absorbs them (see JobTable).
    (submission.server as ServerLink).jobs.add(handle, submission);
    submission.handle = handle;
    if (submission.done) return;
    if (submission.trace !== undefined) submission.trace.handle = handle;
    submission.state = CREATED;
    const run = submission.run;
    if (run !== undefined) {
      run.handle = handle;
      run.push({ type: 'created', handle });
    }
  }

  /** A request of the submission failed (SubmissionOwner). */
  requestFailed(submission: Submission, error: GearmanError): void {
    if (submission.done) return;
    if (error.code === 'ERR_CONNECTION') {
      // Its server lost it: until it is sent again, it holds its slot against none.
      holdSlot(submission, undefined);
      const link = submission.server as ServerLink | undefined;
      link?.markDown(this.#recoverTime);
      const maybeRan = (error as ConnectionError).maybeRan;
      if (maybeRan) submission.mayHaveRun = true;
      // Nothing reached the server, so any server may take it.
      if (!maybeRan && !this.#dispatcher.closed) this.#dispatcher.dispatch(submission);
      else this.#retrier.retryOrFail(submission, error);
      return;
    }
    this.fail(submission, error);
  }

  /** The submission's abort signal fired (SubmissionOwner). */
  aborted(submission: Submission): void {
    if (submission.done) return;
    this.#counts.aborted++;
    this.fail(submission, submission.signal?.reason);
  }

  /** A packet that answers no request, from `link`'s connection. */
  onPacket(link: ServerLink, packet: Packet): void {
    // NOOP or ERROR JOB_NOT_FOUND: worker traffic, nothing a client asked for.
    if (!isJobPacket(packet)) return;
    const submission = link.jobs.route(packet);
    if (submission === undefined || submission.done) return; // unknown, or a ghost
    if (submission.trace !== undefined && 'payload' in packet && packet.type !== 'WORK_EXCEPTION') {
      submission.trace.responseBytes += packet.payload.length;
    }
    switch (packet.type) {
      case 'WORK_COMPLETE':
        this.#counts.completed++;
        this.#succeed(submission, decode(submission, packet.payload));
        return;
      case 'WORK_FAIL':
        this.#counts.failed++;
        this.fail(submission, new JobFailedError(packet.handle));
        return;
      case 'WORK_EXCEPTION':
        this.#counts.exceptions++;
        this.fail(submission, new JobExceptionError(packet.handle, ownPayload(packet.payload)));
        return;
      case 'WORK_STATUS':
        submission.run?.push({
          type: 'status',
          numerator: packet.numerator,
          denominator: packet.denominator,
        });
        return;
      case 'WORK_DATA':
        submission.run?.push({ type: 'data', data: decode(submission, packet.payload) });
        return;
      case 'WORK_WARNING':
        submission.run?.push({ type: 'warning', data: decode(submission, packet.payload) });
        return;
    }
  }

  /** The socket is gone, and with it every created job's way back: fail or retry them. */
  failCreated(link: ServerLink, cause: Error | undefined): void {
    if (link.jobs.size === 0) return;
    const waiting = link.jobs.takeAll().filter((submission) => !submission.done);
    const detail = cause ? `: ${cause.message}` : '';
    for (const submission of waiting) {
      this.requestFailed(
        submission,
        new ConnectionError(
          `connection to ${link.name} lost while job ${submission.handle} was running${detail}`,
          { maybeRan: true, server: link.name },
          { cause },
        ),
      );
    }
  }

  /** The submission's `timeout` passed. */
  expire(submission: Submission): void {
    this.#counts.timeouts++;
    const packet = submission.packet as { functionName?: string } | undefined;
    const name = packet?.functionName ?? 'job';
    this.fail(submission, new TimeoutError(`job ${name} timed out after ${submission.timeout} ms`));
  }

  /** Rejects the submission's caller with `error`, unless it is settled already. */
  fail(submission: Submission, error: unknown): void {
    if (submission.done) return;
    if (submission.mayHaveRun && (error as ConnectionError | undefined)?.maybeRan === false) {
      // An earlier attempt reached a server: the caller must not take this for "never ran".
      const last = error as ConnectionError;
      error = new ConnectionError(
        `${last.message} (an earlier attempt may have run)`,
        { maybeRan: true, server: last.server },
        { cause: last },
      );
    }
    countError(this.#counts, error);
    this.#finish(submission);
    if (submission.trace !== undefined) traceSettled(submission, true, error);
    const run = submission.run;
    if (run !== undefined) run.settle(false, error);
    else submission.reject?.(error);
    submission.resolve = undefined;
    submission.reject = undefined;
  }

  #succeed(submission: Submission, value: Buffer | string): void {
    this.#finish(submission);
    if (submission.trace !== undefined) {
      if (submission.background) submission.trace.handle = value as string;
      traceSettled(submission, false, undefined);
    }
    const run = submission.run;
    if (run !== undefined) run.settle(true, value);
    else (submission.resolve as (value: Buffer | string) => void)(value);
    submission.resolve = undefined;
    submission.reject = undefined;
  }

  /** Releases everything the submission holds for its caller; a ghost may stay by handle. */
  #finish(submission: Submission): void {
    this.#admission.leave(submission);
    holdSlot(submission, undefined);
    submission.state = DONE;
    if (submission.timeout > 0) this.#timeouts.stop(submission);
    submission.signal?.removeEventListener('abort', submission);
    submission.packet = undefined;
    const attempt = submission.attempt;
    if (attempt !== undefined) {
      submission.attempt = undefined;
      attempt.resolve();
    }
    submission.retryAbort?.abort();
    submission.retryAbort = undefined;
    this.#admission.free(submission);
    if (this.onSettled !== undefined) this.onSettled();
  }
}

function decode(submission: Submission, payload: Buffer): Buffer | string {
  const encoding = submission.encoding;
  return encoding === undefined ? ownPayload(payload) : payload.toString(encoding);
}
