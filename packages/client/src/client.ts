import { Buffer } from 'node:buffer';
import {
  type ConnectionEvent,
  checkInteger,
  checkPayload,
  checkTimeout,
  describe,
  EventChannel,
  MAX_DELAY,
  tuningOf,
} from '@gearmanode/core';
import {
  ClosedError,
  ConnectionError,
  checkClientId,
  type GearmanError,
  InvalidArgumentError,
  JobExceptionError,
  JobFailedError,
  ownPayload,
  type Packet,
  type PacketInit,
  TimeoutError,
} from '@gearmanode/protocol';
import { Admission } from './admission.js';
import type {
  Client,
  ClientDebugState,
  ClientEvent,
  ClientState,
  ClientStats,
  JobStatus,
  UniqueJobStatus,
} from './client-types.js';
import { type AnyOptions, createSubmission } from './create-submission.js';
import { type JobRun, JobRunImpl } from './job-run.js';
import { mergeStatus, statusRequest } from './job-status.js';
import { isJobPacket } from './job-table.js';
import { JobTimeouts } from './job-timeouts.js';
import type {
  BackgroundOptions,
  ClientOptions,
  CloseOptions,
  Payload,
  RequestOptions,
  ResolvedClientOptions,
  SubmitOptions,
} from './options.js';
import { resolveClientOptions } from './options.js';
import { ServerPool } from './pool.js';
import { PendingRequest } from './request.js';
import { Retrier } from './retry.js';
import { ServerLink } from './server-link.js';
import { CREATED, DONE, SENT, type Submission, type SubmissionOwner } from './submission.js';
import { traceSettled, traceSubmitted } from './submit-trace.js';

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

/**
 * The key of the client's bookkeeping counts, for the project's own tests (test/support): a
 * registered symbol, so that reaching it needs no export.
 */
const DEBUG_STATE = Symbol.for('gearmanode.client.debugState');

class GearmanClient implements Client, SubmissionOwner {
  readonly lazy: boolean;
  readonly closed: Promise<Error | undefined>;
  readonly #options: ResolvedClientOptions;
  readonly #links: ServerLink[];
  readonly #pool: ServerPool<ServerLink>;
  readonly #admission: Admission;
  readonly #timeouts = new JobTimeouts((submission) => this.#expire(submission));
  readonly #retrier: Retrier;
  readonly #events = new EventChannel<ClientEvent>();
  #requests = 0;
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
    const tuning = tuningOf(options);
    this.#links = options.servers.map(
      (address) =>
        new ServerLink(address, (link) => ({
          address,
          ...tuning,
          exceptions: true,
          setup: () =>
            this.#clientId === undefined
              ? []
              : [{ type: 'SET_CLIENT_ID', clientId: this.#clientId }],
          onPacket: (packet) => this.#onPacket(link, packet),
          onEvent: (event) => this.#onConnectionEvent(link, event),
        })),
    );
    this.#pool = new ServerPool(this.#links, options.strategy);
    this.#admission = new Admission(options.maxInFlight, (submission) =>
      this.#dispatch(submission),
    );
    const self = this;
    this.#retrier = new Retrier(options.retry, {
      get isClosed() {
        return self.#state === 'closed';
      },
      hasServerFor: (unique) => this.#pool.pick(unique) !== undefined,
      dispatch: (submission) => this.#dispatch(submission),
      fail: (submission, error) => this.#fail(submission, error),
      countRetry: () => {
        this.#counts.retries++;
      },
    });
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
      for (const link of this.#links) {
        let reported = false;
        const report = (error: Error | undefined): void => {
          if (reported) return;
          reported = true;
          link.firstAttempt = undefined;
          if (error === undefined) resolve(undefined);
          else if (failures.push(error) === this.#links.length) resolve(failures);
        };
        link.firstAttempt = report;
        link.connection.connect().then(
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
      { maybeRan: false, server: this.#links.length === 1 ? this.#links[0]?.name : undefined },
      { cause: errors.length === 1 ? errors[0] : new AggregateError(errors, detail) },
    );
  }

  // ---- submitting ---------------------------------------------------------------------------

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
      run.limit = checkInteger(options?.maxBufferedEvents, 'maxBufferedEvents', 1000, 0, 1e9);
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
    if (submission.trace !== undefined) traceSubmitted(submission.trace);
    if (submission.timeout > 0) this.#timeouts.start(submission);
    submission.signal?.addEventListener('abort', submission, { once: true });
    this.#admission.admit(submission);
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
    for (let tries = this.#links.length; tries > 0; tries--) {
      const link = this.#pool.pick(submission.unique);
      if (link === undefined) break;
      let connection: ReturnType<ServerLink['live']>;
      try {
        connection = link.live();
        connection.request(packet, submission);
      } catch (error) {
        if ((error as GearmanError).code === 'ERR_CONNECTION') {
          link.markDown(this.#options.recoverTime);
          lastError = error as GearmanError;
          continue;
        }
        this.#fail(submission, error); // InvalidArgumentError from the encoder, ClosedError
        return;
      }
      submission.server = link;
      submission.state = SENT;
      if (submission.trace !== undefined) submission.trace.server = link.name;
      if (connection.needsDrain) this.#waitForDrain(connection);
      return;
    }
    this.#retrier.retryOrFail(
      submission,
      lastError ??
        new ConnectionError(`no job server available (${this.#links.length} down)`, {
          maybeRan: false,
        }),
    );
  }

  #waitForDrain(connection: ReturnType<ServerLink['live']>): void {
    const admission = this.#admission;
    if (admission.blocked) return;
    admission.blocked = true;
    void connection.drained().then(() => {
      admission.blocked = false;
      if (this.#state !== 'closed') admission.pump();
    });
  }

  // ---- replies and packets ------------------------------------------------------------------

  /** JOB_CREATED for a submission (SubmissionOwner). */
  jobCreated(submission: Submission, handle: string): void {
    if (submission.background) {
      if (!submission.done) {
        this.#counts.created++;
        this.#succeed(submission, handle);
      }
      return;
    }
    // Registered even when the caller gave up: the server sends this submission's copies of
    // every WORK_* packet regardless, and the ghost absorbs them (see JobTable).
    (submission.server as ServerLink).jobs.add(handle, submission);
    submission.handle = handle;
    if (submission.done) return;
    if (submission.trace !== undefined) submission.trace.handle = handle;
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
      const link = submission.server as ServerLink | undefined;
      link?.markDown(this.#options.recoverTime);
      const maybeRan = (error as ConnectionError).maybeRan;
      if (maybeRan) submission.mayHaveRun = true;
      // Nothing reached the server, so any server may take it.
      if (!maybeRan && this.#state !== 'closed') this.#dispatch(submission);
      else this.#retrier.retryOrFail(submission, error);
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

  #onPacket(link: ServerLink, packet: Packet): void {
    // NOOP or ERROR JOB_NOT_FOUND: worker traffic, nothing a client asked for.
    if (!isJobPacket(packet)) return;
    const submission = link.jobs.route(packet);
    if (submission === undefined || submission.done) return; // unknown, or a ghost
    if (submission.trace !== undefined && 'payload' in packet && packet.type !== 'WORK_EXCEPTION') {
      submission.trace.responseBytes += packet.payload.length;
    }
    switch (packet.type) {
      case 'WORK_COMPLETE':
        this.#counts.completed++;
        this.#succeed(submission, this.#decode(submission, packet.payload));
        return;
      case 'WORK_FAIL':
        this.#counts.failed++;
        this.#fail(submission, new JobFailedError(packet.handle));
        return;
      case 'WORK_EXCEPTION':
        this.#counts.exceptions++;
        this.#fail(submission, new JobExceptionError(packet.handle, ownPayload(packet.payload)));
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
    const encoding = submission.encoding;
    return encoding === undefined ? ownPayload(payload) : payload.toString(encoding);
  }

  #onConnectionEvent(link: ServerLink, event: ConnectionEvent): void {
    switch (event.type) {
      case 'connect':
        link.downUntil = 0;
        link.firstAttempt?.(undefined);
        break;
      case 'disconnect':
        link.markDown(this.#options.recoverTime);
        this.#failCreated(link, event.error);
        break;
      case 'reconnecting':
      case 'give-up':
        link.markDown(this.#options.recoverTime);
        link.firstAttempt?.(event.error);
        break;
    }
    this.#events.push(event);
  }

  /** The socket is gone, and with it every created job's way back: fail or retry them. */
  #failCreated(link: ServerLink, cause: Error | undefined): void {
    if (link.jobs.size === 0) return;
    const waiting = link.jobs.takeAll().filter((submission) => !submission.done);
    const detail = cause ? `: ${cause.message}` : '';
    for (const submission of waiting) {
      this.requestFailed(
        submission,
        new ConnectionError(
          `connection to ${link.name} lost while job ${submission.handle} was running${detail}`,
          { maybeRan: true, server: link.name },
          { cause },
        ),
      );
    }
  }

  // ---- settling -----------------------------------------------------------------------------

  #succeed(submission: Submission, value: Buffer | string): void {
    this.#finish(submission);
    if (submission.trace !== undefined) {
      if (submission.background) submission.trace.handle = value as string;
      traceSettled(submission, false, undefined);
    }
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
    this.#countError(error);
    this.#finish(submission);
    if (submission.trace !== undefined) traceSettled(submission, true, error);
    const run = submission.run;
    if (run !== undefined) run.settle(false, error);
    else submission.reject?.(error);
    submission.resolve = undefined;
    submission.reject = undefined;
  }

  #countError(error: unknown): void {
    const code = (error as GearmanError | undefined)?.code;
    if (code === 'ERR_CONNECTION') this.#counts.connectionErrors++;
    else if (code === 'ERR_SERVER') this.#counts.serverErrors++;
  }

  /** Releases everything the submission holds for its caller; a ghost may stay by handle. */
  #finish(submission: Submission): void {
    this.#admission.leave(submission);
    submission.state = DONE;
    if (submission.timeout > 0) this.#timeouts.stop(submission);
    submission.signal?.removeEventListener('abort', submission);
    submission.packet = undefined;
    const attempt = submission.attempt;
    if (attempt !== undefined) {
      submission.attempt = undefined;
      attempt.resolve();
    }
    submission.retryAbort?.abort();
    submission.retryAbort = undefined;
    this.#admission.free(submission);
    if (this.#idle !== undefined && this.#isIdle()) this.#idle();
  }

  #expire(submission: Submission): void {
    this.#counts.timeouts++;
    const packet = submission.packet as { functionName?: string } | undefined;
    const name = packet?.functionName ?? 'job';
    this.#fail(
      submission,
      new TimeoutError(`job ${name} timed out after ${submission.timeout} ms`),
    );
  }

  // ---- status, echo, client id --------------------------------------------------------------

  getStatus(handle: string, options?: RequestOptions): Promise<JobStatus>;
  getStatus(query: { unique: string }, options?: RequestOptions): Promise<UniqueJobStatus>;
  async getStatus(
    query: string | { unique: string },
    options?: RequestOptions,
  ): Promise<JobStatus | UniqueJobStatus> {
    const { packet, unique } = statusRequest(query);
    const links = this.#targets(options, unique);
    const answers = await Promise.allSettled(links.map((link) => this.#ask(link, packet, options)));
    return mergeStatus(answers);
  }

  async echo(payload: Payload = '', options?: RequestOptions): Promise<Buffer> {
    checkPayload(payload);
    const [link] = this.#targets(options, undefined);
    const reply = await this.#ask(link as ServerLink, { type: 'ECHO_REQ', payload }, options);
    return reply.type === 'ECHO_RES' ? ownPayload(reply.payload) : Buffer.alloc(0);
  }

  setClientId(id: string): void {
    this.#assertOpen();
    this.#clientId = checkClientId(id, 'id');
    for (const link of this.#links) {
      // Not connected now: the connection's setup sends the id once it is.
      link.connection.send({ type: 'SET_CLIENT_ID', clientId: id });
    }
  }

  /**
   * The servers to ask: the named one, every one for handles (`unique` ''), the unique's
   * preference order for uniques, or the strategy's next one (`unique` undefined).
   */
  #targets(options: RequestOptions | undefined, unique: string | undefined): ServerLink[] {
    this.#assertOpen();
    const server = options?.server;
    if (server !== undefined) {
      const link = this.#links.find((candidate) => candidate.name === server);
      if (link === undefined) {
        throw new InvalidArgumentError('server', `${describe(server)} is not a configured server`);
      }
      return [link];
    }
    if (unique === undefined) return this.#pool.order('').slice(0, 1);
    if (unique === '') return this.#links.slice();
    return this.#pool.order(unique);
  }

  #ask(link: ServerLink, packet: PacketInit, options: RequestOptions | undefined): Promise<Packet> {
    const timeout = checkTimeout(options?.timeout, 'timeout', 0);
    const signal = options?.signal;
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<Packet>((resolve, reject) => {
      this.#requests++;
      const request = new PendingRequest(
        `${packet.type} to ${link.name}`,
        resolve,
        (error: unknown) => {
          this.#countError(error);
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
        link.live().request(packet, request);
      } catch (error) {
        request.onError(error as GearmanError);
      }
    });
  }

  #assertOpen(): void {
    if (this.#state !== 'running') throw new ClosedError(`client is ${this.#state}`);
  }

  // ---- observability and shutdown -----------------------------------------------------------

  status(): AsyncIterableIterator<ClientEvent> {
    return this.#events.subscribe();
  }

  stats(): ClientStats {
    const now = Date.now();
    return {
      ...this.#counts,
      inFlight: this.#admission.inFlight,
      queued: this.#admission.queued,
      servers: this.#links.map((link) => ({
        server: link.name,
        state: link.connection.state,
        down: link.downUntil > now,
        pendingRequests: link.connection.pendingRequests,
        jobs: link.jobs.size,
      })),
    };
  }

  [DEBUG_STATE](): ClientDebugState {
    let handles = 0;
    let ghosts = 0;
    let pendingRequests = 0;
    for (const link of this.#links) {
      handles += link.jobs.size;
      ghosts += link.jobs.ghosts();
      pendingRequests += link.connection.pendingRequests;
    }
    return {
      inFlight: this.#admission.inFlight,
      queued: this.#admission.queued,
      requests: this.#requests,
      deadlines: this.#timeouts.size,
      retrying: this.#retrier.retrying.size,
      handles,
      ghosts,
      pendingRequests,
      statusSubscribers: this.#events.subscribers,
    };
  }

  #isIdle(): boolean {
    const admission = this.#admission;
    return admission.inFlight === 0 && admission.queued === 0 && this.#requests === 0;
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
      const connections = this.#links.map((link) => link.connection);
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
    for (const link of this.#links) link.connection.destroy(cause);
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
    const admission = this.#admission;
    for (let s = admission.head; s !== undefined; s = admission.head) this.#fail(s, error);
    for (const submission of [...this.#retrier.retrying]) this.#fail(submission, error);
    // Ghosts included: nothing will ever be delivered to them now. Submissions awaiting
    // JOB_CREATED are rejected by the connection's close() or destroy().
    for (const link of this.#links) {
      for (const submission of link.jobs.takeAll()) this.#fail(submission, error);
    }
    for (const submission of this.#timeouts.clear()) this.#fail(submission, error);
    this.#events.end();
    this.#closedResolve(cause);
  }
}
