import type { Buffer } from 'node:buffer';
import {
  type ConnectionEvent,
  checkInteger,
  checkTimeout,
  EventChannel,
  MAX_DELAY,
  tuningOf,
} from '@gearmanode/core';
import { ClosedError, ConnectionError } from '@gearmanode/protocol';
import { type ClientCounts, clientStats, newClientCounts } from './client-stats.js';
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
import { Dispatcher } from './dispatcher.js';
import { JobReplies } from './job-replies.js';
import { type JobRun, JobRunImpl } from './job-run.js';
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
import { ServerLink } from './server-link.js';
import { ServerRequests } from './server-requests.js';
import type { Submission } from './submission.js';

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

/** The submission whose promise `takeSettlers` is building. */
let settling: Submission | undefined;

/**
 * The executor of every `submit()` promise: one function for all of them, so that a submit
 * makes no closure for it (it hands its settle functions to `settling`).
 */
function takeSettlers(resolve: (value: never) => void, reject: (error: unknown) => void): void {
  const submission = settling as Submission;
  submission.resolve = resolve;
  submission.reject = reject;
}

/** Events `start()` keeps for an iterator that reads late, unless `maxBufferedEvents` says. */
const MAX_BUFFERED_EVENTS = 1000;

/**
 * The client's public face and its lifecycle (connect, close, destroy). Submissions go out
 * through the Dispatcher and come back through JobReplies; status, echo and client id
 * requests are ServerRequests.
 */
class GearmanClient implements Client {
  readonly lazy: boolean;
  readonly closed: Promise<Error | undefined>;
  readonly #defaultTimeout: number;
  readonly #recoverTime: number;
  readonly #links: ServerLink[];
  readonly #counts: ClientCounts;
  readonly #timeouts: JobTimeouts;
  readonly #dispatcher: Dispatcher;
  readonly #replies: JobReplies;
  readonly #requests: ServerRequests;
  readonly #events = new EventChannel<ClientEvent>();
  #state: ClientState = 'running';
  #closing: Promise<void> | undefined;
  #idle: (() => void) | undefined;
  #closedResolve!: (cause: Error | undefined) => void;

  constructor(options: ResolvedClientOptions) {
    this.lazy = options.lazy;
    this.#defaultTimeout = options.timeout;
    this.#recoverTime = options.recoverTime;
    const tuning = tuningOf(options);
    // The closures below reach `replies` and `requests` only once a socket is up or a job is
    // out, after this constructor has returned.
    const links: ServerLink[] = options.servers.map(
      (address) =>
        new ServerLink(address, (link) => ({
          address,
          ...tuning,
          exceptions: true,
          setup: () => {
            const clientId = requests.clientId;
            return clientId === undefined ? [] : [{ type: 'SET_CLIENT_ID', clientId }];
          },
          onPacket: (packet) => replies.onPacket(link, packet),
          onEvent: (event) => this.#onConnectionEvent(link, event),
        })),
    );
    const pool = new ServerPool<ServerLink>(links, options.strategy);
    const counts = newClientCounts();
    const timeouts = new JobTimeouts((submission) => replies.expire(submission));
    const dispatcher = new Dispatcher(options, links, pool, counts, timeouts, (submission, error) =>
      replies.fail(submission, error),
    );
    const replies: JobReplies = new JobReplies(dispatcher, timeouts, counts, options.recoverTime);
    const requests: ServerRequests = new ServerRequests(
      this,
      links,
      pool,
      counts,
      options.clientId,
    );
    this.#links = links;
    this.#counts = counts;
    this.#timeouts = timeouts;
    this.#dispatcher = dispatcher;
    this.#replies = replies;
    this.#requests = requests;
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
    return this.#submit(name, payload, options, false);
  }

  start(name: string, payload: Payload, options?: SubmitOptions): JobRun<never> {
    const run = new JobRunImpl<Buffer | string>(MAX_BUFFERED_EVENTS);
    try {
      run.limit = checkInteger(
        options?.maxBufferedEvents,
        'maxBufferedEvents',
        MAX_BUFFERED_EVENTS,
        0,
        1e9,
      );
      const submission = this.#create(name, payload, options, false);
      submission.run = run;
      this.#dispatcher.admit(submission);
    } catch (error) {
      run.settle(false, error);
    }
    return run as unknown as JobRun<never>;
  }

  submitBackground(name: string, payload: Payload, options?: BackgroundOptions): Promise<string> {
    return this.#submit(name, payload, options, true);
  }

  /** `submit()` and `submitBackground()`: the promise settles with the submission. */
  #submit(
    name: string,
    payload: Payload,
    options: AnyOptions | undefined,
    background: boolean,
  ): Promise<never> {
    let submission: Submission;
    try {
      submission = this.#create(name, payload, options, background);
    } catch (error) {
      return Promise.reject(error);
    }
    settling = submission;
    const promise = new Promise<never>(takeSettlers);
    settling = undefined;
    try {
      this.#dispatcher.admit(submission);
    } catch (error) {
      this.#replies.fail(submission, error);
    }
    return promise;
  }

  /** Checks the arguments and builds the submission; throws what the caller should get. */
  #create(
    name: string,
    payload: Payload,
    options: AnyOptions | undefined,
    background: boolean,
  ): Submission {
    if (this.#state !== 'running') throw new ClosedError(`client is ${this.#state}`);
    return createSubmission(
      this.#replies,
      name,
      payload,
      options,
      background,
      this.#defaultTimeout,
    );
  }

  // ---- status, echo, client id --------------------------------------------------------------

  getStatus(handle: string, options?: RequestOptions): Promise<JobStatus>;
  getStatus(query: { unique: string }, options?: RequestOptions): Promise<UniqueJobStatus>;
  getStatus(
    query: string | { unique: string },
    options?: RequestOptions,
  ): Promise<JobStatus | UniqueJobStatus> {
    return this.#requests.getStatus(query, options);
  }

  echo(payload: Payload = '', options?: RequestOptions): Promise<Buffer> {
    return this.#requests.echo(payload, options);
  }

  setClientId(id: string): void {
    this.#requests.setClientId(id);
  }

  // ---- observability ------------------------------------------------------------------------

  status(): AsyncIterableIterator<ClientEvent> {
    return this.#events.subscribe();
  }

  stats(): ClientStats {
    return clientStats(this.#counts, this.#dispatcher.admission, this.#links);
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
    const admission = this.#dispatcher.admission;
    return {
      inFlight: admission.inFlight,
      queued: admission.queued,
      requests: this.#requests.pending,
      deadlines: this.#timeouts.size,
      retrying: this.#dispatcher.retrier.retrying.size,
      handles,
      ghosts,
      pendingRequests,
      statusSubscribers: this.#events.subscribers,
    };
  }

  // ---- connections and shutdown -------------------------------------------------------------

  #onConnectionEvent(link: ServerLink, event: ConnectionEvent): void {
    switch (event.type) {
      case 'connect':
        link.downUntil = 0;
        link.firstAttempt?.(undefined);
        break;
      case 'disconnect':
        link.markDown(this.#recoverTime);
        this.#replies.failCreated(link, event.error);
        break;
      case 'reconnecting':
      case 'give-up':
        link.markDown(this.#recoverTime);
        link.firstAttempt?.(event.error);
        break;
    }
    // Each of these changes which servers take submits (a suspect one takes none; one marked
    // down gives its share to the others, or, with none up, queued submits fail at once).
    const admission = this.#dispatcher.admission;
    if (event.type !== 'suspect' && this.#state !== 'closed' && admission.head !== undefined) {
      admission.pump();
    }
    this.#events.push(event);
  }

  #isIdle(): boolean {
    const admission = this.#dispatcher.admission;
    return admission.inFlight === 0 && admission.queued === 0 && this.#requests.pending === 0;
  }

  /** While `close()` waits: called after each job or request settles. */
  readonly #checkIdle = (): void => {
    if (this.#idle !== undefined && this.#isIdle()) this.#idle();
  };

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
          this.#replies.onSettled = this.#checkIdle;
          this.#requests.onSettled = this.#checkIdle;
          if (timeout > 0) timer = setTimeout(resolve, Math.min(timeout, MAX_DELAY));
        });
        clearTimeout(timer);
        this.#idle = undefined;
        this.#replies.onSettled = undefined;
        this.#requests.onSettled = undefined;
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
    const dispatcher = this.#dispatcher;
    dispatcher.closed = true;
    // A close() waiting for the jobs in flight goes on at once.
    const idle = this.#idle;
    this.#idle = undefined;
    idle?.();
    const replies = this.#replies;
    const admission = dispatcher.admission;
    for (let s = admission.head; s !== undefined; s = admission.head) replies.fail(s, error);
    for (const submission of [...dispatcher.retrier.retrying]) replies.fail(submission, error);
    // Ghosts included: nothing will ever be delivered to them now. Submissions awaiting
    // JOB_CREATED are rejected by the connection's close() or destroy().
    for (const link of this.#links) {
      for (const submission of link.jobs.takeAll()) replies.fail(submission, error);
    }
    for (const submission of this.#timeouts.clear()) replies.fail(submission, error);
    this.#events.end();
    this.#closedResolve(cause);
  }
}
