import { ClosedError, ConnectionError, type GearmanError } from '@gearmanode/protocol';
import { Admission } from './admission.js';
import type { ClientCounts } from './client-stats.js';
import type { JobTimeouts } from './job-timeouts.js';
import type { ResolvedClientOptions } from './options.js';
import type { ServerPool } from './pool.js';
import { Retrier } from './retry.js';
import type { ServerLink } from './server-link.js';
import { SENT, type Submission } from './submission.js';
import { traceSubmitted } from './submit-trace.js';

/**
 * The way out of the client for submissions: admission under `maxInFlight`, the choice of a
 * server, writing the SUBMIT_*, and sending again (the `retry` option). Their replies come back
 * through `JobReplies`.
 */
export class Dispatcher {
  readonly admission: Admission;
  readonly retrier: Retrier;
  /** The client is closed: whatever is still to be sent fails instead. */
  closed = false;
  readonly #links: readonly ServerLink[];
  readonly #pool: ServerPool<ServerLink>;
  readonly #recoverTime: number;
  readonly #counts: ClientCounts;
  readonly #timeouts: JobTimeouts;
  readonly #fail: (submission: Submission, error: unknown) => void;

  /** `fail` settles a submission that cannot be sent (see `JobReplies.fail`). */
  constructor(
    options: ResolvedClientOptions,
    links: readonly ServerLink[],
    pool: ServerPool<ServerLink>,
    counts: ClientCounts,
    timeouts: JobTimeouts,
    fail: (submission: Submission, error: unknown) => void,
  ) {
    this.#links = links;
    this.#pool = pool;
    this.#recoverTime = options.recoverTime;
    this.#counts = counts;
    this.#timeouts = timeouts;
    this.#fail = fail;
    const limit = options.maxInFlight;
    this.admission = new Admission(
      limit,
      (submission) => this.dispatch(submission),
      () => pool.canTake(pool.share(limit)),
    );
    const self = this;
    this.retrier = new Retrier(options.retry, {
      get isClosed() {
        return self.closed;
      },
      hasServerFor: (unique) => pool.pick(unique) !== undefined,
      dispatch: (submission) => this.dispatch(submission),
      fail,
      countRetry: () => {
        counts.retries++;
      },
    });
  }

  /** Starts the submission's clocks and sends it, or queues it while the slots are taken. */
  admit(submission: Submission): void {
    this.#counts.submitted++;
    if (submission.trace !== undefined) traceSubmitted(submission.trace);
    if (submission.timeout > 0) this.#timeouts.start(submission);
    submission.signal?.addEventListener('abort', submission, { once: true });
    this.admission.admit(submission);
  }

  /**
   * Hands the submission to the best healthy server: not suspect and owing fewer than its share
   * of replies, or else (a submission sent again after a failure) the best one up. A server that
   * refuses at once (between reconnect attempts) is marked down and the next one is tried;
   * nothing reached it, so this is always safe.
   */
  dispatch(submission: Submission): void {
    const packet = submission.packet;
    if (packet === undefined || submission.done) return;
    if (this.closed) {
      this.#fail(submission, new ClosedError('client is closed'));
      return;
    }
    let lastError: GearmanError | undefined;
    const pool = this.#pool;
    const share = pool.share(this.admission.limit);
    for (let tries = this.#links.length; tries > 0; tries--) {
      const link = pool.pick(submission.unique, share) ?? pool.pick(submission.unique);
      if (link === undefined) break;
      let connection: ReturnType<ServerLink['live']>;
      try {
        connection = link.live();
        connection.request(packet, submission);
      } catch (error) {
        if ((error as GearmanError).code === 'ERR_CONNECTION') {
          link.markDown(this.#recoverTime);
          lastError = error as GearmanError;
          continue;
        }
        this.#fail(submission, error); // InvalidArgumentError from the encoder, ClosedError
        return;
      }
      submission.server = link;
      holdSlot(submission, link);
      submission.state = SENT;
      if (submission.trace !== undefined) submission.trace.server = link.name;
      if (connection.needsDrain) this.#waitForDrain(connection);
      return;
    }
    this.retrier.retryOrFail(
      submission,
      lastError ??
        new ConnectionError(`no job server available (${this.#links.length} down)`, {
          maybeRan: false,
        }),
    );
  }

  #waitForDrain(connection: ReturnType<ServerLink['live']>): void {
    const admission = this.admission;
    if (admission.blocked) return;
    admission.blocked = true;
    void connection.drained().then(() => {
      admission.blocked = false;
      if (!this.closed) admission.pump();
    });
  }
}

/** Counts the submission's slot against `link` (and no longer against its last server). */
export function holdSlot(submission: Submission, link: ServerLink | undefined): void {
  const holder = submission.holder;
  if (holder === link) return;
  if (holder !== undefined) holder.holding--;
  submission.holder = link;
  if (link !== undefined) link.holding++;
}
