import { randomUUID } from 'node:crypto';
import {
  ClosedError,
  ConnectionError,
  type GearmanError,
  InvalidArgumentError,
  JobExceptionError,
  JobFailedError,
  type Packet,
  type PacketInit,
  TimeoutError,
} from '@gearmanode/protocol';
import pRetry from 'p-retry';
import {
  Connection,
  type ConnectionEvent,
  type ConnectionState,
  formatAddress,
  type ServerAddress,
} from './connection.js';
import { DeadlineHeap } from './deadlines.js';
import { EventChannel } from './event-channel.js';
import { type JobRun, JobRunImpl } from './job-run.js';
import {
  type BackgroundOptions,
  type ClientOptions,
  type CloseOptions,
  checkClientId,
  checkFunctionName,
  checkPayload,
  timeout as checkTimeout,
  checkUnique,
  describe,
  integer,
  MAX_DELAY,
  type Payload,
  type Priority,
  type RequestOptions,
  type ResolvedClientOptions,
  resolveClientOptions,
  type SubmitOptions,
  tuningOf,
} from './options.js';
import { fnv1a, type PoolMember, ServerPool } from './pool.js';
import { PendingRequest } from './request.js';
import {
  CREATED,
  DONE,
  detach,
  QUEUED,
  RETRYING,
  SENT,
  Submission,
  type SubmissionOwner,
  WaiterGroup,
} from './submission.js';

/** A lifecycle event of one of the client's server connections; see `Client.status()`. */
export type ClientEvent = ConnectionEvent;

/** `running`, `draining` (close() waits for jobs in flight), `closed`. */
export type ClientState = 'running' | 'draining' | 'closed';

/** The answer to GET_STATUS. */
export interface JobStatus {
  readonly handle: string;
  /** The server has the job, queued or running. False for unknown and finished jobs. */
  readonly known: boolean;
  /** A worker holds the job right now. */
  readonly running: boolean;
  /** The last WORK_STATUS, both 0 before any. */
  readonly numerator: number;
  readonly denominator: number;
}

/** The answer to GET_STATUS_UNIQUE. */
export interface UniqueJobStatus {
  readonly unique: string;
  readonly known: boolean;
  readonly running: boolean;
  readonly numerator: number;
  readonly denominator: number;
  /** Foreground clients waiting for the job's result (0 for background jobs). */
  readonly waitingClients: number;
}

/** One server as `stats()` reports it. */
export interface ServerStats {
  readonly server: string;
  readonly state: ConnectionState;
  /** Skipped after a failure until it reconnects or `recoverTime` passes. */
  readonly down: boolean;
  /** Requests written or queued on the connection that await a reply. */
  readonly pendingRequests: number;
  /** Handles of created foreground jobs awaiting their result on this connection. */
  readonly jobs: number;
}

/** Counters since `createClient`, and the current load. */
export interface ClientStats {
  /** Jobs accepted by submit(), start() and submitBackground(). */
  readonly submitted: number;
  /** Foreground jobs that completed (WORK_COMPLETE). */
  readonly completed: number;
  /** Background jobs the server queued (JOB_CREATED). */
  readonly created: number;
  /** WORK_FAIL. */
  readonly failed: number;
  /** WORK_EXCEPTION. */
  readonly exceptions: number;
  readonly timeouts: number;
  readonly aborted: number;
  /** Jobs and requests that rejected with ConnectionError. */
  readonly connectionErrors: number;
  /** Jobs and requests that rejected with ServerError (an ERROR packet). */
  readonly serverErrors: number;
  /** Submits sent again after losing their connection. */
  readonly retries: number;
  /** Jobs holding an in-flight slot: sent or waiting for a retry. */
  readonly inFlight: number;
  /** Jobs waiting in the client for a slot. */
  readonly queued: number;
  readonly servers: readonly ServerStats[];
}

/** The internal maps of a client, for tests: all zero when the client is idle. */
export interface ClientDebugState {
  readonly inFlight: number;
  readonly queued: number;
  readonly requests: number;
  readonly deadlines: number;
  readonly retrying: number;
  /** Handle entries over all connections, ghosts of abandoned waits included. */
  readonly handles: number;
  /** Waiters in those entries whose caller gave up (timeout, abort) before the result. */
  readonly ghosts: number;
  readonly pendingRequests: number;
  readonly statusSubscribers: number;
}

/**
 * A Gearman client over one or more job servers. Create it with `createClient`.
 *
 * Gearman has no cancel: a timeout or an abort stops the waiting, not the job, which may still
 * run on a worker.
 */
export interface Client extends AsyncDisposable {
  /** `running`, `draining` or `closed`. */
  readonly state: ClientState;
  /** Resolves once the client is closed, with the cause for `destroy(cause)`; never rejects. */
  readonly closed: Promise<Error | undefined>;

  /**
   * Runs a foreground job and resolves with its WORK_COMPLETE payload: a Buffer, or a string
   * with `encoding`. Rejects with JobFailedError (`ERR_JOB_FAILED`), JobExceptionError
   * (`ERR_JOB_EXCEPTION`, see `data`), TimeoutError (`ERR_TIMEOUT`), `signal.reason` on abort,
   * ConnectionError (`ERR_CONNECTION`, see `maybeRan`), ServerError (`ERR_SERVER`), ClosedError
   * (`ERR_CLOSED`) or InvalidArgumentError (`ERR_INVALID_ARGUMENT`).
   * @example const thumb = await client.submit('resize', image, { timeout: 10_000 });
   */
  submit(
    name: string,
    payload: Payload,
    options?: SubmitOptions & { encoding?: undefined },
  ): Promise<Buffer>;
  submit(
    name: string,
    payload: Payload,
    options: SubmitOptions & { encoding: BufferEncoding },
  ): Promise<string>;
  submit(name: string, payload: Payload, options?: SubmitOptions): Promise<Buffer | string>;

  /**
   * Starts a foreground job and returns at once: iterate the JobRun for its `created`, `status`,
   * `data` and `warning` events, and await `result()` for the outcome (as `submit()`).
   * @example
   * const run = client.start('transcode', video);
   * for await (const event of run) if (event.type === 'status') show(event.numerator);
   * const output = await run.result();
   */
  start(
    name: string,
    payload: Payload,
    options?: SubmitOptions & { encoding?: undefined },
  ): JobRun<Buffer>;
  start(
    name: string,
    payload: Payload,
    options: SubmitOptions & { encoding: BufferEncoding },
  ): JobRun<string>;
  start(name: string, payload: Payload, options?: SubmitOptions): JobRun<Buffer | string>;

  /**
   * Queues a background job and resolves with its handle once the server has it (JOB_CREATED).
   * Its result cannot be fetched; `getStatus()` shows its progress. With `at` it is scheduled
   * (SUBMIT_JOB_EPOCH). Rejects as `submit()` does, minus the job errors.
   */
  submitBackground(name: string, payload: Payload, options?: BackgroundOptions): Promise<string>;

  /**
   * Asks for a job's status by handle (GET_STATUS) or by unique (GET_STATUS_UNIQUE). Handles
   * are unique per server only: with several servers every one is asked (or just `server`) and
   * a server that knows the job wins. Rejects with TimeoutError, ConnectionError, ClosedError.
   */
  getStatus(handle: string, options?: RequestOptions): Promise<JobStatus>;
  getStatus(query: { unique: string }, options?: RequestOptions): Promise<UniqueJobStatus>;

  /** Sends ECHO_REQ to one server and resolves with the echoed bytes. */
  echo(payload?: Payload, options?: RequestOptions): Promise<Buffer>;

  /** Sets the id the server shows in its `workers` listing, now and after every reconnect. */
  setClientId(id: string): void;

  /**
   * Connection events of every server: `connect`, `disconnect`, `reconnecting`, `give-up`.
   * Each call returns a new iterator with its own buffer (the newest 1000 events); it ends when
   * the client closes.
   */
  status(): AsyncIterableIterator<ClientEvent>;

  /** Counters and current load. */
  stats(): ClientStats;

  /**
   * Stops taking jobs, waits up to `timeout` for the ones in flight and queued, rejects what is
   * left with ClosedError and closes the connections. Idempotent.
   */
  close(options?: CloseOptions): Promise<void>;

  /** Rejects every pending job with ClosedError and closes the sockets now. Idempotent. */
  destroy(cause?: Error): void;
}

/**
 * Creates a client. Resolves once a server is connected, or at once with `lazy: true`.
 * @throws InvalidArgumentError naming the bad option; ConnectionError (`maybeRan: false`) when
 *   `lazy` is false and the first attempt to every server failed.
 * @example
 * const client = await createClient({ servers: ['127.0.0.1:4730'] });
 * const out = await client.submit('reverse', 'hello');
 * await client.close();
 */
export async function createClient(options?: ClientOptions): Promise<Client> {
  const client = new GearmanClient(resolveClientOptions(options));
  if (!client.lazy) await client.connect();
  return client;
}

/** The key of `debugState()`, reachable only through `@gearmanode/client/internal`. */
export const DEBUG_STATE: unique symbol = Symbol('gearmanode.client.debugState');

interface ServerEntry extends PoolMember {
  readonly name: string;
  readonly address: ServerAddress;
  connection: Connection;
  /** Created foreground jobs of the current socket, by handle (protocol.md section 4.1). */
  readonly handles: Map<string, Submission | WaiterGroup>;
  /** Reports the outcome of the first connect attempt to an eager `createClient`. */
  firstAttempt: ((error: Error | undefined) => void) | undefined;
}

// PROTOCOL section 4.1: [foreground, background] packet per priority.
const SUBMIT_TYPES = {
  low: ['SUBMIT_JOB_LOW', 'SUBMIT_JOB_LOW_BG'],
  normal: ['SUBMIT_JOB', 'SUBMIT_JOB_BG'],
  high: ['SUBMIT_JOB_HIGH', 'SUBMIT_JOB_HIGH_BG'],
} as const;

const PRIORITIES: ReadonlySet<string> = new Set<Priority>(['low', 'normal', 'high']);

type AnyOptions = SubmitOptions & BackgroundOptions;

class GearmanClient implements Client, SubmissionOwner {
  readonly lazy: boolean;
  readonly closed: Promise<Error | undefined>;
  readonly #options: ResolvedClientOptions;
  readonly #entries: ServerEntry[];
  readonly #pool: ServerPool<ServerEntry>;
  readonly #deadlines = new DeadlineHeap<Submission>();
  readonly #events = new EventChannel<ClientEvent>();
  readonly #retrying = new Set<Submission>();
  #timer: NodeJS.Timeout | undefined;
  #timerAt = 0;
  #queueHead: Submission | undefined;
  #queueTail: Submission | undefined;
  #queued = 0;
  #inFlight = 0;
  #requests = 0;
  #pumping = false;
  #waitingDrain = false;
  #state: ClientState = 'running';
  #clientId: string | undefined;
  #closing: Promise<void> | undefined;
  #idle: (() => void) | undefined;
  #closedResolve!: (cause: Error | undefined) => void;
  readonly #counts = {
    submitted: 0,
    completed: 0,
    created: 0,
    failed: 0,
    exceptions: 0,
    timeouts: 0,
    aborted: 0,
    connectionErrors: 0,
    serverErrors: 0,
    retries: 0,
  };

  constructor(options: ResolvedClientOptions) {
    this.#options = options;
    this.lazy = options.lazy;
    this.#clientId = options.clientId;
    this.#entries = options.servers.map((address) => {
      const name = formatAddress(address);
      const entry: ServerEntry = {
        name,
        seed: fnv1a(name),
        downUntil: 0,
        address,
        connection: undefined as unknown as Connection,
        handles: new Map(),
        firstAttempt: undefined,
      };
      entry.connection = this.#newConnection(entry);
      return entry;
    });
    this.#pool = new ServerPool(this.#entries, options.strategy);
    this.closed = new Promise((resolve) => {
      this.#closedResolve = resolve;
    });
  }

  get state(): ClientState {
    return this.#state;
  }

  /** Connects every server; resolves once one is up, rejects once every first attempt failed. */
  async connect(): Promise<void> {
    const errors = await new Promise<Error[] | undefined>((resolve) => {
      const failures: Error[] = [];
      for (const entry of this.#entries) {
        let reported = false;
        const report = (error: Error | undefined): void => {
          if (reported) return;
          reported = true;
          entry.firstAttempt = undefined;
          if (error === undefined) resolve(undefined);
          else if (failures.push(error) === this.#entries.length) resolve(failures);
        };
        entry.firstAttempt = report;
        entry.connection.connect().then(
          () => report(undefined),
          (error: Error) => report(error),
        );
      }
    });
    if (errors === undefined) return;
    this.destroy();
    const detail = errors.map((error) => error.message).join('; ');
    throw new ConnectionError(
      `cannot connect to any job server: ${detail}`,
      { maybeRan: false, server: this.#entries.length === 1 ? this.#entries[0]?.name : undefined },
      { cause: errors.length === 1 ? errors[0] : new AggregateError(errors, detail) },
    );
  }

  // ---------------------------------------------------------------------------------------
  // Submitting

  submit(name: string, payload: Payload, options?: SubmitOptions): Promise<never> {
    let submission: Submission;
    try {
      submission = this.#create(name, payload, options, false);
    } catch (error) {
      return Promise.reject(error);
    }
    return new Promise((resolve, reject) => {
      submission.resolve = resolve;
      submission.reject = reject;
      this.#admit(submission);
    });
  }

  start(name: string, payload: Payload, options?: SubmitOptions): JobRun<never> {
    const run = new JobRunImpl<Buffer | string>(1000);
    try {
      run.limit = integer(options?.maxBufferedEvents, 'maxBufferedEvents', 1000, 0, 1e9);
      const submission = this.#create(name, payload, options, false);
      submission.run = run;
      this.#admit(submission);
    } catch (error) {
      run.settle(false, error);
    }
    return run as unknown as JobRun<never>;
  }

  submitBackground(name: string, payload: Payload, options?: BackgroundOptions): Promise<string> {
    let submission: Submission;
    try {
      submission = this.#create(name, payload, options, true);
    } catch (error) {
      return Promise.reject(error);
    }
    return new Promise((resolve, reject) => {
      submission.resolve = resolve as (value: never) => void;
      submission.reject = reject;
      this.#admit(submission);
    });
  }

  /** Checks the arguments and builds the submission; throws what the caller should get. */
  #create(
    name: string,
    payload: Payload,
    options: AnyOptions | undefined,
    background: boolean,
  ): Submission {
    if (this.#state !== 'running') throw new ClosedError(`client is ${this.#state}`);
    checkFunctionName(name);
    checkPayload(payload);
    let unique = '';
    let priority: Priority = 'normal';
    let timeout = this.#options.timeout;
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
          throw new InvalidArgumentError(
            'at',
            'scheduled jobs have normal priority and no reducer',
          );
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
      const type = SUBMIT_TYPES[priority][background ? 1 : 0];
      packet = { type, functionName: name, unique: wireUnique, payload };
    }
    const submission = new Submission(
      this,
      packet,
      background,
      unique,
      unique !== '' || idempotent,
      encoding,
      signal,
    );
    submission.timeout = timeout;
    return submission;
  }

  /** Starts the submission's clocks and sends it, or queues it while the slots are taken. */
  #admit(submission: Submission): void {
    this.#counts.submitted++;
    if (submission.timeout > 0) {
      submission.deadline = Date.now() + submission.timeout;
      this.#deadlines.add(submission);
      this.#armTimer();
    }
    submission.signal?.addEventListener('abort', submission, { once: true });
    if (
      this.#inFlight < this.#options.maxInFlight &&
      this.#queueHead === undefined &&
      !this.#waitingDrain
    ) {
      this.#send(submission);
    } else {
      this.#enqueue(submission);
    }
  }

  #send(submission: Submission): void {
    submission.holdsSlot = true;
    this.#inFlight++;
    this.#dispatch(submission);
  }

  /**
   * Hands the submission to the best healthy server. A server that refuses at once (between
   * reconnect attempts) is marked down and the next one is tried; nothing reached it, so this
   * is always safe.
   */
  #dispatch(submission: Submission): void {
    const packet = submission.packet;
    if (packet === undefined || submission.done) return;
    if (this.#state === 'closed') {
      this.#fail(submission, new ClosedError('client is closed'));
      return;
    }
    let lastError: GearmanError | undefined;
    for (let tries = this.#entries.length; tries > 0; tries--) {
      const entry = this.#pool.pick(submission.unique);
      if (entry === undefined) break;
      let connection: Connection;
      try {
        connection = this.#liveConnection(entry);
        connection.request(packet, submission);
      } catch (error) {
        if ((error as GearmanError).code === 'ERR_CONNECTION') {
          this.#markDown(entry);
          lastError = error as GearmanError;
          continue;
        }
        this.#fail(submission, error); // InvalidArgumentError from the encoder, ClosedError
        return;
      }
      submission.server = entry;
      submission.state = SENT;
      if (connection.needsDrain) this.#waitForDrain(connection);
      return;
    }
    this.#retryOrFail(
      submission,
      lastError ??
        new ConnectionError(`no job server available (${this.#entries.length} down)`, {
          maybeRan: false,
        }),
    );
  }

  /** The entry's connection, replaced when the old one gave up or was closed. */
  /**
   * The entry's connection, replaced when the old one gave up. With `reconnect: false` a lost
   * connection stays lost: throws ConnectionError (`maybeRan: false`).
   */
  #liveConnection(entry: ServerEntry): Connection {
    if (entry.connection.state === 'closed' && this.#state !== 'closed') {
      if (this.#options.reconnect === false) {
        throw new ConnectionError(`connection to ${entry.name} was lost and reconnect is off`, {
          maybeRan: false,
          server: entry.name,
        });
      }
      entry.connection = this.#newConnection(entry);
    }
    return entry.connection;
  }

  #newConnection(entry: ServerEntry): Connection {
    const options = this.#options;
    return new Connection({
      address: entry.address,
      ...tuningOf(options),
      exceptions: true,
      setup: () =>
        this.#clientId === undefined ? [] : [{ type: 'SET_CLIENT_ID', clientId: this.#clientId }],
      onPacket: (packet) => this.#onPacket(entry, packet),
      onEvent: (event) => this.#onConnectionEvent(entry, event),
    });
  }

  #waitForDrain(connection: Connection): void {
    if (this.#waitingDrain) return;
    this.#waitingDrain = true;
    void connection.drained().then(() => {
      this.#waitingDrain = false;
      this.#pump();
    });
  }

  #enqueue(submission: Submission): void {
    submission.state = QUEUED;
    submission.prev = this.#queueTail;
    if (this.#queueTail === undefined) this.#queueHead = submission;
    else this.#queueTail.next = submission;
    this.#queueTail = submission;
    this.#queued++;
  }

  #unlink(submission: Submission): void {
    const { prev, next } = submission;
    if (prev === undefined) this.#queueHead = next;
    else prev.next = next;
    if (next === undefined) this.#queueTail = prev;
    else next.prev = prev;
    submission.prev = undefined;
    submission.next = undefined;
    this.#queued--;
  }

  /** Sends queued submissions while slots are free. Not reentrant: a nested call returns. */
  #pump(): void {
    if (this.#pumping) return;
    this.#pumping = true;
    try {
      while (
        this.#queueHead !== undefined &&
        this.#inFlight < this.#options.maxInFlight &&
        !this.#waitingDrain &&
        this.#state !== 'closed'
      ) {
        const submission = this.#queueHead;
        this.#unlink(submission);
        this.#send(submission);
      }
    } finally {
      this.#pumping = false;
    }
  }

  // ---------------------------------------------------------------------------------------
  // Replies and packets

  /** JOB_CREATED for a submission (SubmissionOwner). */
  jobCreated(submission: Submission, handle: string): void {
    if (submission.background) {
      if (!submission.done) {
        this.#counts.created++;
        this.#succeed(submission, handle);
      }
      return;
    }
    const entry = submission.server as ServerEntry;
    // Registered even when the caller gave up: the server sends this submission's copies of
    // every WORK_* packet regardless, and the ghost absorbs them (see WaiterGroup).
    const handles = entry.handles;
    const slot = handles.get(handle);
    if (slot === undefined) {
      handles.set(handle, submission);
    } else if (slot instanceof WaiterGroup) {
      slot.list.push(submission);
      slot.cursor = 0;
    } else {
      handles.set(handle, new WaiterGroup(slot, submission));
    }
    submission.handle = handle;
    if (submission.done) return;
    submission.state = CREATED;
    const run = submission.run;
    if (run !== undefined) {
      run.handle = handle;
      run.push({ type: 'created', handle });
    }
  }

  /** A request of the submission failed (SubmissionOwner). */
  requestFailed(submission: Submission, error: GearmanError): void {
    if (submission.done) return;
    if (error.code === 'ERR_CONNECTION') {
      const entry = submission.server as ServerEntry | undefined;
      if (entry !== undefined) this.#markDown(entry);
      if ((error as ConnectionError).maybeRan) submission.mayHaveRun = true;
      if (!(error as ConnectionError).maybeRan && this.#state !== 'closed') {
        // PROTOCOL: nothing reached the server, so any server may take it.
        this.#dispatch(submission);
      } else {
        this.#retryOrFail(submission, error);
      }
      return;
    }
    this.#fail(submission, error);
  }

  /** The submission's abort signal fired (SubmissionOwner). */
  aborted(submission: Submission): void {
    if (submission.done) return;
    this.#counts.aborted++;
    this.#fail(submission, submission.signal?.reason);
  }

  #onPacket(entry: ServerEntry, packet: Packet): void {
    let terminal = false;
    switch (packet.type) {
      case 'WORK_COMPLETE':
      case 'WORK_FAIL':
      case 'WORK_EXCEPTION':
        terminal = true;
        break;
      case 'WORK_DATA':
      case 'WORK_WARNING':
      case 'WORK_STATUS':
        break;
      default:
        return; // NOOP or ERROR JOB_NOT_FOUND: worker traffic, nothing a client asked for
    }
    const handles = entry.handles;
    const handle = packet.handle;
    const slot = handles.get(handle);
    // PROTOCOL section 4.2: packets for unknown handles, or after the terminal one, are ignored.
    if (slot === undefined) return;
    let submission: Submission;
    if (slot instanceof WaiterGroup) {
      const list = slot.list;
      const index = slot.cursor;
      submission = list[index] as Submission;
      if (terminal) {
        list.splice(index, 1);
        if (list.length === 0) handles.delete(handle);
        else if (slot.cursor >= list.length) slot.cursor = 0;
      } else {
        slot.cursor = index + 1 === list.length ? 0 : index + 1;
      }
    } else {
      submission = slot;
      if (terminal) handles.delete(handle);
    }
    if (submission.done) return; // a ghost: its caller gave up
    switch (packet.type) {
      case 'WORK_COMPLETE':
        this.#counts.completed++;
        this.#succeed(submission, this.#decode(submission, packet.payload));
        return;
      case 'WORK_FAIL':
        this.#counts.failed++;
        this.#fail(submission, new JobFailedError(handle));
        return;
      case 'WORK_EXCEPTION':
        this.#counts.exceptions++;
        this.#fail(submission, new JobExceptionError(handle, detach(packet.payload)));
        return;
      case 'WORK_STATUS':
        submission.run?.push({
          type: 'status',
          numerator: packet.numerator,
          denominator: packet.denominator,
        });
        return;
      case 'WORK_DATA':
        submission.run?.push({ type: 'data', data: this.#decode(submission, packet.payload) });
        return;
      case 'WORK_WARNING':
        submission.run?.push({ type: 'warning', data: this.#decode(submission, packet.payload) });
        return;
    }
  }

  #decode(submission: Submission, payload: Buffer): Buffer | string {
    return submission.encoding === undefined
      ? detach(payload)
      : payload.toString(submission.encoding);
  }

  #onConnectionEvent(entry: ServerEntry, event: ConnectionEvent): void {
    switch (event.type) {
      case 'connect':
        entry.downUntil = 0;
        entry.firstAttempt?.(undefined);
        break;
      case 'disconnect':
        this.#markDown(entry);
        this.#failCreated(entry, event.error);
        break;
      case 'reconnecting':
      case 'give-up':
        this.#markDown(entry);
        entry.firstAttempt?.(event.error);
        break;
    }
    this.#events.push(event);
  }

  /** The socket is gone, and with it every created job's way back: fail or retry them. */
  #failCreated(entry: ServerEntry, cause: Error | undefined): void {
    const handles = entry.handles;
    if (handles.size === 0) return;
    const waiting: Submission[] = [];
    for (const slot of handles.values()) {
      if (slot instanceof WaiterGroup) {
        for (const submission of slot.list) if (!submission.done) waiting.push(submission);
      } else if (!slot.done) {
        waiting.push(slot);
      }
    }
    handles.clear();
    const detail = cause ? `: ${cause.message}` : '';
    for (const submission of waiting) {
      this.requestFailed(
        submission,
        new ConnectionError(
          `connection to ${entry.name} lost while job ${submission.handle} was running${detail}`,
          { maybeRan: true, server: entry.name },
          { cause },
        ),
      );
    }
  }

  #markDown(entry: ServerEntry): void {
    // At least a millisecond, so that a dispatch in the same tick skips the server.
    entry.downUntil = Date.now() + Math.max(1, this.#options.recoverTime);
  }

  // ---------------------------------------------------------------------------------------
  // Retry, settling, deadlines

  #retryOrFail(submission: Submission, error: GearmanError): void {
    const attempt = submission.attempt;
    if (attempt !== undefined) {
      submission.attempt = undefined;
      submission.state = RETRYING;
      attempt.reject(error); // p-retry decides
      return;
    }
    if (this.#canRetry(submission, error) && this.#state !== 'closed') {
      submission.state = RETRYING;
      this.#startRetry(submission);
      return;
    }
    this.#fail(submission, error);
  }

  #canRetry(submission: Submission, error: unknown): boolean {
    if (this.#options.retry.retries === 0 || submission.done) return false;
    if ((error as GearmanError | undefined)?.code !== 'ERR_CONNECTION') return false;
    // Sent and maybe run: only a job that may run twice is sent again.
    return !(error as ConnectionError).maybeRan || submission.retriable;
  }

  /** Sends the submission again with p-retry's backoff; the first retry goes out at once. */
  #startRetry(submission: Submission): void {
    const retry = this.#options.retry;
    const controller = new AbortController();
    submission.retryAbort = controller;
    this.#retrying.add(submission);
    pRetry(
      async (attemptNumber) => {
        // With no server up, an immediate retry would only fail again: wait for the backoff.
        if (attemptNumber === 1 && this.#pool.pick(submission.unique) === undefined) {
          await new Promise((resolve) => setTimeout(resolve, retry.minTimeout).unref());
        }
        if (submission.done) return;
        await new Promise<void>((resolve, reject) => {
          this.#counts.retries++;
          submission.attempt = { resolve, reject };
          this.#dispatch(submission);
        });
      },
      {
        retries: retry.retries - 1,
        minTimeout: retry.minTimeout,
        maxTimeout: retry.maxTimeout,
        factor: retry.factor,
        randomize: retry.randomize,
        signal: controller.signal,
        unref: true,
        shouldRetry: ({ error }) => this.#canRetry(submission, error),
      },
    ).then(
      () => this.#retrying.delete(submission),
      (error: unknown) => {
        this.#retrying.delete(submission);
        submission.retryAbort = undefined;
        if (!submission.done) this.#fail(submission, error);
      },
    );
  }

  #succeed(submission: Submission, value: Buffer | string): void {
    this.#finish(submission);
    const run = submission.run;
    if (run !== undefined) run.settle(true, value);
    else (submission.resolve as (value: Buffer | string) => void)(value);
    submission.resolve = undefined;
    submission.reject = undefined;
  }

  #fail(submission: Submission, error: unknown): void {
    if (submission.done) return;
    if (submission.mayHaveRun && (error as ConnectionError | undefined)?.maybeRan === false) {
      // An earlier attempt reached a server: the caller must not take this for "never ran".
      const last = error as ConnectionError;
      error = new ConnectionError(
        `${last.message} (an earlier attempt may have run)`,
        { maybeRan: true, server: last.server },
        { cause: last },
      );
    }
    const code = (error as GearmanError | undefined)?.code;
    if (code === 'ERR_CONNECTION') this.#counts.connectionErrors++;
    else if (code === 'ERR_SERVER') this.#counts.serverErrors++;
    this.#finish(submission);
    const run = submission.run;
    if (run !== undefined) run.settle(false, error);
    else submission.reject?.(error);
    submission.resolve = undefined;
    submission.reject = undefined;
  }

  /** Releases everything the submission holds for its caller; a ghost may stay by handle. */
  #finish(submission: Submission): void {
    if (submission.state === QUEUED && submission.holdsSlot === false) {
      if (submission.prev !== undefined || this.#queueHead === submission) this.#unlink(submission);
    }
    submission.state = DONE;
    if (submission.heapIndex >= 0) this.#deadlines.remove(submission);
    submission.signal?.removeEventListener('abort', submission);
    submission.packet = undefined;
    const attempt = submission.attempt;
    if (attempt !== undefined) {
      submission.attempt = undefined;
      attempt.resolve();
    }
    submission.retryAbort?.abort();
    submission.retryAbort = undefined;
    if (submission.holdsSlot) {
      submission.holdsSlot = false;
      this.#inFlight--;
      if (this.#queueHead !== undefined) this.#pump();
    }
    if (this.#idle !== undefined && this.#isIdle()) this.#idle();
  }

  #armTimer(): void {
    const head = this.#deadlines.peek();
    if (head === undefined) return;
    if (this.#timer !== undefined) {
      if (this.#timerAt <= head.deadline) return;
      clearTimeout(this.#timer);
    }
    this.#timerAt = head.deadline;
    const delay = Math.min(Math.max(0, head.deadline - Date.now()), MAX_DELAY);
    this.#timer = setTimeout(this.#onTimer, delay);
    this.#timer.unref();
  }

  readonly #onTimer = (): void => {
    this.#timer = undefined;
    const now = Date.now();
    for (let s = this.#deadlines.popExpired(now); s; s = this.#deadlines.popExpired(now)) {
      if (s.done) continue;
      this.#counts.timeouts++;
      const name = (s.packet as { functionName?: string } | undefined)?.functionName ?? 'job';
      this.#fail(s, new TimeoutError(`job ${name} timed out after ${s.timeout} ms`));
    }
    this.#armTimer();
  };

  // ---------------------------------------------------------------------------------------
  // Status, echo, client id

  getStatus(handle: string, options?: RequestOptions): Promise<JobStatus>;
  getStatus(query: { unique: string }, options?: RequestOptions): Promise<UniqueJobStatus>;
  async getStatus(
    query: string | { unique: string },
    options?: RequestOptions,
  ): Promise<JobStatus | UniqueJobStatus> {
    let packet: PacketInit;
    let entries: ServerEntry[];
    if (typeof query === 'string') {
      if (query === '' || query.includes('\0') || Buffer.byteLength(query) > 63) {
        throw new InvalidArgumentError('handle', 'must be 1 to 63 bytes without NUL');
      }
      packet = { type: 'GET_STATUS', handle: query };
      entries = this.#targets(options, '');
    } else {
      if (query === null || typeof query !== 'object') {
        throw new InvalidArgumentError('query', 'must be a handle or { unique }');
      }
      const unique = checkUnique(query.unique);
      packet = { type: 'GET_STATUS_UNIQUE', unique };
      entries = this.#targets(options, unique);
    }
    const answers = await Promise.allSettled(
      entries.map((entry) => this.#ask(entry, packet, options)),
    );
    let firstError: unknown;
    let firstAnswer: JobStatus | UniqueJobStatus | undefined;
    for (const answer of answers) {
      if (answer.status === 'rejected') {
        firstError ??= answer.reason;
        continue;
      }
      const status = toStatus(answer.value);
      if (status.known) return status;
      firstAnswer ??= status;
    }
    // A server that failed may be the one that knows the job: "unknown" would be a guess.
    if (firstError !== undefined) throw firstError;
    return firstAnswer as JobStatus | UniqueJobStatus;
  }

  async echo(payload: Payload = '', options?: RequestOptions): Promise<Buffer> {
    checkPayload(payload);
    const [entry] = this.#targets(options, undefined);
    const reply = await this.#ask(entry as ServerEntry, { type: 'ECHO_REQ', payload }, options);
    return reply.type === 'ECHO_RES' ? detach(reply.payload) : Buffer.alloc(0);
  }

  setClientId(id: string): void {
    this.#assertOpen();
    this.#clientId = checkClientId(id, 'id');
    for (const entry of this.#entries) {
      // Not connected now: the connection's setup sends the id once it is.
      entry.connection.send({ type: 'SET_CLIENT_ID', clientId: id });
    }
  }

  /**
   * The servers to ask: the named one, every one for handles (`unique` ''), the unique's
   * preference order for uniques, or the strategy's next one (`unique` undefined).
   */
  #targets(options: RequestOptions | undefined, unique: string | undefined): ServerEntry[] {
    this.#assertOpen();
    const server = options?.server;
    if (server !== undefined) {
      const entry = this.#entries.find((candidate) => candidate.name === server);
      if (entry === undefined) {
        throw new InvalidArgumentError('server', `${describe(server)} is not a configured server`);
      }
      return [entry];
    }
    if (unique === undefined) return this.#pool.order('').slice(0, 1);
    if (unique === '') return this.#entries.slice();
    return this.#pool.order(unique);
  }

  #ask(
    entry: ServerEntry,
    packet: PacketInit,
    options: RequestOptions | undefined,
  ): Promise<Packet> {
    const timeout = checkTimeout(options?.timeout, 'timeout', 0);
    const signal = options?.signal;
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<Packet>((resolve, reject) => {
      this.#requests++;
      const request = new PendingRequest(
        `${packet.type} to ${entry.name}`,
        resolve,
        (error: unknown) => {
          const code = (error as GearmanError | undefined)?.code;
          if (code === 'ERR_CONNECTION') this.#counts.connectionErrors++;
          else if (code === 'ERR_SERVER') this.#counts.serverErrors++;
          reject(error);
        },
        timeout,
        signal,
        () => {
          this.#requests--;
          if (this.#idle !== undefined && this.#isIdle()) this.#idle();
        },
      );
      try {
        this.#liveConnection(entry).request(packet, request);
      } catch (error) {
        request.onError(error as GearmanError);
      }
    });
  }

  #assertOpen(): void {
    if (this.#state !== 'running') throw new ClosedError(`client is ${this.#state}`);
  }

  // ---------------------------------------------------------------------------------------
  // Observability and shutdown

  status(): AsyncIterableIterator<ClientEvent> {
    return this.#events.subscribe();
  }

  stats(): ClientStats {
    const now = Date.now();
    return {
      ...this.#counts,
      inFlight: this.#inFlight,
      queued: this.#queued,
      servers: this.#entries.map((entry) => ({
        server: entry.name,
        state: entry.connection.state,
        down: entry.downUntil > now,
        pendingRequests: entry.connection.pendingRequests,
        jobs: entry.handles.size,
      })),
    };
  }

  [DEBUG_STATE](): ClientDebugState {
    let handles = 0;
    let ghosts = 0;
    let pendingRequests = 0;
    for (const entry of this.#entries) {
      handles += entry.handles.size;
      pendingRequests += entry.connection.pendingRequests;
      for (const slot of entry.handles.values()) {
        const list = slot instanceof WaiterGroup ? slot.list : [slot];
        for (const submission of list) if (submission.done) ghosts++;
      }
    }
    return {
      inFlight: this.#inFlight,
      queued: this.#queued,
      requests: this.#requests,
      deadlines: this.#deadlines.size,
      retrying: this.#retrying.size,
      handles,
      ghosts,
      pendingRequests,
      statusSubscribers: this.#events.subscribers,
    };
  }

  #isIdle(): boolean {
    return this.#inFlight === 0 && this.#queued === 0 && this.#requests === 0;
  }

  close(options?: CloseOptions): Promise<void> {
    if (this.#closing !== undefined) return this.#closing;
    if (this.#state === 'closed') return this.closed.then(() => undefined);
    const timeout = checkTimeout(options?.timeout, 'timeout', 30_000);
    this.#state = 'draining';
    this.#closing = (async () => {
      if (!this.#isIdle()) {
        let timer: NodeJS.Timeout | undefined;
        await new Promise<void>((resolve) => {
          this.#idle = resolve;
          if (timeout > 0) timer = setTimeout(resolve, Math.min(timeout, MAX_DELAY));
        });
        clearTimeout(timer);
        this.#idle = undefined;
      }
      const connections = this.#entries.map((entry) => entry.connection);
      // destroy() may have run meanwhile; it closed everything already.
      if (this.#state !== 'closed') {
        this.#shutdown(new ClosedError('client closed before the job finished'), undefined);
      }
      await Promise.all(connections.map((connection) => connection.close()));
    })();
    return this.#closing;
  }

  destroy(cause?: Error): void {
    if (this.#state === 'closed') return;
    this.#shutdown(new ClosedError('client destroyed', { cause }), cause);
    for (const entry of this.#entries) entry.connection.destroy(cause);
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** Rejects everything still waiting with `error`; the caller closes the connections. */
  #shutdown(error: ClosedError, cause: Error | undefined): void {
    this.#state = 'closed';
    // A close() waiting for the jobs in flight goes on at once.
    const idle = this.#idle;
    this.#idle = undefined;
    idle?.();
    for (let s = this.#queueHead; s !== undefined; s = this.#queueHead) this.#fail(s, error);
    for (const submission of [...this.#retrying]) this.#fail(submission, error);
    for (const entry of this.#entries) {
      const waiting: Submission[] = [];
      for (const slot of entry.handles.values()) {
        if (slot instanceof WaiterGroup) waiting.push(...slot.list);
        else waiting.push(slot);
      }
      entry.handles.clear();
      // Ghosts included: nothing will ever be delivered to them now.
      for (const submission of waiting) this.#fail(submission, error);
      // Submissions awaiting JOB_CREATED are rejected by the connection's close() or destroy().
    }
    for (const submission of this.#deadlines.clear()) this.#fail(submission, error);
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#events.end();
    this.#closedResolve(cause);
  }
}

function toStatus(packet: Packet): JobStatus | UniqueJobStatus {
  if (packet.type === 'STATUS_RES') {
    const { handle, known, running, numerator, denominator } = packet;
    return { handle, known, running, numerator, denominator };
  }
  if (packet.type === 'STATUS_RES_UNIQUE') {
    const { unique, known, running, numerator, denominator, waitingClients } = packet;
    return { unique, known, running, numerator, denominator, waitingClients };
  }
  throw new InvalidArgumentError('reply', `unexpected ${packet.type}`);
}
