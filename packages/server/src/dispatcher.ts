import { Buffer } from 'node:buffer';
import {
  encodePacket,
  encodePacketParts,
  HEADER_SIZE,
  MAGIC_RES,
  MAX_UNIQUE_SIZE,
  type Magic,
  PACKET_TYPES,
  type Packet,
  type PacketInit,
  type PacketOf,
  type ServerVersion,
  type SubmitType,
} from '@gearmanode/protocol';
import { type AdminContext, runAdminLine } from './admin.js';
import { EpochScheduler } from './epoch.js';
import {
  type FunctionEntry,
  HIGH,
  type Job,
  JobStore,
  LOW,
  NORMAL,
  type Priority,
  type QueueLimits,
  type SubmitRequest,
} from './jobs.js';
import type { ServerLogger } from './options.js';
import type { Peer, Registration } from './peer.js';
import { ADMIN_VERSION } from './version.js';

/** The settings the dispatcher uses. */
export interface DispatcherOptions {
  handlePrefix: string;
  jobRetries: number;
  maxQueue: number;
  logger: ServerLogger | undefined;
  /** Called by the admin command `shutdown [graceful]`, after its `OK` has been queued. */
  onShutdown: (graceful: boolean) => void;
}

// PROTOCOL 5.5: gearmand raises CAN_DO_TIMEOUT values below one second to one second.
const MIN_JOB_TIMEOUT = 1000;
// PROTOCOL section 10: gearmand keeps the first 127 bytes of a client id.
const MAX_CLIENT_ID = 127;

const NOOP = encodePacket({ type: 'NOOP' });
const NO_JOB = encodePacket({ type: 'NO_JOB' });

function error(code: string, message: string): Buffer {
  return encodePacket({ type: 'ERROR', code, message });
}

// PROTOCOL section 8: codes and messages as gearmand 1.1.20 sends them.
const ERRORS = {
  INVALID_MAGIC: error('INVALID_MAGIC', 'Request magic expected'),
  INVALID_COMMAND: error('INVALID_COMMAND', 'Command not expected'),
  UNKNOWN_OPTION: error('UNKNOWN_OPTION', 'Server does not recognize given option'),
  UNIQUE_TOO_LARGE: error('ARGUMENT_TOO_LARGE', 'Unique value too large'),
  QUEUE_FULL: error('QUEUE_ERROR', 'Job queue is full'),
  SHUTTING_DOWN: error('SHUTDOWN_GRACEFUL', 'Server is shutting down'),
  NOT_FOUND_DATA: error('JOB_NOT_FOUND', 'Job does not exist on server'),
  NOT_FOUND_RESULT: error('JOB_NOT_FOUND', 'Job given in work result not found'),
  NOT_FOUND_EXCEPTION: error(
    'JOB_NOT_FOUND',
    'An exception was received for a job that does not exist',
  ),
} as const;

type PacketsOf<T extends Packet['type']> = Extract<Packet, { type: T }>;
type WorkPacket = PacketsOf<
  'WORK_DATA' | 'WORK_WARNING' | 'WORK_STATUS' | 'WORK_COMPLETE' | 'WORK_FAIL' | 'WORK_EXCEPTION'
>;
type SubmitPacket = PacketsOf<SubmitType>;
type GrabKind = 'GRAB_JOB' | 'GRAB_JOB_UNIQ' | 'GRAB_JOB_ALL';

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
 * answers each request of a peer in order, assigns jobs to workers, wakes sleepers, forwards WORK_*
 * packets to waiting clients, re-queues the jobs of lost workers and runs the admin commands. It
 * owns no sockets: peers are `Peer`s, and everything it sends goes through `peer.send`.
 */
export class Dispatcher implements AdminContext {
  readonly store: JobStore;
  readonly #epoch: EpochScheduler;
  readonly #options: DispatcherOptions;
  /** Every connected peer, oldest first. */
  readonly #peers = new Set<Peer>();
  #running = 0;
  #draining = false;
  #idle: (() => void)[] = [];

  constructor(options: DispatcherOptions) {
    this.#options = options;
    const limit = options.maxQueue;
    this.store = new JobStore(options.handlePrefix, [limit, limit, limit]);
    this.#epoch = new EpochScheduler((job) => this.#schedule(job));
  }

  /** Jobs currently held by workers. */
  get running(): number {
    return this.#running;
  }

  /** Whether a graceful shutdown is under way: no new jobs in, none handed out. */
  get draining(): boolean {
    return this.#draining;
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
    this.#loseHeld(peer, undefined);
    for (const { fn } of peer.registrations) this.#unregister(peer, fn);
    peer.registrations.length = 0;
    for (const job of peer.waiting.keys()) this.store.removeWaiter(job, peer);
    peer.waiting.clear();
  }

  /** Handles one binary packet from `peer`. */
  handlePacket(peer: Peer, packet: Packet, magic: Magic): void {
    if (magic === 'RES') {
      // PROTOCOL 2.2: gearmand checks the magic before the type.
      peer.send(ERRORS.INVALID_MAGIC);
      return;
    }
    switch (packet.type) {
      case 'SUBMIT_JOB':
        this.#submit(peer, packet, NORMAL, false);
        break;
      case 'SUBMIT_JOB_BG':
        this.#submit(peer, packet, NORMAL, true);
        break;
      case 'SUBMIT_JOB_HIGH':
        this.#submit(peer, packet, HIGH, false);
        break;
      case 'SUBMIT_JOB_HIGH_BG':
        this.#submit(peer, packet, HIGH, true);
        break;
      case 'SUBMIT_JOB_LOW':
        this.#submit(peer, packet, LOW, false);
        break;
      case 'SUBMIT_JOB_LOW_BG':
        this.#submit(peer, packet, LOW, true);
        break;
      case 'SUBMIT_JOB_EPOCH':
        this.#submit(peer, packet, NORMAL, true);
        break;
      case 'SUBMIT_REDUCE_JOB':
        this.#submit(peer, packet, NORMAL, false);
        break;
      case 'SUBMIT_REDUCE_JOB_BACKGROUND':
        this.#submit(peer, packet, NORMAL, true);
        break;
      case 'GRAB_JOB':
      case 'GRAB_JOB_UNIQ':
      case 'GRAB_JOB_ALL':
        this.#grab(peer, packet.type);
        break;
      case 'PRE_SLEEP':
        this.#preSleep(peer);
        break;
      case 'WORK_DATA':
      case 'WORK_WARNING':
      case 'WORK_STATUS':
      case 'WORK_COMPLETE':
      case 'WORK_FAIL':
      case 'WORK_EXCEPTION':
        this.#work(peer, packet);
        break;
      case 'CAN_DO':
        this.#register(peer, packet.functionName, 0);
        break;
      case 'CAN_DO_TIMEOUT':
        this.#register(
          peer,
          packet.functionName,
          // Within what setTimeout can wait (about 24.8 days); it fires at once beyond that.
          Math.min(Math.max(MIN_JOB_TIMEOUT, packet.timeout || 0), 0x7fffffff),
        );
        break;
      case 'CANT_DO':
        this.#cantDo(peer, packet.functionName);
        break;
      case 'RESET_ABILITIES':
        this.#resetAbilities(peer);
        break;
      case 'GET_STATUS':
        this.#getStatus(peer, beforeNul(packet.handle));
        break;
      case 'GET_STATUS_UNIQUE':
        this.#getStatusUnique(peer, beforeNul(packet.unique));
        break;
      case 'ECHO_REQ':
        this.#sendParts(peer, { type: 'ECHO_RES', payload: packet.payload });
        break;
      case 'OPTION_REQ':
        this.#option(peer, packet.option);
        break;
      case 'SET_CLIENT_ID':
        peer.clientId = packet.clientId === '' ? '-' : packet.clientId.slice(0, MAX_CLIENT_ID);
        break;
      default:
        // PROTOCOL section 8: response types, ALL_YOURS and SUBMIT_JOB_SCHED.
        peer.send(ERRORS.INVALID_COMMAND);
    }
  }

  /** Runs one admin line; returns false when the connection should be dropped. */
  handleAdmin(peer: Peer, line: string): boolean {
    const response = runAdminLine(line, this);
    if (response === undefined) return false;
    peer.send(Buffer.from(response, 'utf8'));
    return true;
  }

  // Submitting (protocol.md 4.1, 4.3, 6.5, 6.6, section 7)

  #submit(peer: Peer, packet: SubmitPacket, priority: Priority, background: boolean): void {
    if (this.#draining) {
      peer.send(ERRORS.SHUTTING_DOWN);
      return;
    }
    const request: SubmitRequest = {
      functionName: packet.functionName,
      unique: packet.unique,
      payload: packet.payload,
      priority,
      background,
    };
    if (packet.type === 'SUBMIT_JOB_EPOCH') {
      // PROTOCOL 6.5: a time in the past, or text that parses as 0, means now.
      const runAt = packet.runAt * 1000;
      if (Number.isFinite(runAt) && runAt > Date.now()) request.runAt = runAt;
      else if (!Number.isFinite(runAt) && runAt > 0) request.runAt = Number.MAX_SAFE_INTEGER;
    } else if (
      packet.type === 'SUBMIT_REDUCE_JOB' ||
      packet.type === 'SUBMIT_REDUCE_JOB_BACKGROUND'
    ) {
      request.reducer = packet.reducer;
    }
    const result = this.store.submit(request, background ? undefined : peer);
    if (!result.ok) {
      peer.send(result.code === 'QUEUE_ERROR' ? ERRORS.QUEUE_FULL : ERRORS.UNIQUE_TOO_LARGE);
      return;
    }
    const job = result.job;
    peer.send(encodePacket({ type: 'JOB_CREATED', handle: job.handle }));
    if (!result.created) return;
    if (job.runAt > 0) {
      job.state = 'delayed';
      job.fn.delayed++;
      this.#epoch.add(job);
    } else {
      this.#schedule(job);
    }
  }

  /** Queues a runnable job and wakes the function's sleeping workers. */
  #schedule(job: Job): void {
    if (job.state === 'delayed') job.fn.delayed--;
    this.store.enqueue(job);
    this.#wake(job.fn);
  }

  /**
   * PROTOCOL 5.2: one NOOP per sleep to every sleeping worker of the function. Unlike gearmand
   * 1.1.20 this also happens when an epoch job becomes due (section 11, item 26).
   */
  #wake(fn: FunctionEntry): void {
    if (this.#draining) return;
    for (const peer of fn.workers.keys()) {
      if (peer.sleeping && !peer.noopSent) {
        peer.noopSent = true;
        peer.send(NOOP);
      }
    }
  }

  // Workers (protocol.md 5.1–5.5, 6.3)

  #register(peer: Peer, name: string, timeout: number): void {
    const fn = this.store.function(name);
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

  #cantDo(peer: Peer, name: string): void {
    const fn = this.store.functions.get(name);
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

  #resetAbilities(peer: Peer): void {
    for (const { fn } of peer.registrations) this.#unregister(peer, fn);
    peer.registrations.length = 0;
    this.#loseHeld(peer, undefined);
  }

  #preSleep(peer: Peer): void {
    // PROTOCOL 5.2 and section 11, item 28: pending work gets an immediate NOOP, every time.
    if (!this.#draining && this.#hasWork(peer)) {
      peer.send(NOOP);
      return;
    }
    peer.sleeping = true;
  }

  #hasWork(peer: Peer): boolean {
    for (const { fn } of peer.registrations) if (this.store.hasWork(fn)) return true;
    return false;
  }

  #grab(peer: Peer, kind: GrabKind): void {
    peer.sleeping = false;
    peer.noopSent = false;
    if (this.#draining) {
      peer.send(NO_JOB);
      return;
    }
    // PROTOCOL 6.3: registrations newest first; within a function the oldest job of the
    // highest non-empty priority.
    const registrations = peer.registrations;
    for (let i = registrations.length - 1; i >= 0; i--) {
      const registration = registrations[i] as Registration;
      const job = this.store.take(registration.fn);
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
    const { handle, fn, unique, reducer, payload } = job;
    const functionName = fn.name;
    if (kind === 'GRAB_JOB') {
      this.#sendParts(peer, { type: 'JOB_ASSIGN', handle, functionName, payload });
    } else if (kind === 'GRAB_JOB_ALL' && reducer !== '') {
      this.#sendParts(peer, {
        type: 'JOB_ASSIGN_ALL',
        handle,
        functionName,
        unique,
        reducer,
        payload,
      });
    } else {
      this.#sendParts(peer, { type: 'JOB_ASSIGN_UNIQ', handle, functionName, unique, payload });
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
    const held = [...peer.held];
    for (let i = held.length - 1; i >= 0; i--) {
      const job = held[i] as Job;
      if (fn === undefined || job.fn === fn) this.#lose(job);
    }
  }

  /**
   * PROTOCOL 5.4: a lost job goes to the tail of its queue with its progress reset, unless it
   * was abandoned, or this was its `jobRetries`-th loss: then foreground waiters get WORK_FAIL.
   */
  #lose(job: Job): void {
    this.#release(job);
    if (job.abandoned) {
      this.store.dispose(job);
      return;
    }
    job.retries++;
    const limit = this.#options.jobRetries;
    if (limit > 0 && job.retries >= limit) {
      this.#options.logger?.info(`job ${job.handle} failed after ${job.retries} lost attempts`);
      this.#broadcast(
        job,
        encodePacket({ type: 'WORK_FAIL', handle: job.handle }, { magic: 'RES' }),
      );
      this.store.dispose(job);
      return;
    }
    job.numerator = 0;
    job.denominator = 0;
    this.#schedule(job);
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
    this.#running--;
    if (this.#running === 0 && this.#idle.length > 0) {
      for (const resolve of this.#idle.splice(0)) resolve();
    }
  }

  // Results (protocol.md 4.2, 5.3, 6.4)

  #work(peer: Peer, packet: WorkPacket): void {
    const job = this.store.jobs.get(packet.handle);
    if (job === undefined || job.worker !== peer) {
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
          this.#forward(peer, job, {
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
        if (job.waiters.length > 0) this.#forward(peer, job, packet);
        return;
      case 'WORK_COMPLETE':
      case 'WORK_FAIL':
        if (job.waiters.length > 0) {
          this.#forward(peer, job, packet.type === 'WORK_FAIL' ? failOf(job) : packet);
        }
        this.#finish(job);
        return;
      case 'WORK_EXCEPTION':
        if (job.waiters.length > 0) this.#forwardException(peer, job, packet);
        this.#finish(job);
        return;
    }
  }

  #finish(job: Job): void {
    this.#release(job);
    this.store.dispose(job);
  }

  /**
   * Sends one packet to every waiter, once per submission
   * ([protocol.md 4.3](https://github.com/gearmanode/gearmanode/blob/main/docs/protocol.md#43-unique-ids-and-de-duplication-coalescing)).
   */
  #forward(source: Peer, job: Job, packet: PacketInit): void {
    const parts = encodePacketParts(packet, { magic: 'RES' });
    for (const waiter of job.waiters) {
      for (const part of parts) waiter.send(part);
      if (waiter !== source && waiter.congested) source.pauseUntilDrained(waiter);
    }
  }

  /** WORK_EXCEPTION to waiters that asked for exceptions, WORK_FAIL (bare handle) to others. */
  #forwardException(source: Peer, job: Job, packet: PacketOf<'WORK_EXCEPTION'>): void {
    let exception: [Buffer] | [Buffer, Buffer] | undefined;
    let fail: Buffer | undefined;
    for (const waiter of job.waiters) {
      if (waiter.exceptions) {
        exception ??= encodePacketParts(packet, { magic: 'RES' });
        for (const part of exception) waiter.send(part);
      } else {
        fail ??= encodePacket(failOf(job), { magic: 'RES' });
        waiter.send(fail);
      }
      if (waiter !== source && waiter.congested) source.pauseUntilDrained(waiter);
    }
  }

  #broadcast(job: Job, frame: Buffer): void {
    for (const waiter of job.waiters) waiter.send(frame);
  }

  // Status, options, echo (protocol.md 4.4)

  #getStatus(peer: Peer, handle: string): void {
    const job = this.store.jobs.get(handle);
    peer.send(
      encodePacket({
        type: 'STATUS_RES',
        handle,
        known: job !== undefined,
        running: isRunning(job),
        numerator: job?.numerator ?? 0,
        denominator: job?.denominator ?? 0,
      }),
    );
  }

  #getStatusUnique(peer: Peer, unique: string): void {
    // gearmand 1.1.20 does not answer at all here (section 11, item 8); an ERROR is better.
    if (unique.length > MAX_UNIQUE_SIZE / 3 && Buffer.byteLength(unique) > MAX_UNIQUE_SIZE) {
      peer.send(ERRORS.UNIQUE_TOO_LARGE);
      return;
    }
    const job = this.store.findUnique(unique);
    peer.send(
      encodePacket({
        type: 'STATUS_RES_UNIQUE',
        unique,
        known: job !== undefined,
        running: isRunning(job),
        numerator: job?.numerator ?? 0,
        denominator: job?.denominator ?? 0,
        waitingClients: job?.waiters.length ?? 0,
      }),
    );
  }

  #option(peer: Peer, option: string): void {
    // PROTOCOL 4.4: `exceptions`, in any case, is the only option; the answer echoes the body.
    if (option.replace(/\0+$/, '').toLowerCase() !== 'exceptions') {
      peer.send(ERRORS.UNKNOWN_OPTION);
      return;
    }
    peer.exceptions = true;
    // Built by hand: the body may end in NUL bytes, which the encoder refuses in a name.
    const body = Buffer.from(option, 'utf8');
    const frame = Buffer.allocUnsafe(HEADER_SIZE + body.length);
    frame.writeUInt32BE(MAGIC_RES, 0);
    frame.writeUInt32BE(PACKET_TYPES.OPTION_RES.number, 4);
    frame.writeUInt32BE(body.length, 8);
    body.copy(frame, HEADER_SIZE);
    peer.send(frame);
  }

  #sendParts(peer: Peer, packet: PacketInit): void {
    const parts = encodePacketParts(packet);
    peer.send(parts[0]);
    if (parts.length === 2) peer.send(parts[1]);
  }

  // Lifecycle

  /**
   * Starts a graceful drain: submissions are refused and nothing more is handed out. Resolves
   * once no job is running, or after `timeout` ms, or when `abortDrain()` is called.
   */
  drain(timeout: number): Promise<void> {
    this.#draining = true;
    if (this.#running === 0) return Promise.resolve();
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
    for (const resolve of this.#idle.splice(0)) resolve();
  }

  /** Stops every timer; the server is closing and its jobs go with it. */
  stop(): void {
    this.#draining = true;
    this.#epoch.stop();
    for (const job of this.store.jobs.values()) {
      clearTimeout(job.timer);
      job.timer = undefined;
    }
    this.abortDrain();
  }

  // AdminContext

  functions(): Iterable<FunctionEntry> {
    return this.store.functions.values();
  }

  *peers(): Iterable<Peer> {
    const peers = [...this.#peers];
    for (let i = peers.length - 1; i >= 0; i--) yield peers[i] as Peer;
  }

  jobs(): Iterable<Job> {
    return this.store.jobs.values();
  }

  /**
   * PROTOCOL 6.7: waiters get WORK_FAIL and the job is abandoned. Unlike gearmand, the waiters
   * are detached (no later WORK_* reaches them) and the unique is freed at once, so a new
   * submission with it creates a new job instead of joining the cancelled one.
   */
  cancelJob(handle: string): boolean {
    const job = this.store.jobs.get(handle);
    if (job === undefined) return false;
    if (job.waiters.length > 0) {
      this.#broadcast(job, encodePacket({ type: 'WORK_FAIL', handle }, { magic: 'RES' }));
      this.store.clearWaiters(job);
    }
    job.background = false;
    this.store.forgetUnique(job);
    if (job.state === 'delayed') {
      this.#epoch.remove(job);
      this.store.dispose(job);
    } else {
      this.store.abandon(job);
    }
    return true;
  }

  createFunction(name: string): void {
    this.store.function(name);
  }

  /**
   * Unlike gearmand (section 11, item 32), a function that still has jobs is not dropped: its
   * jobs would be orphaned.
   */
  dropFunction(name: string): 'dropped' | 'busy' | 'missing' {
    const fn = this.store.functions.get(name);
    if (fn === undefined) return 'missing';
    if (fn.registrations > 0 || fn.total > 0) return 'busy';
    this.store.functions.delete(name);
    return 'dropped';
  }

  setMaxQueue(name: string, limits: QueueLimits): void {
    // PROTOCOL section 11, item 33: only functions that exist are affected.
    const fn = this.store.functions.get(name);
    if (fn !== undefined) fn.limits = limits;
  }

  shutdown(graceful: boolean): void {
    this.#options.onShutdown(graceful);
  }

  get pid(): number {
    return process.pid;
  }

  get version(): ServerVersion {
    return ADMIN_VERSION;
  }

  get verbose(): string {
    const logger = this.#options.logger;
    if (logger === undefined) return 'ERROR';
    return logger.debug !== undefined ? 'DEBUG' : 'INFO';
  }
}

function isRunning(job: Job | undefined): boolean {
  return job !== undefined && job.worker !== null;
}

function failOf(job: Job): PacketInit {
  return { type: 'WORK_FAIL', handle: job.handle };
}
