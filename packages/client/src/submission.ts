import type { ReplyHandler, Timed } from '@gearmanode/core';
import type { GearmanError, Packet, PacketInit } from '@gearmanode/protocol';
import type { JobRunImpl } from './job-run.js';
import type { SubmitTrace } from './submit-trace.js';

/** Where a submission is in its life. */
export const QUEUED = 0; // waiting in the client for a free in-flight slot
export const SENT = 1; // handed to a connection, waiting for JOB_CREATED
export const CREATED = 2; // foreground job created, waiting for its result
export const RETRYING = 3; // lost its connection, waiting to be sent again
export const DONE = 4; // settled for the caller
export type SubmissionState = 0 | 1 | 2 | 3 | 4;

/** What a submission reports to its client; implemented by JobReplies. */
export interface SubmissionOwner {
  jobCreated(submission: Submission, handle: string): void;
  requestFailed(submission: Submission, error: GearmanError): void;
  aborted(submission: Submission): void;
}

/** The per-server bookkeeping a submission points at. */
export interface SubmissionServer {
  readonly name: string;
  /** Submissions holding one of the client's `maxInFlight` slots on this server. */
  holding: number;
}

/**
 * One submit, from the call until the caller has its outcome, and (as a "ghost") for as long
 * as the server may still send packets for it. It is its own reply handler for the connection
 * and its own abort listener, so the per-job path allocates no closures.
 */
export class Submission implements ReplyHandler, Timed {
  readonly owner: SubmissionOwner;
  readonly background: boolean;
  readonly unique: string;
  /** May be sent again after it may have reached a server: it has a unique or is idempotent. */
  readonly retriable: boolean;
  readonly encoding: BufferEncoding | undefined;
  readonly signal: AbortSignal | undefined;
  /** The SUBMIT_* packet; dropped once settled so a ghost does not pin the payload. */
  packet: PacketInit | undefined;
  state: SubmissionState = QUEUED;
  /** An attempt was written before its connection was lost: the job may have run. */
  mayHaveRun = false;
  /** Holds one of the client's `maxInFlight` slots. */
  holdsSlot = false;
  /** The server it was last sent to. */
  server: SubmissionServer | undefined;
  /** The server its slot counts against (see `SubmissionServer.holding`), while it holds one. */
  holder: SubmissionServer | undefined;
  handle = '';
  /** The job timeout in ms, 0 for none. */
  timeout = 0;
  deadline = 0;
  /** Links of the client's wait queue. */
  prev: Submission | undefined;
  next: Submission | undefined;
  /** `submit()`'s promise, or the JobRun of `start()`. */
  resolve: ((value: never) => void) | undefined;
  reject: ((error: unknown) => void) | undefined;
  run: JobRunImpl<Buffer | string> | undefined;
  /** Set while a p-retry loop owns the submission: the current attempt's settle functions. */
  attempt: { resolve: () => void; reject: (error: unknown) => void } | undefined;
  retryAbort: AbortController | undefined;
  /** The diagnostics context, when `gearmanode:client:submit` had subscribers at the submit. */
  trace: SubmitTrace | undefined;

  constructor(
    owner: SubmissionOwner,
    packet: PacketInit,
    background: boolean,
    unique: string,
    retriable: boolean,
    encoding: BufferEncoding | undefined,
    signal: AbortSignal | undefined,
  ) {
    this.owner = owner;
    this.packet = packet;
    this.background = background;
    this.unique = unique;
    this.retriable = retriable;
    this.encoding = encoding;
    this.signal = signal;
    this.trace = undefined;
  }

  get done(): boolean {
    return this.state === DONE;
  }

  /** JOB_CREATED (the only reply a submit gets besides ERROR). */
  onReply(packet: Packet): void {
    this.owner.jobCreated(this, packet.type === 'JOB_CREATED' ? packet.handle : '');
  }

  onError(error: GearmanError): void {
    this.owner.requestFailed(this, error);
  }

  /** The abort signal fired. */
  handleEvent(): void {
    this.owner.aborted(this);
  }
}
