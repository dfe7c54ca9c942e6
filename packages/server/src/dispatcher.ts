import { Buffer } from 'node:buffer';
import {
  COPY_THRESHOLD,
  encodePacket,
  isSubmitType,
  MAX_CLIENT_ID_SIZE,
  type Magic,
  type Packet,
  SUBMIT_TYPES,
  type SubmitType,
} from '@gearmanode/protocol';
import { type AdminTarget, runAdminLine, ServerAdmin } from './admin.js';
import { EpochScheduler, MAX_DELAY } from './epoch.js';
import type { GroupCommit } from './group-commit.js';
import { JobStore, type SubmitRequest } from './job-store.js';
import { type Job, type Peer, PRIORITIES } from './model.js';
import type { ServerLogger } from './options.js';
import {
  broadcast,
  ERRORS,
  failOf,
  forward,
  forwardException,
  forwardResult,
  jobCreated,
  sendParts,
} from './replies.js';
import type { StoredJob } from './sqlite-queue.js';
import { answerOption, answerStatus, answerStatusUnique } from './status-replies.js';
import { Workers } from './workers.js';

/** The settings the dispatcher uses. */
export interface DispatcherOptions {
  handlePrefix: string;
  jobRetries: number;
  maxQueue: number;
  logger: ServerLogger | undefined;
  /** The durable store's group commit, when the server has a store. */
  durable?: GroupCommit | undefined;
  /** Called by the admin command `shutdown [graceful]`, after its `OK` has been queued. */
  onShutdown: (graceful: boolean) => void;
}

// PROTOCOL 5.5: gearmand raises CAN_DO_TIMEOUT values below one second to one second.
const MIN_JOB_TIMEOUT = 1000;

type PacketsOf<T extends Packet['type']> = Extract<Packet, { type: T }>;
type WorkPacket = PacketsOf<
  'WORK_DATA' | 'WORK_WARNING' | 'WORK_STATUS' | 'WORK_COMPLETE' | 'WORK_FAIL' | 'WORK_EXCEPTION'
>;
type SubmitPacket = PacketsOf<SubmitType>;

function isSubmit(packet: Packet): packet is SubmitPacket {
  return isSubmitType(packet.type);
}

/** WORK_STATUS numbers as gearmand stores them: parsed, then kept as uint32 (section 11.13). */
function toUint32(value: number): number {
  return Number.isFinite(value) ? value >>> 0 : 0;
}

/** The part of a handle or unique before its first NUL (only a last field can carry one). */
function beforeNul(text: string): string {
  const nul = text.indexOf('\0');
  return nul === -1 ? text : text.slice(0, nul);
}

/**
 * The job server's protocol logic
 * ([protocol.md sections 4–9](https://github.com/gearmanode/gearmanode/blob/main/docs/protocol.md#4-client-behaviour)):
 * answers each request of a peer in order, hands the worker side to `Workers`, forwards WORK_*
 * packets to waiting clients and runs the admin commands. It owns no sockets: peers are `Peer`s,
 * and everything it sends goes through `peer.send`.
 */
export class Dispatcher implements AdminTarget {
  readonly store: JobStore;
  readonly #workers: Workers;
  readonly #epoch: EpochScheduler;
  readonly #admin: ServerAdmin;
  readonly #durable: GroupCommit | undefined;
  /** Every connected peer, oldest first. */
  readonly #peers = new Set<Peer>();
  #idle: (() => void)[] = [];

  constructor(options: DispatcherOptions) {
    const limit = options.maxQueue;
    this.#durable = options.durable;
    this.store = new JobStore(options.handlePrefix, [limit, limit, limit], options.durable);
    this.#workers = new Workers(this.store, {
      jobRetries: options.jobRetries,
      logger: options.logger,
      onIdle: () => this.abortDrain(),
    });
    this.#epoch = new EpochScheduler((job) => this.#workers.schedule(job));
    this.#admin = new ServerAdmin(this, options);
  }

  /** Jobs currently held by workers. */
  get running(): number {
    return this.#workers.running;
  }

  /** Whether a graceful shutdown is under way: no new jobs in, none handed out. */
  get draining(): boolean {
    return this.#workers.draining;
  }

  attach(peer: Peer): void {
    this.#peers.add(peer);
  }

  /**
   * Forgets a peer that has gone: its jobs go back to their queues
   * ([protocol.md 5.4](https://github.com/gearmanode/gearmanode/blob/main/docs/protocol.md#54-losing-a-worker)),
   * its foreground jobs lose a waiter (6.4) and its registrations end.
   */
  detach(peer: Peer): void {
    if (!this.#peers.delete(peer)) return;
    peer.gone = true;
    this.#workers.forget(peer);
    for (const job of peer.waitedJobs()) this.store.removeWaiter(job, peer);
  }

  /** Every connected peer, newest first (the `workers` listing). */
  *peers(): Iterable<Peer> {
    const peers = [...this.#peers];
    for (let i = peers.length - 1; i >= 0; i--) yield peers[i] as Peer;
  }

  /**
   * Handles one binary packet from `peer`. `body[bodyStart..bodyEnd)` is its body as received,
   * when the caller has it (see `PacketHandler`): WORK_* results are then forwarded as copies
   * of it instead of being encoded again. With `parts` (see `PayloadPartsHandler`), the payload
   * is those parts and `body[bodyStart..bodyEnd)` the fields before it: a submission keeps
   * them as the job's payload and a result forwards them, unjoined.
   */
  handlePacket(
    peer: Peer,
    packet: Packet,
    magic: Magic,
    body?: Buffer,
    bodyStart = 0,
    bodyEnd = 0,
    parts?: readonly Buffer[],
  ): void {
    if (magic === 'RES') {
      // PROTOCOL 2.2: gearmand checks the magic before the type.
      peer.send(ERRORS.INVALID_MAGIC);
      return;
    }
    // The submissions are looked for last: a worker's packets, two of every job's three, then
    // skip the check.
    const workers = this.#workers;
    switch (packet.type) {
      case 'GRAB_JOB':
      case 'GRAB_JOB_UNIQ':
      case 'GRAB_JOB_ALL':
        workers.grab(peer, packet.type);
        break;
      case 'PRE_SLEEP':
        workers.preSleep(peer);
        break;
      case 'WORK_DATA':
      case 'WORK_WARNING':
      case 'WORK_STATUS':
      case 'WORK_COMPLETE':
      case 'WORK_FAIL':
      case 'WORK_EXCEPTION':
        this.#work(peer, packet, body, bodyStart, bodyEnd, parts);
        break;
      case 'CAN_DO':
        workers.register(peer, packet.functionName, 0);
        break;
      case 'CAN_DO_TIMEOUT': {
        // At most what a timer can wait: it would fire at once beyond that.
        const timeout = Math.max(MIN_JOB_TIMEOUT, packet.timeout || 0);
        workers.register(peer, packet.functionName, Math.min(timeout, MAX_DELAY));
        break;
      }
      case 'CANT_DO':
        workers.cantDo(peer, packet.functionName);
        break;
      case 'RESET_ABILITIES':
        workers.resetAbilities(peer);
        break;
      case 'GET_STATUS':
        answerStatus(this.store, peer, beforeNul(packet.handle));
        break;
      case 'GET_STATUS_UNIQUE':
        answerStatusUnique(this.store, peer, beforeNul(packet.unique));
        break;
      case 'ECHO_REQ':
        sendParts(peer, { type: 'ECHO_RES', payload: packet.payload });
        break;
      case 'OPTION_REQ':
        answerOption(peer, packet.option);
        break;
      case 'SET_CLIENT_ID':
        // PROTOCOL section 10: gearmand keeps the first 127 bytes of a client id.
        peer.clientId = packet.clientId === '' ? '-' : packet.clientId.slice(0, MAX_CLIENT_ID_SIZE);
        break;
      default:
        if (isSubmit(packet)) {
          const wire = parts === undefined ? body : undefined;
          this.#submit(peer, packet, wire, bodyStart, bodyEnd, parts);
        } else {
          // PROTOCOL section 8: response types, ALL_YOURS and SUBMIT_JOB_SCHED.
          peer.send(ERRORS.INVALID_COMMAND);
        }
    }
  }

  /** Runs one admin line; returns false when the connection should be dropped. */
  handleAdmin(peer: Peer, line: string): boolean {
    const response = runAdminLine(line, this.#admin);
    if (response === undefined) return false;
    peer.send(Buffer.from(response, 'utf8'));
    return true;
  }

  // Submitting (protocol.md 4.1, 4.3, 6.5, 6.6, section 7)

  /** `body[start..end)` is the submission's body as received, when the caller has it. */
  #submit(
    peer: Peer,
    packet: SubmitPacket,
    body: Buffer | undefined,
    start: number,
    end: number,
    parts: readonly Buffer[] | undefined,
  ): void {
    if (this.draining) {
      peer.send(ERRORS.SHUTTING_DOWN);
      return;
    }
    const { priority, background } = SUBMIT_TYPES[packet.type];
    const request: SubmitRequest = {
      functionName: packet.functionName,
      unique: packet.unique,
      payload: parts ?? packet.payload,
      wire: undefined,
      priority: PRIORITIES[priority],
      background,
    };
    if ('runAt' in packet) {
      // PROTOCOL 6.5: a time in the past, or text that parses as 0, means now.
      const runAt = packet.runAt * 1000;
      if (Number.isFinite(runAt) && runAt > Date.now()) request.runAt = runAt;
      else if (!Number.isFinite(runAt) && runAt > 0) request.runAt = Number.MAX_SAFE_INTEGER;
    } else if ('reducer' in packet) {
      request.reducer = packet.reducer;
    } else if (body !== undefined && end - start < COPY_THRESHOLD) {
      // function, unique, payload: the fields of JOB_ASSIGN_UNIQ after the handle, as they are.
      request.wire = body.subarray(start, end);
    }
    const result = this.store.submit(request, background ? undefined : peer);
    if (!result.ok) {
      peer.send(result.code === 'QUEUE_ERROR' ? ERRORS.QUEUE_FULL : ERRORS.UNIQUE_TOO_LARGE);
      return;
    }
    const job = result.job;
    const created = jobCreated(job.handle);
    const durable = this.#durable;
    // A background submitter hears of its job once the job's row is on disk.
    if (durable !== undefined && background && job.commit !== 0) {
      durable.hold(peer, created, job, ERRORS.NOT_STORED);
    } else {
      peer.send(created);
    }
    if (result.created) this.#schedule(job);
  }

  /** Takes back a job the durable store kept; false when it cannot (logged). */
  restore(stored: StoredJob, commit: number): boolean {
    const request: SubmitRequest = {
      functionName: stored.functionName,
      unique: stored.key,
      payload: stored.payload,
      priority: stored.priority,
      background: true,
      runAt: stored.runAt,
    };
    const result = this.store.restore(request, stored.key, commit);
    if (!result.ok) return false;
    if (result.created) this.#schedule(result.job);
    return true;
  }

  /** Queues a new job, or holds it until its epoch time. */
  #schedule(job: Job): void {
    if (job.runAt > 0) {
      this.store.delay(job);
      this.#epoch.add(job);
    } else {
      this.#workers.schedule(job);
    }
  }

  // Results (protocol.md 4.2, 5.3, 6.4)

  #work(
    peer: Peer,
    packet: WorkPacket,
    body: Buffer | undefined,
    start: number,
    end: number,
    parts: readonly Buffer[] | undefined,
  ): void {
    const job = this.#heldBy(peer, packet.handle);
    if (job === undefined) {
      peer.send(
        packet.type === 'WORK_DATA' || packet.type === 'WORK_WARNING'
          ? ERRORS.NOT_FOUND_DATA
          : packet.type === 'WORK_EXCEPTION'
            ? ERRORS.NOT_FOUND_EXCEPTION
            : ERRORS.NOT_FOUND_RESULT,
      );
      return;
    }
    switch (packet.type) {
      case 'WORK_STATUS': {
        job.numerator = toUint32(packet.numerator);
        job.denominator = toUint32(packet.denominator);
        if (job.waiters.length > 0) {
          forward(peer, job, {
            type: 'WORK_STATUS',
            handle: job.handle,
            numerator: job.numerator,
            denominator: job.denominator,
          });
        }
        return;
      }
      case 'WORK_DATA':
      case 'WORK_WARNING':
        if (job.waiters.length > 0) forwardResult(peer, job, packet, body, start, end, parts);
        return;
      case 'WORK_COMPLETE':
        if (job.waiters.length > 0) forwardResult(peer, job, packet, body, start, end, parts);
        this.#workers.finish(job, 'completed');
        return;
      case 'WORK_FAIL':
        if (job.waiters.length > 0) forward(peer, job, failOf(job));
        this.#workers.finish(job, 'failed');
        return;
      case 'WORK_EXCEPTION':
        if (job.waiters.length > 0) forwardException(peer, job, packet);
        this.#workers.finish(job, 'failed');
        return;
    }
  }

  /**
   * The job with this handle if `peer` holds it: only a job's worker may report on it, so its
   * newest jobs are looked at first, the server-wide index only for a worker holding many.
   */
  #heldBy(peer: Peer, handle: string): Job | undefined {
    const held = peer.held;
    const job = held.find(handle) ?? (held.scannedAll ? undefined : this.store.find(handle));
    return job?.worker === peer ? job : undefined;
  }

  // Admin

  /**
   * PROTOCOL 6.7: waiters get WORK_FAIL and the job is abandoned. Unlike gearmand, the waiters
   * are detached (no later WORK_* reaches them) and the unique is freed at once, so a new
   * submission with it creates a new job instead of joining the cancelled one.
   */
  cancelJob(handle: string): boolean {
    const job = this.store.find(handle);
    if (job === undefined) return false;
    if (job.waiters.length > 0) {
      broadcast(job, encodePacket({ type: 'WORK_FAIL', handle }, { magic: 'RES' }));
    }
    if (job.state === 'delayed') this.#epoch.remove(job);
    this.store.cancel(job);
    return true;
  }

  stored(job: Job): boolean | undefined {
    return this.#durable?.isStored(job);
  }

  // Lifecycle

  /**
   * Starts a graceful drain: submissions are refused and nothing more is handed out. Resolves
   * once no job is running, or after `timeout` ms, or when `abortDrain()` is called.
   */
  drain(timeout: number): Promise<void> {
    this.#workers.draining = true;
    if (this.running === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = Number.isFinite(timeout) ? setTimeout(done, timeout) : undefined;
      const idle = this.#idle;
      function done(): void {
        clearTimeout(timer);
        const index = idle.indexOf(done);
        if (index !== -1) idle.splice(index, 1);
        resolve();
      }
      idle.push(done);
    });
  }

  /** Ends every pending `drain()` at once. */
  abortDrain(): void {
    // Called each time the last running job ends: no array unless a drain waits.
    if (this.#idle.length === 0) return;
    for (const resolve of this.#idle.splice(0)) resolve();
  }

  /** Writes what the store has pending and stops it; the connections have closed. */
  closeStore(): void {
    this.#durable?.close();
  }

  /** Stops every timer; the server is closing and its jobs go with it. */
  stop(): void {
    // What was accepted is written, and its JOB_CREATED queued, before connections end.
    this.#durable?.flush();
    this.#workers.draining = true;
    this.#epoch.stop();
    for (const job of this.store.jobs.values()) {
      clearTimeout(job.timer);
      job.timer = undefined;
    }
    this.abortDrain();
  }
}
