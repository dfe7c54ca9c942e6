import {
  byteLength,
  type ClientSubmitContext,
  isTraced,
  type Mutable,
  retryChannel,
  type SubmitPriority,
  settleTrace,
  startTrace,
  submitChannel,
} from '@gearmanode/core';
import type { Payload } from './options.js';
import type { Submission } from './submission.js';

// The client's side of the `gearmanode:client:submit` and `gearmanode:client:retry` channels
// (see @gearmanode/core's diagnostics.ts). Each function costs one check when nobody listens.

/** What a traced submission carries: its context object, filled in as the submit goes on. */
export type SubmitTrace = Mutable<ClientSubmitContext>;

/** The context of a new submit, or undefined when the submit channel has no subscribers. */
export function submitTrace(
  functionName: string,
  payload: Payload,
  unique: string,
  priority: SubmitPriority,
  background: boolean,
): SubmitTrace | undefined {
  if (!isTraced(submitChannel)) return undefined;
  return {
    functionName,
    unique,
    priority,
    background,
    requestBytes: byteLength(payload),
    server: undefined,
    handle: undefined,
    responseBytes: 0,
    retries: 0,
  };
}

/** Publishes `start` and `end`: the submit call has queued or sent the job. */
export function traceSubmitted(trace: SubmitTrace): void {
  startTrace<ClientSubmitContext>(submitChannel, trace);
}

/** Publishes the submit's outcome: `error` first when it failed, then `asyncStart`, `asyncEnd`. */
export function traceSettled(submission: Submission, failed: boolean, error: unknown): void {
  const trace = submission.trace as SubmitTrace;
  submission.trace = undefined;
  if (failed) trace.error = error;
  settleTrace<ClientSubmitContext>(submitChannel, trace, failed);
}

/** Publishes on `gearmanode:client:retry` that attempt `attempt` is being sent. */
export function traceRetry(submission: Submission, attempt: number, error: unknown): void {
  const trace = submission.trace;
  if (trace !== undefined) trace.retries = attempt;
  if (!retryChannel.hasSubscribers) return;
  const packet = submission.packet as { functionName?: string } | undefined;
  retryChannel.publish({
    functionName: trace?.functionName ?? packet?.functionName ?? '',
    unique: submission.unique,
    attempt,
    error,
    context: trace,
  });
}
