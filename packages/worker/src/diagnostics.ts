import {
  byteLength,
  isTraced,
  jobChannel,
  type Mutable,
  settleTrace,
  startTrace,
  type WorkerJobContext,
  type WorkerJobOutcome,
} from '@gearmanode/core';
import { JobFailedError } from '@gearmanode/protocol';
import type { Job } from './job.js';

// The worker's side of the `gearmanode:worker:job` TracingChannel (see @gearmanode/core's
// diagnostics.ts). Each function costs one check when nobody listens.

/** What a traced job carries: its context object, filled in as the job goes on. */
export type JobTrace = Mutable<WorkerJobContext>;

/**
 * Publishes `start` and `end` for a job handed to its handler or loop, and returns its context;
 * undefined, publishing nothing, when the job channel has no subscribers.
 */
export function traceJob(job: Job): JobTrace | undefined {
  if (!isTraced(jobChannel)) return undefined;
  const trace: JobTrace = {
    functionName: job.name,
    server: job.server,
    handle: job.handle,
    unique: job.unique,
    requestBytes: job.payload.length,
    responseBytes: 0,
    outcome: undefined,
  };
  startTrace<WorkerJobContext>(jobChannel, trace);
  return trace;
}

/** Counts output bytes (WORK_DATA, WORK_WARNING, WORK_COMPLETE) of a traced job. */
export function traceOutput(trace: JobTrace, chunk: Uint8Array | string): void {
  trace.responseBytes += byteLength(chunk);
}

/**
 * Publishes how the job ended: `error` first for any outcome but `completed`, then
 * `asyncStart` and `asyncEnd`. `error` is what the handler reported, or the worker's reason.
 */
export function traceJobSettled(trace: JobTrace, outcome: WorkerJobOutcome, error: unknown): void {
  trace.outcome = outcome;
  const failed = outcome !== 'completed';
  if (failed) trace.error = outcome === 'failed' ? new JobFailedError(trace.handle) : error;
  settleTrace<WorkerJobContext>(jobChannel, trace, failed);
}

/** The outcome of a job the worker took back, from the reason it aborted the job's signal. */
export function releasedOutcome(reason: Error): WorkerJobOutcome {
  const code = (reason as { code?: string }).code;
  if (code === 'ERR_TIMEOUT') return 'timeout';
  if (code === 'ERR_CONNECTION') return 'lost';
  return 'abandoned';
}
