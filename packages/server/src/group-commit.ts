import { randomUUID } from 'node:crypto';
import type { JobEnd, JobStoreHooks } from './job-store.js';
import type { Job, Peer } from './model.js';

/** How long deletes wait for other changes to share their commit, in ms. */
const DELETE_WINDOW = 20;

/** One change of a batch: a row to write for a job accepted, or to delete for a job ended. */
export interface QueueChange {
  job: Job;
  insert: boolean;
}

/**
 * Where a batch goes: one transaction per call. Throws when it could not be committed, having
 * rolled back, so that none of the batch is durable.
 */
export interface QueueWriter {
  write(changes: readonly QueueChange[]): void;
}

/** Options for `GroupCommit`. */
export interface GroupCommitOptions {
  writer: QueueWriter;
  /** The commit number the restored rows count as committed in. */
  restoredCommit: number;
  /**
   * Called for each job whose row a failed commit did not write, after its JOB_CREATED was
   * replaced by an ERROR: the job must not run, since its submitter was told it failed.
   */
  onLost(job: Job): void;
  /** Called once per failed commit. */
  onError(error: unknown): void;
}

/**
 * Group commit for a durable queue of background jobs (`JobStoreHooks`): the jobs accepted and
 * ended during one turn of the event loop are written in one transaction when the loop reaches
 * its check phase (`setImmediate`), after every socket read of that turn. Each accepted job
 * carries the number of the commit that writes its row (`job.commit`), and its JOB_CREATED is
 * held on its peer until that commit has finished (`hold`): a submitter is only told of a job
 * that is on disk.
 *
 * Writes are synchronous, so commits finish in order, and a slow disk makes the next batch
 * bigger instead of the queue of commits longer. Deletes (jobs that ended) hold nobody up: on
 * their own they wait up to `DELETE_WINDOW` ms, so that a draining queue is not one commit per
 * job.
 */
export class GroupCommit implements JobStoreHooks {
  readonly #writer: QueueWriter;
  readonly #onLost: (job: Job) => void;
  readonly #onError: (error: unknown) => void;
  #committed: number;
  #changes: QueueChange[] = [];
  /** Whether the pending batch holds an insert, which somebody waits for. */
  #urgent = false;
  #scheduled: NodeJS.Immediate | undefined;
  #deferred: NodeJS.Timeout | undefined;
  #closed = false;
  /** Peers holding frames for the pending commit. */
  #holding = new Set<Peer>();

  constructor(options: GroupCommitOptions) {
    this.#writer = options.writer;
    this.#onLost = options.onLost;
    this.#onError = options.onError;
    this.#committed = options.restoredCommit;
  }

  /** The number of the last commit that has finished (successfully or not). */
  get committed(): number {
    return this.#committed;
  }

  /** Whether `job` has a row on disk now. */
  isStored(job: Job): boolean {
    return job.commit !== 0 && job.commit <= this.#committed && !job.ended;
  }

  accepted(job: Job): void {
    job.commit = this.#committed + 1;
    // The table's key is (unique, function): jobs without a unique of their own get one, or
    // they would overwrite each other's rows (gearmand does, see the chaos suite).
    if (job.storeKey === '') {
      job.storeKey = job.unique === '' || job.unique === '-' ? randomUUID() : job.unique;
    }
    this.#changes.push({ job, insert: true });
    if (!this.#urgent) {
      this.#urgent = true;
      this.#scheduled = setImmediate(this.#flush);
    }
  }

  ended(job: Job, _end: JobEnd): void {
    // A job accepted in the pending batch is skipped there (`#flush` checks `ended`). After
    // `close`, the row stays: the job runs again after the next start.
    if (job.commit === 0 || job.commit > this.#committed || this.#closed) return;
    this.#changes.push({ job, insert: false });
    // Nobody waits for a delete: deletes alone wait a little to share a commit. One lost in a
    // crash only runs its job again.
    if (!this.#urgent && this.#deferred === undefined) {
      this.#deferred = setTimeout(this.#flush, DELETE_WINDOW);
      this.#deferred.unref(); // closing flushes; an idle server is kept alive by its socket
    }
  }

  /**
   * Sends `frame` to `peer` once `job`'s row is committed, or `failed` instead if that commit
   * fails; at once when it is committed already.
   */
  hold(peer: Peer, frame: Buffer, job: Job, failed: Buffer): void {
    if (peer.sendAfterCommit(frame, job.commit, this.#committed, failed)) this.#holding.add(peer);
  }

  /** Writes the pending batch now (the server is closing). */
  flush(): void {
    if (this.#changes.length > 0) this.#flush();
  }

  /** Writes the pending batch, then takes no more changes: the store is about to close. */
  close(): void {
    this.flush();
    this.#closed = true;
  }

  readonly #flush = (): void => {
    clearImmediate(this.#scheduled);
    clearTimeout(this.#deferred);
    this.#scheduled = undefined;
    this.#deferred = undefined;
    this.#urgent = false;
    const changes = this.#changes;
    this.#changes = [];
    const commit = this.#committed + 1;
    // Jobs that ended in the batch that accepted them need no row at all.
    let live = 0;
    for (let i = 0; i < changes.length; i++) {
      const change = changes[i] as QueueChange;
      if (!change.insert || !change.job.ended) changes[live++] = change;
    }
    changes.length = live;
    let ok = true;
    try {
      if (live > 0) this.#writer.write(changes);
    } catch (error) {
      ok = false;
      this.#onError(error);
    }
    this.#committed = commit;
    const holding = this.#holding;
    this.#holding = new Set();
    for (const peer of holding) peer.releaseCommitted(commit, ok);
    if (ok) return;
    for (const { job, insert } of changes) {
      if (!insert) continue;
      job.commit = 0;
      this.#onLost(job);
    }
  };
}
