import { randomUUID } from 'node:crypto';
import { checkPayload, checkTimeout, describe } from '@gearmanode/core';
import {
  checkFunctionName,
  checkUnique,
  InvalidArgumentError,
  type PacketInit,
  submitTypeFor,
} from '@gearmanode/protocol';
import type { BackgroundOptions, Payload, Priority, SubmitOptions } from './options.js';
import { Submission, type SubmissionOwner } from './submission.js';
import { submitTrace } from './submit-trace.js';

const PRIORITIES: ReadonlySet<string> = new Set<Priority>(['low', 'normal', 'high']);

/** The options of submit(), start() and submitBackground(). */
export type AnyOptions = SubmitOptions & BackgroundOptions;

/**
 * Checks a submit's arguments and builds its submission, unsent; throws what the caller should
 * get. `defaultTimeout` is the client's `timeout` option.
 */
export function createSubmission(
  owner: SubmissionOwner,
  name: string,
  payload: Payload,
  options: AnyOptions | undefined,
  background: boolean,
  defaultTimeout: number,
): Submission {
  checkFunctionName(name);
  checkPayload(payload);
  let unique = '';
  let priority: Priority = 'normal';
  let timeout = defaultTimeout;
  let signal: AbortSignal | undefined;
  let encoding: BufferEncoding | undefined;
  let idempotent = false;
  let reducer: string | undefined;
  let at: Date | undefined;
  if (options !== undefined) {
    if (options === null || typeof options !== 'object') {
      throw new InvalidArgumentError('options', `must be an object, got ${describe(options)}`);
    }
    if (options.unique !== undefined) unique = checkUnique(options.unique);
    if (options.priority !== undefined) {
      if (!PRIORITIES.has(options.priority)) {
        throw new InvalidArgumentError('priority', `must be 'low', 'normal' or 'high'`);
      }
      priority = options.priority;
    }
    timeout = checkTimeout(options.timeout, 'timeout', timeout);
    if (options.signal !== undefined) {
      if (!(options.signal instanceof AbortSignal)) {
        throw new InvalidArgumentError('signal', 'must be an AbortSignal');
      }
      signal = options.signal;
    }
    if (options.encoding !== undefined) {
      if (!Buffer.isEncoding(options.encoding)) {
        throw new InvalidArgumentError(
          'encoding',
          `unknown encoding ${describe(options.encoding)}`,
        );
      }
      encoding = options.encoding;
    }
    if (options.idempotent !== undefined) {
      if (typeof options.idempotent !== 'boolean') {
        throw new InvalidArgumentError('idempotent', 'must be a boolean');
      }
      idempotent = options.idempotent;
    }
    if (options.reducer !== undefined) {
      reducer = checkUnique(options.reducer, 'reducer');
      if (reducer === '') throw new InvalidArgumentError('reducer', 'must not be empty');
      if (priority !== 'normal') {
        throw new InvalidArgumentError('priority', 'reduce jobs have no priority');
      }
    }
    if (options.at !== undefined) {
      if (!background) {
        // PROTOCOL section 4.1: SUBMIT_JOB_EPOCH creates a background job.
        throw new InvalidArgumentError('at', 'only background jobs can be scheduled');
      }
      if (!(options.at instanceof Date) || Number.isNaN(options.at.getTime())) {
        throw new InvalidArgumentError('at', 'must be a valid Date');
      }
      if (priority !== 'normal' || reducer !== undefined) {
        throw new InvalidArgumentError('at', 'scheduled jobs have normal priority and no reducer');
      }
      at = options.at;
    }
  }
  if (signal?.aborted) throw signal.reason;
  // A background job without a unique gets a random one on the wire (libgearman does the
  // same): gearmand's persistent queues key jobs by (unique, function), so jobs with an empty
  // unique overwrite each other there, and a unique is the only way to find a background job
  // later. Routing and retry still treat it as a job without a unique.
  const wireUnique = background && unique === '' ? randomUUID() : unique;
  let packet: PacketInit;
  if (reducer !== undefined) {
    packet = {
      type: background ? 'SUBMIT_REDUCE_JOB_BACKGROUND' : 'SUBMIT_REDUCE_JOB',
      functionName: name,
      unique: wireUnique,
      reducer,
      aggregator: '', // PROTOCOL section 11, item 18: the empty field must be there
      payload,
    };
  } else if (at !== undefined) {
    const runAt = Math.max(0, Math.floor(at.getTime() / 1000));
    packet = {
      type: 'SUBMIT_JOB_EPOCH',
      functionName: name,
      unique: wireUnique,
      runAt,
      payload,
    };
  } else {
    const type = submitTypeFor(priority, background);
    packet = { type, functionName: name, unique: wireUnique, payload } as PacketInit;
  }
  const submission = new Submission(
    owner,
    packet,
    background,
    unique,
    unique !== '' || idempotent,
    encoding,
    signal,
  );
  submission.timeout = timeout;
  submission.trace = submitTrace(name, payload, unique, priority, background);
  return submission;
}
