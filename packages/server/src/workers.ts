import { Buffer } from 'node:buffer';
import { encodePacket } from '@gearmanode/protocol';
import type { JobEnd, JobStore } from './job-store.js';
import type { FunctionEntry, Job, Peer, Registration } from './model.js';
import type { ServerLogger } from './options.js';
import { broadcast, jobAssign, NO_JOB, NOOP, sendParts } from './replies.js';

const EMPTY = Buffer.alloc(0);

/** The GRAB_JOB variants; they differ only in the JOB_ASSIGN* they are answered with. */
export type GrabKind = 'GRAB_JOB' | 'GRAB_JOB_UNIQ' | 'GRAB_JOB_ALL';

/** The settings `Workers` uses. */
export interface WorkersOptions {
  jobRetries: number;
  logger: ServerLogger | undefined;
  /** Called each time the last running job is released (a graceful drain waits for it). */
  onIdle: () => void;
}

/**
 * The worker side of the protocol
 * ([protocol.md 5.1–5.5](https://github.com/gearmanode/gearmanode/blob/main/docs/protocol.md#51-registration),
 * 6.3): registrations, sleeping and waking, handing out jobs, per-job time limits, and taking jobs
 * back from workers that are lost, time out or give up a function.
 */
export class Workers {
  /** No jobs handed out and no sleepers woken: the server is draining or closing. */
  draining = false;
  readonly #store: JobStore;
  readonly #options: WorkersOptions;
  #running = 0;

  constructor(store: JobStore, options: WorkersOptions) {
    this.#store = store;
    this.#options = options;
  }

  /** Jobs currently held by workers. */
  get running(): number {
    return this.#running;
  }

  /** Queues a runnable job and wakes the function's sleeping workers. */
  schedule(job: Job): void {
    this.#store.enqueue(job);
    this.#wake(job.fn);
  }

  /**
   * PROTOCOL 5.2: one NOOP per sleep to every sleeping worker of the function. Unlike gearmand
   * 1.1.20 this also happens when an epoch job becomes due (section 11, item 26).
   */
  #wake(fn: FunctionEntry): void {
    if (this.draining) return;
    for (const peer of fn.workers.keys()) {
      if (peer.sleeping && !peer.noopSent) {
        peer.noopSent = true;
        peer.send(NOOP);
        peer.expedite();
      }
    }
  }

  /** CAN_DO (`timeout` 0) or CAN_DO_TIMEOUT. */
  register(peer: Peer, name: string, timeout: number): void {
    const fn = this.#store.function(name);
    peer.registrations.push({ fn, timeout });
    fn.registrations++;
    fn.workers.set(peer, (fn.workers.get(peer) ?? 0) + 1);
  }

  #unregister(peer: Peer, fn: FunctionEntry): void {
    const count = fn.workers.get(peer);
    if (count === undefined) return;
    fn.registrations -= count;
    fn.workers.delete(peer);
  }

  cantDo(peer: Peer, name: string): void {
    const fn = this.#store.functions.get(name);
    if (fn === undefined) return;
    // PROTOCOL 5.1: one CANT_DO removes every registration of the name, and the server takes
    // back the jobs of that function the worker holds.
    const registrations = peer.registrations;
    let kept = 0;
    for (const registration of registrations) {
      if (registration.fn !== fn) registrations[kept++] = registration;
    }
    registrations.length = kept;
    this.#unregister(peer, fn);
    this.#loseHeld(peer, fn);
  }

  /** RESET_ABILITIES. */
  resetAbilities(peer: Peer): void {
    for (const { fn } of peer.registrations) this.#unregister(peer, fn);
    peer.registrations.length = 0;
    this.#loseHeld(peer, undefined);
  }

  /**
   * A peer has gone: its jobs go back to their queues
   * ([protocol.md 5.4](https://github.com/gearmanode/gearmanode/blob/main/docs/protocol.md#54-losing-a-worker)),
   * its registrations end.
   */
  forget(peer: Peer): void {
    this.#loseHeld(peer, undefined);
    for (const { fn } of peer.registrations) this.#unregister(peer, fn);
    peer.registrations.length = 0;
  }

  preSleep(peer: Peer): void {
    // PROTOCOL 5.2 and section 11, item 28: pending work gets an immediate NOOP, every time.
    if (!this.draining && this.#hasWork(peer)) {
      peer.send(NOOP);
      peer.expedite();
      return;
    }
    peer.sleeping = true;
  }

  #hasWork(peer: Peer): boolean {
    for (const { fn } of peer.registrations) if (this.#store.hasWork(fn)) return true;
    return false;
  }

  grab(peer: Peer, kind: GrabKind): void {
    peer.sleeping = false;
    peer.noopSent = false;
    // The worker waits for the answer, whichever it is.
    peer.expedite();
    if (this.draining) {
      peer.send(NO_JOB);
      return;
    }
    // PROTOCOL 6.3: registrations newest first; within a function the oldest job of the
    // highest non-empty priority.
    const registrations = peer.registrations;
    for (let i = registrations.length - 1; i >= 0; i--) {
      const registration = registrations[i] as Registration;
      const job = this.#store.take(registration.fn);
      if (job !== undefined) {
        this.#assign(peer, job, registration, kind);
        return;
      }
    }
    peer.send(NO_JOB);
  }

  #assign(peer: Peer, job: Job, registration: Registration, kind: GrabKind): void {
    job.state = 'running';
    job.worker = peer;
    job.fn.running++;
    this.#running++;
    peer.held.add(job);
    if (registration.timeout > 0) {
      job.timer = setTimeout(() => this.#timedOut(job, peer), registration.timeout);
      job.timer.unref();
    }
    const { handle, fn, unique, reducer, payloadParts: parts, wire } = job;
    if (wire !== undefined) {
      // Only plain submissions keep their wire bytes, so the job has no reducer: GRAB_JOB_ALL
      // is answered with JOB_ASSIGN_UNIQ, as below.
      const frame = jobAssign(handle, wire, kind !== 'GRAB_JOB');
      if (frame !== undefined) {
        peer.send(frame);
        return;
      }
    }
    const functionName = fn.name;
    // A payload kept in parts follows the head as they are (see `sendParts`).
    const payload = parts === undefined ? job.payload : EMPTY;
    if (kind === 'GRAB_JOB') {
      sendParts(peer, { type: 'JOB_ASSIGN', handle, functionName, payload }, parts);
    } else if (kind === 'GRAB_JOB_ALL' && reducer !== '') {
      sendParts(
        peer,
        { type: 'JOB_ASSIGN_ALL', handle, functionName, unique, reducer, payload },
        parts,
      );
    } else {
      sendParts(peer, { type: 'JOB_ASSIGN_UNIQ', handle, functionName, unique, payload }, parts);
    }
  }

  /** PROTOCOL 5.5, done per job: the job is taken back as if its worker had gone. */
  #timedOut(job: Job, worker: Peer): void {
    job.timer = undefined;
    if (job.worker !== worker) return;
    this.#options.logger?.info(`job ${job.handle} timed out on connection ${worker.id}`);
    this.#lose(job);
  }

  /** Takes back the jobs a peer holds (of one function, or all), newest first as gearmand. */
  #loseHeld(peer: Peer, fn: FunctionEntry | undefined): void {
    if (peer.held.size === 0) return;
    for (const job of peer.held.newestFirst()) {
      if (fn === undefined || job.fn === fn) this.#lose(job);
    }
  }

  /**
   * PROTOCOL 5.4: a lost job goes to the tail of its queue with its progress reset, unless it
   * was abandoned, or this was its `jobRetries`-th loss: then foreground waiters get WORK_FAIL.
   */
  #lose(job: Job): void {
    if (job.abandoned) {
      this.finish(job, 'discarded');
      return;
    }
    this.#release(job);
    job.retries++;
    const limit = this.#options.jobRetries;
    if (limit > 0 && job.retries >= limit) {
      this.#options.logger?.info(`job ${job.handle} failed after ${job.retries} lost attempts`);
      broadcast(job, encodePacket({ type: 'WORK_FAIL', handle: job.handle }, { magic: 'RES' }));
      this.#store.dispose(job, 'failed');
      return;
    }
    job.numerator = 0;
    job.denominator = 0;
    this.schedule(job);
  }

  /** Ends a running job: detaches it from its worker and forgets it. */
  finish(job: Job, end: JobEnd): void {
    this.#release(job);
    this.#store.dispose(job, end);
  }

  /** Detaches a running job from its worker. */
  #release(job: Job): void {
    const worker = job.worker;
    if (worker === null) return;
    worker.held.delete(job);
    job.worker = null;
    clearTimeout(job.timer);
    job.timer = undefined;
    job.fn.running--;
    if (--this.#running === 0) this.#options.onIdle();
  }
}
