import { Buffer } from 'node:buffer';
import { performance } from 'node:perf_hooks';
import {
  Connection,
  type ConnectionEvent,
  type ConnectionState,
  checkInteger,
  checkTimeout,
  EventChannel,
  formatAddress,
  parseServers,
  Queue,
  type ReplyHandler,
  type ServerAddress,
  tuningOf,
} from '@gearmanode/core';
import {
  ClosedError,
  checkFunctionName,
  type GearmanError,
  InvalidArgumentError,
  ownPayload,
  type Packet,
  type PacketInit,
} from '@gearmanode/protocol';
import { JobLostError, JobTimeoutError, WorkerClosingError } from './errors.js';
import { GrabLoop, type GrabState } from './grab-loop.js';
import { type Job, type JobHost, JobImpl, type JobOutcome, RESOLVED } from './job.js';
import {
  type RegisterOptions,
  type ResolvedWorkerOptions,
  resolveOptions,
  type WorkerOptions,
} from './options.js';

/** `running` until `close()` or `destroy()`, `draining` while in-flight jobs finish, then `closed`. */
export type WorkerState = 'running' | 'draining' | 'closed';

/** What happened to one of the worker's server connections; yielded by `status()`. */
export type WorkerEvent =
  /** Connected, registrations sent; `generation` increases with every new socket. */
  | { type: 'connect'; server: string; generation: number }
  /** The socket closed; jobs from it were lost (the server re-queues them). */
  | { type: 'disconnect'; server: string; error: Error | undefined }
  /** A connect attempt failed; another follows after a backoff. */
  | { type: 'reconnecting'; server: string; attempt: number; error: Error }
  /** The connection stopped trying (see the `reconnect` option). */
  | { type: 'give-up'; server: string; error: Error };

/** One server connection as `stats()` shows it. */
export interface ServerStats {
  server: string;
  /** The socket's state. */
  connection: ConnectionState;
  /** Where the grab cycle is: `awake` (grabbing or ready to), `sleeping` (after PRE_SLEEP). */
  grab: GrabState;
  /** Jobs from this connection that are held (running or waiting to be yielded). */
  jobs: number;
  /** GRABs awaiting their reply. */
  grabsInFlight: number;
  /** Sockets opened so far. */
  generation: number;
}

/** Counters since the worker was created, and the current load. */
export interface WorkerStats {
  /** Jobs assigned by the servers. */
  received: number;
  /** Jobs settled with WORK_COMPLETE, WORK_FAIL, WORK_EXCEPTION by their handlers. */
  completed: number;
  failed: number;
  exceptions: number;
  /** Jobs the worker failed itself at their time limit (WORK_EXCEPTION). */
  timeouts: number;
  /** Jobs whose connection was lost while they were held; the server re-queued them. */
  lost: number;
  /** Jobs still running when `close()` timed out or `destroy()` was called. */
  abandoned: number;
  /** Jobs assigned but never yielded (they arrived after `break` or `close()` began). */
  released: number;
  /**
   * Results not sent: the job's connection was gone, or the worker had taken the job back
   * (time limit, lost connection, close timeout) before the handler settled it.
   */
  droppedResults: number;
  /** ERROR JOB_NOT_FOUND replies: reports for jobs the server had taken back. */
  jobNotFound: number;
  /** GRABs sent, and how many of them were answered with NO_JOB. */
  grabs: number;
  noJobs: number;
  /** Jobs yielded (or given to `process()`) and not yet settled. */
  inFlight: number;
  /** Jobs assigned and waiting for the loop to ask for them. */
  buffered: number;
  /** GRABs awaiting their reply, over all servers. */
  grabsInFlight: number;
  servers: ServerStats[];
}

/** Options of `close()`. */
export interface CloseOptions {
  /**
   * How long jobs in flight may take to finish, in ms. After that their `signal` aborts with
   * WorkerClosingError, their results are no longer sent, and the sockets close, so the server
   * hands them to another worker. @default 10000
   */
  timeout?: number;
}

/** What `process()` calls per job: the return value completes the job, a throw fails it. */
export type JobHandler = (job: Job) => JobResult | Promise<JobResult> | void | Promise<void>;
/** A handler's result: bytes, text (UTF-8), or `undefined` for an empty WORK_COMPLETE. */
export type JobResult = Uint8Array | string | undefined;

/** Options of `process()`. */
export interface ProcessOptions {
  /** Run at most this many jobs at once; capped by the worker's `concurrency`. @default concurrency */
  concurrency?: number;
}

/**
 * A Gearman worker connected to one or more job servers. Iterate it to receive jobs, or hand
 * it a handler with `process()`; see `createWorker()`.
 */
export interface Worker extends AsyncIterable<Job>, AsyncDisposable {
  /** `running`, `draining` (after `close()`, while jobs finish) or `closed`. */
  readonly state: WorkerState;
  /**
   * Resolves once the worker is closed, with the cause: `undefined` after `close()`, the error
   * passed to `destroy()`, or the error of the last server when every connection gave up.
   * Never rejects.
   */
  readonly closed: Promise<Error | undefined>;
  /** The registered functions, in registration order. */
  readonly functions: readonly string[];
  /**
   * Registers a function (CAN_DO) on every server, now and after every reconnect. Registering
   * a name again only updates its time limit (the server keeps its single registration), and its
   * handler when one is given.
   * @throws InvalidArgumentError for a bad name, timeout or handler; ClosedError once closing.
   */
  register(name: string, options?: RegisterOptions): void;
  /**
   * Registers a function, as `register(name, options)` does, with the handler `process()` runs
   * for its jobs.
   * @example
   * worker.register('resize', { timeout: 30_000 }, (job) => resize(job.payload));
   * worker.register('reverse', (job) => job.text().split('').reverse().join(''));
   * await worker.process();
   */
  register(name: string, handler: JobHandler): void;
  /** Registers a function with a time limit and the handler `process()` runs for its jobs. */
  register(name: string, options: RegisterOptions, handler: JobHandler): void;
  /**
   * Unregisters a function (CANT_DO). gearmand re-queues jobs a worker holds of a function it
   * unregisters
   * ([protocol.md section 11](https://github.com/gearmanode/gearmanode/blob/main/docs/protocol.md#11-gearmand-1120-as-observed),
   * item 21), so on a connection that holds such jobs the CANT_DO waits until they are settled;
   * jobs of the function that arrive meanwhile are still handed out (and `process()` still runs its
   * handler for them). Unknown names are ignored.
   */
  unregister(name: string): void;
  /**
   * Runs a handler for every job, up to `concurrency` at once: the one registered for the job's
   * function with `register(name, handler)`, else `handler`. Its return value completes the job
   * (WORK_COMPLETE), a throw or rejection sends WORK_EXCEPTION with the error's message. A
   * handler may also settle the job itself. Resolves once the worker has closed.
   * @throws InvalidArgumentError when a `for await` loop or another `process()` is consuming
   *   jobs already.
   */
  process(handler: JobHandler, options?: ProcessOptions): Promise<void>;
  /**
   * Runs the handlers registered with `register(name, handler)`. A job of a function registered
   * later without a handler gets WORK_EXCEPTION.
   * @throws InvalidArgumentError when a function registered so far has no handler, or as
   *   `process(handler)` does.
   */
  process(options?: ProcessOptions): Promise<void>;
  /**
   * Closes gracefully: stops grabbing at once and ends the iteration, lets jobs in flight
   * finish and send their results for up to `timeout` ms, then aborts the rest (WorkerClosingError
   * on `job.signal`; the server re-runs them elsewhere) and closes the sockets. Abilities are not
   * reset first: on gearmand that would take running jobs away. Idempotent; never rejects.
   */
  close(options?: CloseOptions): Promise<void>;
  /** Closes now: aborts every job's signal and destroys the sockets. Idempotent. */
  destroy(cause?: Error): void;
  /** Connection events from now until the worker closes. */
  status(): AsyncIterableIterator<WorkerEvent>;
  /** Counters and the current load. */
  stats(): WorkerStats;
  /**
   * Jobs, pulled: a GRAB goes out only while the loop waits for the next job and fewer than
   * `concurrency` jobs are unsettled. `break` stops grabbing; jobs yielded already must still be
   * settled. The iteration ends when the worker closes.
   * @throws InvalidArgumentError when another loop or `process()` is consuming jobs already.
   */
  [Symbol.asyncIterator](): AsyncIterator<Job>;
  /** Calls `close()`. */
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * Creates a worker, connects to every server and registers `functions` there. Resolves once
 * every server has either connected or failed its first attempt: servers that are down do not
 * stop the worker from starting, and are retried in the background with backoff.
 *
 * The library installs no signal handlers: call `close()` from your own.
 *
 * @throws InvalidArgumentError (as a rejection) for a bad option.
 * @example
 * const worker = await createWorker({ servers: ['127.0.0.1:4730'], concurrency: 8 });
 * worker.register('resize', { timeout: 30_000 });
 * process.once('SIGTERM', () => void worker.close({ timeout: 20_000 }));
 * for await (const job of worker) void handle(job);
 */
export async function createWorker(options?: WorkerOptions): Promise<Worker> {
  const worker = new GearmanWorker(resolveOptions(options));
  await worker.started;
  return worker;
}

/** One job server connection with its grab cycle. */
interface Link {
  readonly server: string;
  readonly connection: Connection;
  readonly loop: GrabLoop;
  /** The reply handler for this link's GRABs: one object, not one per GRAB. */
  readonly grabReply: ReplyHandler;
  /** Jobs from the current socket that are held: running or buffered. */
  readonly jobs: Set<JobImpl>;
  /** Functions registered on the current socket. */
  registered: Set<string>;
  /** Functions unregistered while this socket held jobs of them: CANT_DO once they settle. */
  readonly pendingCantDo: Set<string>;
  /** Closed for good (gave up, or reconnect is off). */
  dead: boolean;
  /** Connected once, or failed its first attempt: counted towards `started`. */
  started: boolean;
}

/** How a `for await` loop consumes jobs; see `#depth`. */
type Pace = 'fill' | 'fast' | 'one';

/** Who takes the jobs: a `for await` loop or `process()`. */
interface Consumer {
  /** How many jobs it wants on the way (buffered or being grabbed) right now. */
  want(): number;
  /** Takes a job now if it can; false to have it buffered. */
  offer(job: JobImpl): boolean;
  /** The worker is closing: stop. */
  end(): void;
}

type Counter =
  | 'received'
  | 'completed'
  | 'failed'
  | 'exceptions'
  | 'timeouts'
  | 'lost'
  | 'abandoned'
  | 'released'
  | 'droppedResults'
  | 'jobNotFound'
  | 'grabs'
  | 'noJobs';

const OUTCOME_COUNTER: Record<JobOutcome, Counter> = {
  completed: 'completed',
  failed: 'failed',
  exception: 'exceptions',
};

const GRAB_UNIQ: PacketInit = { type: 'GRAB_JOB_UNIQ' };
const GRAB_ALL: PacketInit = { type: 'GRAB_JOB_ALL' };
const PRE_SLEEP: PacketInit = { type: 'PRE_SLEEP' };
const DONE: IteratorResult<Job> = Object.freeze({ value: undefined, done: true });
const EMPTY = Buffer.alloc(0);
const DEFAULT_CLOSE_TIMEOUT = 10_000;
// A loop back for the next job within this many ms of the last one is a fast loop.
const FAST_LOOP_MS = 1;
// GRABs kept on the way for a fast loop that awaits each job.
const FAST_LOOP_DEPTH = 8;

class GearmanWorker implements Worker, JobHost {
  readonly closed: Promise<Error | undefined>;
  /** Resolves once every server has connected or failed its first attempt. */
  readonly started: Promise<void>;

  readonly #options: ResolvedWorkerOptions;
  readonly #concurrency: number;
  readonly #grabPacket: PacketInit;
  readonly #links: Link[];
  /** Registered functions and their time limits (0: none). */
  readonly #functions = new Map<string, number>();
  /** The handlers `process()` runs per function; kept after `unregister()` for late jobs. */
  readonly #handlers = new Map<string, JobHandler>();
  /** Jobs assigned and not yet handed to the consumer. */
  readonly #buffer = new Queue<JobImpl>();
  /** Running jobs with a time limit, one set per limit: in each set, deadlines only increase. */
  readonly #timed = new Map<number, Set<JobImpl>>();
  readonly #events = new EventChannel<WorkerEvent>();
  readonly #counters: Record<Counter, number> = {
    received: 0,
    completed: 0,
    failed: 0,
    exceptions: 0,
    timeouts: 0,
    lost: 0,
    abandoned: 0,
    released: 0,
    droppedResults: 0,
    jobNotFound: 0,
    grabs: 0,
    noJobs: 0,
  };
  #state: WorkerState = 'running';
  #consumer: Consumer | undefined;
  /** Jobs handed to the consumer and not settled. */
  #running = 0;
  #roundRobin = 0;
  #timer: NodeJS.Timeout | undefined;
  #closing: Promise<void> | undefined;
  #idle: (() => void) | undefined;
  #resolveClosed!: (cause: Error | undefined) => void;
  #startPending: number;
  #resolveStarted!: () => void;

  constructor(options: ResolvedWorkerOptions) {
    this.#options = options;
    this.#concurrency = options.concurrency;
    this.#grabPacket = options.grabMode === 'all' ? GRAB_ALL : GRAB_UNIQ;
    for (const { name, timeout } of options.functions) this.#functions.set(name, timeout);
    this.closed = new Promise((resolve) => {
      this.#resolveClosed = resolve;
    });
    this.started = new Promise((resolve) => {
      this.#resolveStarted = resolve;
    });

    const seen = new Set<string>();
    this.#links = [];
    for (const address of parseServers(options.servers)) {
      // The same server twice would register every function twice (section 11, item 29).
      const server = formatAddress(address);
      if (seen.has(server)) continue;
      seen.add(server);
      this.#links.push(this.#createLink(address));
    }
    this.#startPending = this.#links.length;

    // One timer for the whole worker: polls, the spin backoff and every job's time limit. It
    // is referenced: a running worker keeps the process alive even while it reconnects.
    const period = Math.max(10, Math.min(100, Math.floor(options.pollInterval / 4)));
    this.#timer = setInterval(this.#tick, period);

    for (const link of this.#links) {
      // Failures are reported through onEvent, and the connection retries on its own.
      link.connection.connect().catch(() => {});
      void link.connection.closed.then((cause) => this.#onLinkClosed(link, cause));
    }
  }

  #createLink(address: ServerAddress): Link {
    const grabReply: ReplyHandler = {
      onReply: (packet) => this.#onGrabReply(link, packet),
      onError: (error) => this.#onGrabError(link, error),
    };
    const connection: Connection = new Connection({
      address,
      ...tuningOf(this.#options),
      // A worker submits nothing, so it needs no WORK_EXCEPTION forwarding.
      exceptions: false,
      setup: () => this.#setup(link),
      onPacket: (packet) => this.#onPacket(link, packet),
      onEvent: (event) => this.#onEvent(link, event),
    });
    const link: Link = {
      server: connection.server,
      connection,
      loop: new GrabLoop({
        pollInterval: this.#options.pollInterval,
        maxWindow: this.#concurrency,
        eagerPreSleep: !this.#options.serverTimeout,
      }),
      grabReply,
      jobs: new Set(),
      registered: new Set(),
      pendingCantDo: new Set(),
      dead: false,
      started: false,
    };
    return link;
  }

  // ---- public API ---------------------------------------------------------------------------

  get state(): WorkerState {
    return this.#state;
  }

  get functions(): readonly string[] {
    return [...this.#functions.keys()];
  }

  register(
    name: string,
    optionsOrHandler?: RegisterOptions | JobHandler,
    handler?: JobHandler,
  ): void {
    const options = typeof optionsOrHandler === 'function' ? {} : (optionsOrHandler ?? {});
    const run = typeof optionsOrHandler === 'function' ? optionsOrHandler : handler;
    checkFunctionName(name);
    if (!isObject(options)) {
      throw new InvalidArgumentError('options', 'must be register options or a handler function');
    }
    const timeout =
      options.timeout === undefined
        ? this.#options.timeout
        : checkTimeout(options.timeout, 'timeout', 0);
    if (run !== undefined) checkHandler(run);
    if (this.#state !== 'running') throw new ClosedError('the worker is closing');
    this.#functions.set(name, timeout);
    if (run !== undefined) this.#handlers.set(name, run);
    let woke = false;
    for (const link of this.#links) {
      link.pendingCantDo.delete(name);
      // Already registered on this socket: CAN_DO again would register it twice.
      if (link.registered.has(name)) continue;
      // Not connected: setup() registers it on the next socket.
      if (link.connection.send(this.#canDo(name, timeout))) link.registered.add(name);
      // Jobs already queued for a new function wake no sleeping worker: grab again now.
      if (link.loop.poke()) woke = true;
    }
    if (woke) this.#pump();
  }

  unregister(name: string): void {
    if (!this.#functions.delete(name)) return;
    for (const link of this.#links) {
      if (!link.registered.has(name)) continue;
      if (holdsJobsOf(link, name)) link.pendingCantDo.add(name);
      else this.#cantDo(link, name);
    }
  }

  process(
    handlerOrOptions?: JobHandler | ProcessOptions,
    processOptions?: ProcessOptions,
  ): Promise<void> {
    let handler: JobHandler | undefined;
    let options: ProcessOptions;
    if (typeof handlerOrOptions === 'function' || processOptions !== undefined) {
      handler = checkHandler(handlerOrOptions);
      options = processOptions ?? {};
    } else {
      if (handlerOrOptions !== undefined && !isObject(handlerOrOptions)) checkHandler(undefined);
      options = handlerOrOptions ?? {};
      for (const name of this.#functions.keys()) {
        if (!this.#handlers.has(name)) {
          throw new InvalidArgumentError(
            'handler',
            `is required: function ${JSON.stringify(name)} has none of its own`,
          );
        }
      }
    }
    const limit =
      options.concurrency === undefined
        ? this.#concurrency
        : Math.min(
            checkInteger(options.concurrency, 'concurrency', 1, 1, Number.MAX_SAFE_INTEGER),
            this.#concurrency,
          );
    if (this.#state !== 'running') return this.closed.then(() => undefined);
    const consumer: Consumer = {
      want: () => limit - this.#running,
      offer: (job) => {
        this.#start(job);
        void this.#run(job, this.#handlers.get(job.name) ?? handler);
        return true;
      },
      end: () => {},
    };
    this.#claim(consumer);
    // Jobs buffered for an earlier loop go first.
    for (let job = this.#buffer.shift(); job !== undefined; job = this.#buffer.shift()) {
      consumer.offer(job);
    }
    this.#pump();
    return this.closed.then(() => undefined);
  }

  [Symbol.asyncIterator](): AsyncIterator<Job> {
    if (this.#state !== 'running') {
      return { next: () => Promise.resolve(DONE), return: () => Promise.resolve(DONE) };
    }
    let waiting: ((result: IteratorResult<Job>) => void) | undefined;
    // How the loop asked for its next job on an empty buffer (see #pace).
    let pace: Pace = 'one';
    let lastYield = Number.NEGATIVE_INFINITY;
    let finished = false;
    const finish = (): void => {
      finished = true;
      if (this.#consumer === consumer) this.#consumer = undefined;
      const wake = waiting;
      waiting = undefined;
      wake?.(DONE);
    };
    const consumer: Consumer = {
      want: () => (waiting === undefined ? 0 : this.#depth(pace)),
      offer: (job) => {
        const wake = waiting;
        if (wake === undefined) return false;
        waiting = undefined;
        this.#start(job);
        lastYield = performance.now();
        wake({ value: job, done: false });
        return true;
      },
      end: finish,
    };
    this.#claim(consumer);
    return {
      next: () => {
        if (finished || this.#state !== 'running') {
          finish();
          return Promise.resolve(DONE);
        }
        const job = this.#buffer.shift();
        if (job !== undefined) {
          this.#start(job);
          lastYield = performance.now();
          return Promise.resolve({ value: job, done: false });
        }
        pace =
          this.#running > 0
            ? 'fill'
            : performance.now() - lastYield < FAST_LOOP_MS
              ? 'fast'
              : 'one';
        const next = new Promise<IteratorResult<Job>>((resolve) => {
          waiting = resolve;
        });
        this.#pump();
        return next;
      },
      return: () => {
        finish();
        return Promise.resolve(DONE);
      },
    };
  }

  /**
   * How many jobs a loop waiting on an empty buffer wants on the way. A loop that asked while
   * jobs it was given were still unsettled does not await them (`fill`): every free slot. A loop
   * that came back within a millisecond handles jobs faster than a round trip to the server
   * (`fast`): a few, so it does not wait for each one. Any other loop awaits each job (`one`):
   * one at a time, so that no job waits in this worker while another worker could run it.
   */
  #depth(pace: Pace): number {
    const free = this.#concurrency - this.#running;
    return pace === 'fill' ? free : pace === 'fast' ? Math.min(free, FAST_LOOP_DEPTH) : 1;
  }

  close(options: CloseOptions = {}): Promise<void> {
    if (this.#closing !== undefined) return this.#closing;
    const timeout = checkTimeout(options.timeout, 'timeout', DEFAULT_CLOSE_TIMEOUT);
    this.#closing = this.#close(timeout);
    return this.#closing;
  }

  destroy(cause?: Error): void {
    if (this.#state === 'closed') return;
    this.#stopTaking();
    this.#abandonAll(new WorkerClosingError('the worker was destroyed', { cause }));
    for (const link of this.#links) link.connection.destroy(cause);
    this.#finish(cause);
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  status(): AsyncIterableIterator<WorkerEvent> {
    return this.#events.subscribe();
  }

  stats(): WorkerStats {
    let grabsInFlight = 0;
    const servers = this.#links.map((link): ServerStats => {
      grabsInFlight += link.loop.outstanding;
      return {
        server: link.server,
        connection: link.connection.state,
        grab: link.loop.state,
        jobs: link.jobs.size,
        grabsInFlight: link.loop.outstanding,
        generation: link.connection.generation,
      };
    });
    return {
      ...this.#counters,
      inFlight: this.#running,
      buffered: this.#buffer.size,
      grabsInFlight,
      servers,
    };
  }

  // ---- JobHost ------------------------------------------------------------------------------

  send(job: JobImpl, packet: PacketInit, final: boolean): Promise<void> {
    const connection = (job.link as Link).connection;
    // Only on the socket the job came from: once it is gone the server has re-queued the job,
    // and another server (or socket) would answer JOB_NOT_FOUND at best.
    if (job.generation !== connection.generation || !connection.send(packet)) {
      if (final) this.#counters.droppedResults++;
      return RESOLVED;
    }
    return connection.needsDrain ? connection.drained() : RESOLVED;
  }

  settled(job: JobImpl, outcome: JobOutcome): void {
    this.#counters[OUTCOME_COUNTER[outcome]]++;
    this.#done(job);
  }

  dropped(): void {
    this.#counters.droppedResults++;
  }

  // ---- connection callbacks -----------------------------------------------------------------

  /** The packets written first on every new socket: the client id, then the registrations. */
  #setup(link: Link): PacketInit[] {
    const packets: PacketInit[] = [];
    if (this.#options.clientId !== undefined) {
      packets.push({ type: 'SET_CLIENT_ID', clientId: this.#options.clientId });
    }
    for (const [name, timeout] of this.#functions) packets.push(this.#canDo(name, timeout));
    link.registered = new Set(this.#functions.keys());
    link.pendingCantDo.clear();
    return packets;
  }

  #canDo(name: string, timeout: number): PacketInit {
    // CAN_DO_TIMEOUT only on request: on gearmand 1.1.20 its timer outlives the job and has
    // corrupted the server (protocol.md section 11, item 25). Time limits are enforced here.
    return this.#options.serverTimeout && timeout > 0
      ? { type: 'CAN_DO_TIMEOUT', functionName: name, timeout }
      : { type: 'CAN_DO', functionName: name };
  }

  #cantDo(link: Link, name: string): void {
    link.pendingCantDo.delete(name);
    link.registered.delete(name);
    // Without a live socket there is nothing to undo: the next socket registers afresh.
    link.connection.send({ type: 'CANT_DO', functionName: name });
  }

  #onEvent(link: Link, event: ConnectionEvent): void {
    switch (event.type) {
      case 'connect':
        link.loop.connect();
        this.#startedOne(link);
        this.#events.push(event);
        this.#pump();
        return;
      case 'disconnect':
        link.loop.disconnect();
        this.#lose(link);
        this.#events.push(event);
        this.#pump();
        return;
      case 'reconnecting':
      case 'give-up':
        this.#startedOne(link);
        this.#events.push(event);
        return;
    }
  }

  #startedOne(link: Link): void {
    if (link.started) return;
    link.started = true;
    if (--this.#startPending === 0) this.#resolveStarted();
  }

  #onLinkClosed(link: Link, cause: Error | undefined): void {
    link.dead = true;
    link.loop.disconnect();
    this.#startedOne(link);
    if (this.#state === 'closed' || this.#closing !== undefined) return;
    this.#lose(link);
    // Every server gone for good: nothing can ever arrive. Close with the last cause.
    if (this.#links.every((l) => l.dead)) {
      this.destroy(cause ?? new ClosedError(`every connection closed (last: ${link.server})`));
    } else {
      this.#pump();
    }
  }

  #onPacket(link: Link, packet: Packet): void {
    if (packet.type === 'NOOP') {
      if (link.loop.noop(performance.now())) this.#pump();
    } else if (packet.type === 'ERROR') {
      // JOB_NOT_FOUND answers a report for a job the server took back (a server-side timeout,
      // or a CANT_DO). Expected and harmless: the job runs elsewhere (protocol.md section 12).
      this.#counters.jobNotFound++;
    }
    // Anything else (WORK_* relayed to clients) cannot be meant for a connection that submits
    // nothing; ignore it.
  }

  #onGrabReply(link: Link, packet: Packet): void {
    let job: JobImpl;
    switch (packet.type) {
      case 'JOB_ASSIGN_UNIQ':
        job = this.#newJob(
          link,
          packet.handle,
          packet.functionName,
          packet.unique,
          '',
          packet.payload,
        );
        break;
      case 'JOB_ASSIGN_ALL':
        job = this.#newJob(
          link,
          packet.handle,
          packet.functionName,
          packet.unique,
          packet.reducer,
          packet.payload,
        );
        break;
      case 'JOB_ASSIGN':
        job = this.#newJob(link, packet.handle, packet.functionName, '', '', packet.payload);
        break;
      default:
        // NO_JOB (the only other reply the connection lets through for a GRAB).
        this.#counters.noJobs++;
        if (link.loop.noJob(performance.now()) === 'pre-sleep') link.connection.send(PRE_SLEEP);
        this.#pump();
        return;
    }
    link.loop.assigned();
    this.#counters.received++;
    if (this.#state !== 'running') {
      // A GRAB sent before close() came back with a job. It is not started; the server hands it
      // to another worker when this socket closes.
      this.#counters.released++;
      return;
    }
    link.jobs.add(job);
    const consumer = this.#consumer;
    if (consumer === undefined || !consumer.offer(job)) this.#buffer.push(job);
    this.#pump();
  }

  #onGrabError(link: Link, error: GearmanError): void {
    if (error.code === 'ERR_SERVER') {
      // The server refused the GRAB (none does today): treat it as NO_JOB, so the loop sleeps
      // and polls instead of spinning.
      if (link.loop.noJob(performance.now()) === 'pre-sleep') link.connection.send(PRE_SLEEP);
      return;
    }
    // The socket went away; the disconnect event follows and resets the loop.
    link.loop.grabFailed(performance.now());
  }

  #newJob(
    link: Link,
    handle: string,
    name: string,
    unique: string,
    reducer: string,
    payload: Buffer,
  ): JobImpl {
    return new JobImpl(
      this,
      link,
      link.server,
      link.connection.generation,
      { name, handle, unique, reducer, payload: ownPayload(payload) },
      this.#functions.get(name) ?? this.#options.timeout,
    );
  }

  // ---- scheduling ---------------------------------------------------------------------------

  /** Sends as many GRABs as the consumer wants and the free slots allow, spread over servers. */
  #pump(): void {
    const consumer = this.#consumer;
    if (consumer === undefined || this.#state !== 'running') return;
    const links = this.#links;
    let inFlight = 0;
    for (const link of links) inFlight += link.loop.outstanding;
    const queued = this.#buffer.size + inFlight;
    let count = Math.min(
      consumer.want() - queued,
      this.#concurrency - this.#running - queued, // never more GRABs than free slots
    );
    if (count <= 0) return;
    if (links.length === 1) {
      const link = links[0] as Link;
      // One job per wake and the queue found empty last time: PRE_SLEEP alone (see GrabLoop).
      // With several servers the GRABs go out as usual.
      if (link.loop.capacity() > 0 && link.loop.sleepInstead(performance.now())) {
        link.connection.send(PRE_SLEEP);
        return;
      }
      for (count = Math.min(count, link.loop.capacity()); count > 0; count--) this.#grab(link);
      return;
    }
    // Several servers: one GRAB each in turn, starting from a different server every time.
    const start = this.#roundRobin++ % links.length;
    let sent = true;
    while (count > 0 && sent) {
      sent = false;
      for (let i = 0; i < links.length && count > 0; i++) {
        const link = links[(start + i) % links.length] as Link;
        if (link.loop.capacity() > 0 && this.#grab(link)) {
          count--;
          sent = true;
        }
      }
    }
  }

  #grab(link: Link): boolean {
    try {
      link.connection.request(this.#grabPacket, link.grabReply);
    } catch {
      // Not connected after all (between attempts, or closed): its events update the loop.
      return false;
    }
    if (link.loop.grabSent() === 'pre-sleep') link.connection.send(PRE_SLEEP);
    this.#counters.grabs++;
    return true;
  }

  /** Hands a job to the consumer: it now takes a slot, and its time limit starts. */
  #start(job: JobImpl): void {
    this.#running++;
    if (job.timeout > 0) {
      job.deadline = performance.now() + job.timeout;
      let set = this.#timed.get(job.timeout);
      if (set === undefined) {
        set = new Set();
        this.#timed.set(job.timeout, set);
      }
      set.add(job);
    }
  }

  /** A running job is over, one way or another: free its slot. */
  #done(job: JobImpl): void {
    this.#running--;
    const link = job.link as Link;
    link.jobs.delete(job);
    if (job.timeout > 0) this.#timed.get(job.timeout)?.delete(job);
    if (link.pendingCantDo.size > 0 && link.pendingCantDo.has(job.name)) {
      if (!holdsJobsOf(link, job.name)) this.#cantDo(link, job.name);
    }
    if (this.#running === 0) this.#idle?.();
    this.#pump();
  }

  readonly #tick = (): void => {
    const now = performance.now();
    for (const link of this.#links) link.loop.tick(now);
    for (const set of this.#timed.values()) {
      for (const job of set) {
        if (job.deadline > now) break;
        set.delete(job);
        this.#expire(job);
      }
    }
    // Also the watchdog: whatever state changed without a pump, a free slot that is wanted
    // gets its GRAB within one tick.
    this.#pump();
  };

  /** The job ran past its time limit: fail it with WORK_EXCEPTION and abort its signal. */
  #expire(job: JobImpl): void {
    if (!job.release()) return;
    const error = new JobTimeoutError(job.handle, job.timeout);
    this.#counters.timeouts++;
    this.send(job, { type: 'WORK_EXCEPTION', handle: job.handle, payload: error.message }, true);
    this.#done(job);
    job.abort(error);
  }

  /** A socket closed: every job from it is back in the server's queue. */
  #lose(link: Link): void {
    if (link.jobs.size === 0) return;
    const jobs = [...link.jobs];
    link.jobs.clear();
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

  #claim(consumer: Consumer): void {
    if (this.#consumer !== undefined) {
      throw new InvalidArgumentError(
        'consumer',
        'jobs are consumed already: one for await loop or one process() at a time',
      );
    }
    this.#consumer = consumer;
  }

  // ---- lifecycle ----------------------------------------------------------------------------

  async #close(timeout: number): Promise<void> {
    if (this.#state === 'closed') return;
    this.#stopTaking();
    if (this.#running > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, timeout);
        this.#idle = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#idle = undefined;
    }
    if (this.state === 'closed') return; // destroyed meanwhile
    this.#abandonAll(new WorkerClosingError(`the worker closed after ${timeout} ms`));
    // Ends each socket after writing what is queued: the results of finished jobs go out.
    await Promise.all(this.#links.map((link) => link.connection.close()));
    this.#finish(undefined);
  }

  /** Stops grabbing, ends the consumer and releases jobs nobody has been given. */
  #stopTaking(): void {
    this.#state = 'draining';
    const consumer = this.#consumer;
    this.#consumer = undefined;
    consumer?.end();
    for (let job = this.#buffer.shift(); job !== undefined; job = this.#buffer.shift()) {
      // Never started: the server re-queues it when the socket closes.
      job.release();
      (job.link as Link).jobs.delete(job);
      this.#counters.released++;
    }
  }

  /** Takes every running job back from its handler and aborts its signal with `reason`. */
  #abandonAll(reason: Error): void {
    for (const link of this.#links) {
      for (const job of [...link.jobs]) {
        if (!job.release()) continue;
        this.#counters.abandoned++;
        this.#done(job);
        job.abort(reason);
      }
    }
  }

  #finish(cause: Error | undefined): void {
    this.#state = 'closed';
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#idle?.();
    this.#timed.clear();
    this.#events.end();
    this.#resolveStarted();
    this.#resolveClosed(cause);
  }

  async #run(job: JobImpl, handler: JobHandler | undefined): Promise<void> {
    let result: unknown;
    try {
      // Registered without a handler after a handler-less process() began.
      if (handler === undefined) throw new Error(`no handler for function ${job.name}`);
      result = await handler(job);
    } catch (error) {
      // A job the worker took back counts the failure as a dropped result. One the handler
      // settled itself already leaves the error nowhere to go: it threw after reporting.
      if (!job.settled || job.released) this.#except(job, error);
      return;
    }
    if (job.settled && !job.released) return; // the handler settled it itself
    try {
      // Checked by the encoder: anything but bytes or a string throws InvalidArgumentError.
      await job.complete((result ?? EMPTY) as JobResult);
    } catch (error) {
      // The result could not be encoded (not bytes or a string, or over maxPacketSize).
      this.#except(job, error);
    }
  }

  #except(job: JobImpl, error: unknown): void {
    try {
      void job.exception(error);
    } catch {
      // The message itself could not be sent (over maxPacketSize): fail without detail.
      if (job.running) void job.fail();
    }
  }
}

/** @throws InvalidArgumentError unless `handler` is a function. */
function checkHandler(handler: unknown): JobHandler {
  if (typeof handler !== 'function') {
    throw new InvalidArgumentError('handler', 'must be a function');
  }
  return handler as JobHandler;
}

function isObject(value: unknown): value is object {
  return typeof value === 'object' && value !== null;
}

function holdsJobsOf(link: Link, name: string): boolean {
  for (const job of link.jobs) if (job.name === name) return true;
  return false;
}
