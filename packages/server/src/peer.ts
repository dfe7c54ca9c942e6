import type { FunctionEntry, Job } from './jobs.js';

/** One CAN_DO or CAN_DO_TIMEOUT of a connection. */
export interface Registration {
  readonly fn: FunctionEntry;
  /** Server-side time limit per job in milliseconds, or 0 for none (plain CAN_DO). */
  readonly timeout: number;
}

/**
 * The protocol state of one peer connection
 * ([protocol.md 6.1](https://github.com/gearmanode/gearmanode/blob/main/docs/protocol.md#61-state),
 * "Per connection"), without the socket. `Connection` extends it; unit tests use a recording
 * subclass.
 */
export abstract class Peer {
  /** Shown as the first column of the `workers` admin listing, where gearmand shows its fd. */
  readonly id: number;
  /** Shown as the second column of `workers`. */
  readonly remoteAddress: string;
  /** SET_CLIENT_ID; `-` until one is set. */
  clientId = '-';
  /** OPTION_REQ `exceptions`: receive WORK_EXCEPTION instead of WORK_FAIL. */
  exceptions = false;
  /** PRE_SLEEP was sent and no GRAB since. */
  sleeping = false;
  /**
   * A NOOP was sent for the current sleep
   * ([protocol.md 5.2](https://github.com/gearmanode/gearmanode/blob/main/docs/protocol.md#52-getting-work):
   * at most one per sleep).
   */
  noopSent = false;
  /** CAN_DO registrations, oldest first; duplicates allowed (section 11, item 29). */
  readonly registrations: Registration[] = [];
  /** Jobs assigned to this peer, in the order they were assigned. */
  readonly held = new Set<Job>();
  /** Foreground jobs this peer waits on, with how many of its submissions wait on each. */
  readonly waiting = new Map<Job, number>();
  /** Set once the peer has gone; nothing more is sent to it. */
  gone = false;

  constructor(id: number, remoteAddress: string) {
    this.id = id;
    this.remoteAddress = remoteAddress;
  }

  /** Queues a frame for this peer. Frames go out in the order they were queued. */
  abstract send(frame: Buffer): void;

  /** Whether this peer has more output queued than it should (see `Connection`). */
  abstract get congested(): boolean;

  /**
   * Stops reading from this peer until `other` has drained its output: the backpressure for
   * WORK_* packets this peer produces and `other` does not read.
   */
  abstract pauseUntilDrained(other: Peer): void;
}
