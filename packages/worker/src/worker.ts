import { performance } from 'node:perf_hooks';
import {
  type ConnectionEvent,
  checkTimeout,
  EventChannel,
  formatAddress,
  parseServers,
} from '@gearmanode/core';
import { ClosedError, InvalidArgumentError, type Packet } from '@gearmanode/protocol';
import {
  type Consumer,
  type ConsumerHost,
  endedIterator,
  loopConsumer,
  processArgs,
  processConsumer,
} from './consumers.js';
import { newCounters } from './counters.js';
import { WorkerClosingError } from './errors.js';
import { isAssignment } from './grab-replies.js';
import { GrabScheduler } from './grab-scheduler.js';
import { HeldJobs } from './held-jobs.js';
import type { Job } from './job.js';
import { Lifecycle } from './lifecycle.js';
import { assignedJob, takeGrabError, takeLinkPacket } from './link-replies.js';
import {
  type ResolvedWorkerOptions,
  registerArgs,
  resolveOptions,
  type WorkerOptions,
} from './options.js';
import { type LinkHost, ServerLink } from './server-link.js';
import type {
  CloseOptions,
  JobHandler,
  ProcessOptions,
  RegisterOptions,
  Worker,
  WorkerEvent,
  WorkerState,
  WorkerStats,
} from './worker-types.js';

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

const DEFAULT_CLOSE_TIMEOUT = 10_000;

/**
 * The worker: its links to the servers, the jobs between them and the consumer, and its
 * lifecycle. Each link runs its own grab cycle; the worker decides how many GRABs are wanted.
 */
class GearmanWorker implements Worker {
  readonly #options: ResolvedWorkerOptions;
  readonly #concurrency: number;
  readonly #links: ServerLink[] = [];
  readonly #scheduler: GrabScheduler;
  /** Registered functions and their time limits (0: none). */
  readonly #functions = new Map<string, number>();
  /** The name `#timeoutOf()` looked up last, and its time limit; reset when `#functions` changes. */
  #lastName: string | undefined;
  #lastTimeout = 0;
  /** The handlers `process()` runs per function; kept after `unregister()` for late jobs. */
  readonly #handlers = new Map<string, JobHandler>();
  readonly #events = new EventChannel<WorkerEvent>();
  readonly #counters = newCounters();
  readonly #jobs = new HeldJobs(this.#counters, () => {
    if (this.#jobs.running === 0) this.#life.idle();
    // A slot is free: a job that waited for one (see #pump) goes first.
    if (this.#consumer !== undefined && this.#jobs.buffered > 0 && this.#life.running) {
      this.#jobs.offerBuffered(this.#consumer);
    }
    this.#pump();
  });
  readonly #consumerHost: ConsumerHost;
  readonly #life: Lifecycle;
  #consumer: Consumer | undefined;
  #timer: NodeJS.Timeout | undefined;

  constructor(options: ResolvedWorkerOptions) {
    this.#options = options;
    this.#concurrency = options.concurrency;
    for (const { name, timeout } of options.functions) this.#functions.set(name, timeout);
    this.#consumerHost = {
      concurrency: this.#concurrency,
      running: () => this.#jobs.running,
      taking: () => this.#life.running,
      nextBuffered: () => this.#jobs.nextBuffered(),
      start: (job) => this.#jobs.start(job),
      pump: () => this.#pump(),
      detach: (consumer) => {
        if (this.#consumer === consumer) this.#consumer = undefined;
      },
    };

    const host: LinkHost = {
      onPacket: (link, packet) => {
        if (takeLinkPacket(link, packet, this.#counters, this.#events)) this.#pump();
      },
      onEvent: (link, event) => this.#onEvent(link, event),
      onGrabReply: (link, packet) => this.#onGrabReply(link, packet),
      onGrabError: (link, error, packet) => {
        if (takeGrabError(link, error, packet, this.#events)) this.#pump();
      },
    };
    const seen = new Set<string>();
    for (const address of parseServers(options.servers)) {
      // The same server twice would register every function twice (section 11, item 29).
      const server = formatAddress(address);
      if (seen.has(server)) continue;
      seen.add(server);
      this.#links.push(new ServerLink(address, options, this.#functions, host));
    }
    this.#scheduler = new GrabScheduler(this.#links, this.#concurrency);
    this.#life = new Lifecycle(this.#links.length);

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

  // ---- public API ---------------------------------------------------------------------------

  get state(): WorkerState {
    return this.#life.state;
  }

  get closed(): Promise<Error | undefined> {
    return this.#life.closed;
  }

  /** Resolves once every server has connected or failed its first attempt. */
  get started(): Promise<void> {
    return this.#life.started;
  }

  get functions(): readonly string[] {
    return [...this.#functions.keys()];
  }

  register(
    name: string,
    optionsOrHandler?: RegisterOptions | JobHandler,
    handler?: JobHandler,
  ): void {
    const { timeout, run } = registerArgs(name, optionsOrHandler, handler, this.#options.timeout);
    if (!this.#life.running) throw new ClosedError('the worker is closing');
    this.#functions.set(name, timeout);
    this.#lastName = undefined;
    if (run !== undefined) this.#handlers.set(name, run);
    let woke = false;
    for (const link of this.#links) if (link.register(name, timeout)) woke = true;
    if (woke) this.#pump();
  }

  unregister(name: string): void {
    if (!this.#functions.delete(name)) return;
    this.#lastName = undefined;
    for (const link of this.#links) link.unregister(name);
  }

  process(
    handlerOrOptions?: JobHandler | ProcessOptions,
    processOptions?: ProcessOptions,
  ): Promise<void> {
    const { handler, limit } = processArgs(
      handlerOrOptions,
      processOptions,
      this.#concurrency,
      () => [...this.#functions.keys()].find((name) => !this.#handlers.has(name)),
    );
    if (!this.#life.running) return this.closed.then(() => undefined);
    const consumer = processConsumer(
      this.#consumerHost,
      limit,
      // No lookup (of a name that is a new string per job) while no function has its own handler.
      (job) => (this.#handlers.size === 0 ? handler : (this.#handlers.get(job.name) ?? handler)),
    );
    this.#claim(consumer);
    // Jobs buffered for an earlier loop go first.
    for (let job = this.#jobs.nextBuffered(); job !== undefined; job = this.#jobs.nextBuffered()) {
      consumer.offer(job);
    }
    this.#pump();
    return this.closed.then(() => undefined);
  }

  [Symbol.asyncIterator](): AsyncIterator<Job> {
    if (!this.#life.running) return endedIterator();
    const { consumer, iterator } = loopConsumer(this.#consumerHost);
    this.#claim(consumer);
    return iterator;
  }

  close(options: CloseOptions = {}): Promise<void> {
    if (this.#life.closing !== undefined) return this.#life.closing;
    const timeout = checkTimeout(options.timeout, 'timeout', DEFAULT_CLOSE_TIMEOUT);
    this.#life.closing = this.#close(timeout);
    return this.#life.closing;
  }

  destroy(cause?: Error): void {
    if (this.#life.state === 'closed') return;
    this.#stopTaking();
    this.#jobs.abandon(this.#links, new WorkerClosingError('the worker was destroyed', { cause }));
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
    return {
      ...this.#counters,
      inFlight: this.#jobs.running,
      buffered: this.#jobs.buffered,
      grabsInFlight: this.#scheduler.inFlight(),
      servers: this.#links.map((link) => link.stats()),
    };
  }

  // ---- link callbacks -----------------------------------------------------------------------

  #onEvent(link: ServerLink, event: ConnectionEvent): void {
    switch (event.type) {
      case 'connect':
        link.loop.connect();
        this.#startedOne(link);
        this.#events.push(event);
        this.#pump();
        return;
      case 'disconnect':
        link.loop.disconnect();
        this.#jobs.lose(link);
        this.#events.push(event);
        this.#pump();
        return;
      case 'reconnecting':
      case 'give-up':
        this.#startedOne(link);
        this.#events.push(event);
        return;
      case 'suspect':
        // The server gets no new GRAB until it answers (see GrabScheduler); the consumer may
        // want one elsewhere instead of the GRABs it holds.
        this.#events.push(event);
        this.#pump();
        return;
      case 'responsive':
        this.#events.push(event);
        this.#pump();
        return;
    }
  }

  #startedOne(link: ServerLink): void {
    if (link.started) return;
    link.started = true;
    this.#life.serverStarted();
  }

  #onLinkClosed(link: ServerLink, cause: Error | undefined): void {
    link.dead = true;
    link.loop.disconnect();
    this.#startedOne(link);
    if (this.#life.state === 'closed' || this.#life.closing !== undefined) return;
    this.#jobs.lose(link);
    // Every server gone for good: nothing can ever arrive. Close with the last cause.
    if (this.#links.every((l) => l.dead)) {
      this.destroy(cause ?? new ClosedError(`every connection closed (last: ${link.server})`));
    } else {
      this.#pump();
    }
  }

  #onGrabReply(link: ServerLink, packet: Packet): void {
    if (!isAssignment(packet)) {
      this.#counters.noJobs++;
      link.noJob();
      this.#pump();
      return;
    }
    link.loop.assigned();
    this.#counters.received++;
    if (!this.#life.running) {
      // A GRAB sent before close() came back with a job. It is not started; the server hands it
      // to another worker when this socket closes.
      this.#counters.released++;
      return;
    }
    const name = packet.functionName;
    const job = assignedJob(this.#jobs, link, name, this.#timeoutOf(name), packet);
    this.#jobs.hold(job, this.#consumer);
    this.#pump();
  }

  /**
   * The time limit of a job of `name`. The last name's is kept: each job's name arrives as a
   * new string, and a stream of jobs of one function then compares it instead of hashing it.
   */
  #timeoutOf(name: string): number {
    if (name !== this.#lastName) {
      this.#lastTimeout = this.#functions.get(name) ?? this.#options.timeout;
      this.#lastName = name;
    }
    return this.#lastTimeout;
  }

  // ---- scheduling ---------------------------------------------------------------------------

  /** Sends as many GRABs as the consumer wants and the free slots allow, spread over servers. */
  #pump(): void {
    const consumer = this.#consumer;
    if (consumer === undefined || !this.#life.running) return;
    const buffered = this.#jobs.buffered;
    const wanted = consumer.want() - buffered;
    // Nothing wanted (a job has just been handed over, say): no need to count the GRABs out.
    if (wanted <= 0) return;
    const expected = this.#scheduler.expected();
    const count = Math.min(
      wanted - expected,
      // Never more GRABs than free slots. A suspect server's GRABs hold none: with `concurrency`
      // at or below the number of servers, one frozen server would otherwise hold every slot
      // until its requestTimeout. Should it answer after all, its job waits in the buffer for a
      // slot like any other, so no more than `concurrency` jobs ever run.
      this.#concurrency - this.#jobs.running - buffered - expected,
    );
    if (count > 0) this.#counters.grabs += this.#scheduler.send(count);
  }

  readonly #tick = (): void => {
    const now = performance.now();
    for (const link of this.#links) link.loop.tick(now);
    this.#jobs.expire(now);
    // Also the watchdog: whatever state changed without a pump, a free slot that is wanted
    // gets its GRAB within one tick.
    this.#pump();
  };

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
    if (this.#life.state === 'closed') return;
    this.#stopTaking();
    if (this.#jobs.running > 0) await this.#life.whenIdle(timeout);
    if (this.state === 'closed') return; // destroyed meanwhile
    this.#jobs.abandon(
      this.#links,
      new WorkerClosingError(`the worker closed after ${timeout} ms`),
    );
    // Ends each socket after writing what is queued: the results of finished jobs go out.
    await Promise.all(this.#links.map((link) => link.connection.close()));
    this.#finish(undefined);
  }

  /** Stops grabbing, ends the consumer and releases jobs nobody has been given. */
  #stopTaking(): void {
    this.#life.state = 'draining';
    const consumer = this.#consumer;
    this.#consumer = undefined;
    consumer?.end();
    this.#jobs.releaseBuffered();
  }

  #finish(cause: Error | undefined): void {
    this.#life.finish(cause);
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#jobs.clear();
    this.#events.end();
  }
}
