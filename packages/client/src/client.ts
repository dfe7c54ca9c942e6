import { Buffer } from 'node:buffer';
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
import type {
  Client,
  ClientDebugState,
  ClientEvent,
  ClientState,
  ClientStats,
  JobStatus,
  UniqueJobStatus,
} from './client-types.js';
import {
  Connection,
  type ConnectionEvent,
  formatAddress,
  type ServerAddress,
} from './connection.js';
import { type AnyOptions, createSubmission } from './create-submission.js';
import { DeadlineHeap } from './deadlines.js';
import { EventChannel } from './event-channel.js';
import { type JobRun, JobRunImpl } from './job-run.js';
import { mergeStatus, statusRequest } from './job-status.js';
import {
  type BackgroundOptions,
  type ClientOptions,
  type CloseOptions,
  checkClientId,
  checkPayload,
  timeout as checkTimeout,
  describe,
  integer,
  MAX_DELAY,
  type Payload,
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
  type Submission,
  type SubmissionOwner,
  WaiterGroup,
} from './submission.js';

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
    return createSubmission(this, name, payload, options, background, this.#options.timeout);
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
    const { packet, unique } = statusRequest(query);
    const entries = this.#targets(options, unique);
    const answers = await Promise.allSettled(
      entries.map((entry) => this.#ask(entry, packet, options)),
    );
    return mergeStatus(answers);
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
