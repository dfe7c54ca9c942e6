import { performance } from 'node:perf_hooks';
import { Queue } from '@gearmanode/core';
import type { PacketInit } from '@gearmanode/protocol';
import type { RawAssignment } from './assignment.js';
import type { Consumer } from './consumers.js';
import type { Counter } from './counters.js';
import { traceJob } from './diagnostics.js';
import { JobLostError, JobTimeoutError } from './errors.js';
import { type JobHost, type JobImpl, type JobOutcome, RESOLVED } from './job.js';
import type { ServerLink } from './server-link.js';
import { TimeLimits } from './time-limits.js';

/**
 * The jobs the worker holds: buffered (assigned, nobody asked yet) or running (handed to the
 * consumer, taking a slot, under their time limit), and the ways the worker takes them back.
 * Each job is also in the `jobs` of the link it came from, until it is over.
 */
export class HeldJobs implements JobHost {
  readonly #buffer = new Queue<JobImpl>();
  readonly #limits = new TimeLimits();
  readonly #counters: Record<Counter, number>;
  readonly #freed: () => void;
  #running = 0;

  /** `freed` is called whenever a running job is over and its slot free again. */
  constructor(counters: Record<Counter, number>, freed: () => void) {
    this.#counters = counters;
    this.#freed = freed;
  }

  /** Jobs handed to the consumer and not settled. */
  get running(): number {
    return this.#running;
  }

  /** Jobs assigned and not yet handed to the consumer. */
  get buffered(): number {
    return this.#buffer.size;
  }

  /** A job arrived: the consumer takes it now if it can, else it waits in the buffer. */
  hold(job: JobImpl, consumer: Consumer | undefined): void {
    (job.link as ServerLink).jobs.push(job);
    if (consumer === undefined || !consumer.offer(job)) this.#buffer.push(job);
  }

  /** Offers the buffered jobs to `consumer`, oldest first, for as long as it takes them. */
  offerBuffered(consumer: Consumer): void {
    for (let job = this.#buffer.peek(); job !== undefined; job = this.#buffer.peek()) {
      if (!consumer.offer(job)) return;
      this.#buffer.shift();
    }
  }

  /** The next buffered job, if any; the caller hands it over with `start()`. */
  nextBuffered(): JobImpl | undefined {
    return this.#buffer.shift();
  }

  /** Hands a job to the consumer: it now takes a slot, and its time limit starts. */
  start(job: JobImpl): void {
    this.#running++;
    job.trace = traceJob(job);
    // No clock read for a job without a time limit.
    if (job.timeout > 0) this.#limits.start(job, performance.now());
  }

  // ---- JobHost ------------------------------------------------------------------------------

  send(job: JobImpl, packet: PacketInit, final: boolean): Promise<void> {
    const link = job.link as ServerLink;
    // Only on the socket the job came from: once it is gone the server has re-queued the job,
    // and another server (or socket) would answer JOB_NOT_FOUND at best.
    if (!link.report(job.generation, packet)) {
      if (final) this.#counters.droppedResults++;
      return RESOLVED;
    }
    return link.connection.needsDrain ? link.connection.drained() : RESOLVED;
  }

  sendComplete(job: JobImpl, raw: RawAssignment, result: Uint8Array): Promise<void> {
    const link = job.link as ServerLink;
    if (!link.reportComplete(job.generation, raw, result)) {
      this.#counters.droppedResults++;
      return RESOLVED;
    }
    return link.connection.needsDrain ? link.connection.drained() : RESOLVED;
  }

  settled(job: JobImpl, outcome: JobOutcome): void {
    const counters = this.#counters;
    // One store per outcome, not a keyed one through a lookup table.
    if (outcome === 'completed') counters.completed++;
    else if (outcome === 'failed') counters.failed++;
    else counters.exceptions++;
    this.#done(job);
  }

  dropped(): void {
    this.#counters.droppedResults++;
  }

  // ---- taking jobs back ---------------------------------------------------------------------

  /** Fails every job past its time limit at `now` with WORK_EXCEPTION and aborts its signal. */
  expire(now: number): void {
    for (const job of this.#limits.expired(now)) {
      if (!job.release()) continue;
      const error = new JobTimeoutError(job.handle, job.timeout);
      this.#counters.timeouts++;
      this.send(job, { type: 'WORK_EXCEPTION', handle: job.handle, payload: error.message }, true);
      this.#done(job);
      job.abort(error);
    }
  }

  /** `link`'s socket closed: every job from it is back in the server's queue. */
  lose(link: ServerLink): void {
    if (link.jobs.length === 0) return;
    const jobs = link.jobs.splice(0);
    const buffered = new Set<JobImpl>();
    for (const job of this.#buffer.drain()) {
      if (job.link === link) buffered.add(job);
      else this.#buffer.push(job);
    }
    for (const job of jobs) {
      if (!job.release()) continue;
      this.#counters.lost++;
      if (!buffered.has(job)) this.#done(job);
      job.abort(new JobLostError(job.handle, link.server));
    }
  }

  /** Releases the buffered jobs: never started, the server re-queues them when the socket closes. */
  releaseBuffered(): void {
    for (let job = this.#buffer.shift(); job !== undefined; job = this.#buffer.shift()) {
      job.release();
      (job.link as ServerLink).forget(job);
      this.#counters.released++;
    }
  }

  /** Takes every running job of `links` back from its handler and aborts its signal. */
  abandon(links: readonly ServerLink[], reason: Error): void {
    for (const link of links) {
      for (const job of [...link.jobs]) {
        if (!job.release()) continue;
        this.#counters.abandoned++;
        this.#done(job);
        job.abort(reason);
      }
    }
  }

  /** Stops every time limit: the worker is closed. */
  clear(): void {
    this.#limits.clear();
  }

  /** A running job is over, one way or another: free its slot. */
  #done(job: JobImpl): void {
    this.#running--;
    this.#limits.stop(job);
    (job.link as ServerLink).jobDone(job);
    this.#freed();
  }
}
