import { Buffer } from 'node:buffer';
import {
  Connection,
  type ConnectionTuning,
  checkInteger,
  checkTimeout,
  MAX_DELAY,
  parseServer,
  resolveConnectionTuning,
  type ServerSpec,
  type TextReplyHandler,
} from '@gearmanode/core';
import {
  type AdminCommand,
  type AdminCommandName,
  type AdminCommandOf,
  type AdminReply,
  AdminResponseParser,
  type AdminResultMap,
  encodeAdminCommand,
  type FunctionPriorityStatus,
  type FunctionStatus,
  type GearmanError,
  InvalidArgumentError,
  type JobInfo,
  type MaxQueueLimits,
  type ServerVersion,
  TimeoutError,
  type WorkerInfo,
} from '@gearmanode/protocol';

/** Options of `createAdmin`. */
export interface AdminOptions
  extends Pick<ConnectionTuning, 'tls' | 'connectTimeout' | 'reconnect'> {
  /** The job server. @default '127.0.0.1:4730' */
  server?: ServerSpec;
  /** Default deadline of every command, in ms. @default 10000 */
  timeout?: number;
  /** Connect on the first command instead of in `createAdmin`. @default false */
  lazy?: boolean;
}

/** Options of one admin command. */
export interface AdminCallOptions {
  /** Deadline in ms. @default the admin's `timeout` */
  timeout?: number;
  signal?: AbortSignal;
}

/**
 * The admin text protocol of one job server
 * ([protocol.md section 9](https://github.com/gearmanode/gearmanode/blob/main/docs/protocol.md#9-admin-text-protocol)).
 * Every method rejects with AdminError (`ERR_ADMIN`, see `adminCode`) when the server answers `ERR
 * …`, TimeoutError (`ERR_TIMEOUT`), ConnectionError (`ERR_CONNECTION`), ProtocolError
 * (`ERR_PROTOCOL`) for a reply that does not parse, ClosedError (`ERR_CLOSED`) after close, or
 * InvalidArgumentError for a name the text protocol cannot carry (a space, CR, LF).
 */
export interface Admin extends AsyncDisposable {
  /** `status`: jobs and workers per function. */
  status(options?: AdminCallOptions): Promise<FunctionStatus[]>;
  /** `prioritystatus`: queued jobs per function and priority. */
  priorityStatus(options?: AdminCallOptions): Promise<FunctionPriorityStatus[]>;
  /** `workers`: every connection (clients too) with its functions. */
  workers(options?: AdminCallOptions): Promise<WorkerInfo[]>;
  /** `show jobs`: every job the server holds. */
  showJobs(options?: AdminCallOptions): Promise<JobInfo[]>;
  /** `show unique jobs`: the unique of every job ('' for none). */
  showUniqueJobs(options?: AdminCallOptions): Promise<string[]>;
  /**
   * `cancel job`: fails the job for its foreground waiters; a running job keeps running.
   * Rejects with `adminCode` `UNKNOWN_JOB` for an unknown handle.
   */
  cancelJob(handle: string, options?: AdminCallOptions): Promise<void>;
  /** `create function`: an empty function entry, e.g. for `maxQueue`. */
  createFunction(name: string, options?: AdminCallOptions): Promise<void>;
  /**
   * `drop function`. Rejects with `FUNCTION_HAS_WORKERS` or `FUNCTION_NOT_FOUND`. gearmand
   * 1.1.20 also drops a function with queued jobs and orphans them: only drop empty functions.
   */
  dropFunction(name: string, options?: AdminCallOptions): Promise<void>;
  /** `maxqueue`: no limits resets to unlimited; a number applies to every priority. */
  maxQueue(
    name: string,
    limits?: number | MaxQueueLimits,
    options?: AdminCallOptions,
  ): Promise<void>;
  /** `getpid`: the server's process id. */
  getPid(options?: AdminCallOptions): Promise<number>;
  /** `version`: e.g. `{ raw: '1.1.20+ds', version: '1.1.20' }`. */
  version(options?: AdminCallOptions): Promise<ServerVersion>;
  /** `verbose`: the server's log level, e.g. `'ERROR'`. */
  verbose(options?: AdminCallOptions): Promise<string>;
  /**
   * `shutdown` (`graceful`: after running jobs). gearmand 1.1.15 and later do not have it and
   * reject with `adminCode` `UNKNOWN_COMMAND`.
   */
  shutdown(options?: AdminCallOptions & { graceful?: boolean }): Promise<void>;
  /** Runs any admin command given as data. */
  command<C extends AdminCommandName>(
    command: AdminCommandOf<C>,
    options?: AdminCallOptions,
  ): Promise<AdminResultMap[C]>;
  /** Closes the connection after the commands sent so far are answered or rejected. */
  close(): Promise<void>;
  /** Closes the connection now; pending commands reject with ClosedError. */
  destroy(): void;
}

/**
 * Connects to one job server's admin interface. Resolves once connected, or at once with
 * `lazy: true`.
 * @throws InvalidArgumentError for a bad option; ConnectionError when connecting fails.
 * @example
 * await using admin = await createAdmin({ server: '127.0.0.1:4730' });
 * for (const row of await admin.status()) console.log(row.functionName, row.queued);
 */
export async function createAdmin(options: AdminOptions = {}): Promise<Admin> {
  if (options === null || typeof options !== 'object') {
    throw new InvalidArgumentError('options', 'must be an object');
  }
  const timeout = checkInteger(options.timeout, 'timeout', 10_000, 1, MAX_DELAY);
  const connection = new Connection({
    address: parseServer(options.server ?? '127.0.0.1:4730', 'server'),
    ...resolveConnectionTuning({
      tls: options.tls,
      connectTimeout: options.connectTimeout,
      reconnect: options.reconnect,
    }),
    requestTimeout: timeout,
    heartbeatInterval: 0,
    // One caller waits on each command with its own timeout; nothing to steer elsewhere.
    suspectAfter: 0,
    exceptions: false,
    text: true,
  });
  const admin = new AdminClient(connection, timeout);
  if (options.lazy !== true) {
    try {
      await connection.connect();
    } catch (error) {
      connection.destroy();
      throw error;
    }
  }
  return admin;
}

class AdminClient implements Admin {
  readonly #connection: Connection;
  readonly #timeout: number;

  constructor(connection: Connection, timeout: number) {
    this.#connection = connection;
    this.#timeout = timeout;
  }

  status(options?: AdminCallOptions): Promise<FunctionStatus[]> {
    return this.command({ command: 'status' }, options);
  }

  priorityStatus(options?: AdminCallOptions): Promise<FunctionPriorityStatus[]> {
    return this.command({ command: 'prioritystatus' }, options);
  }

  workers(options?: AdminCallOptions): Promise<WorkerInfo[]> {
    return this.command({ command: 'workers' }, options);
  }

  showJobs(options?: AdminCallOptions): Promise<JobInfo[]> {
    return this.command({ command: 'show jobs' }, options);
  }

  showUniqueJobs(options?: AdminCallOptions): Promise<string[]> {
    return this.command({ command: 'show unique jobs' }, options);
  }

  cancelJob(handle: string, options?: AdminCallOptions): Promise<void> {
    return this.command({ command: 'cancel job', handle }, options);
  }

  createFunction(name: string, options?: AdminCallOptions): Promise<void> {
    return this.command({ command: 'create function', functionName: name }, options);
  }

  dropFunction(name: string, options?: AdminCallOptions): Promise<void> {
    return this.command({ command: 'drop function', functionName: name }, options);
  }

  maxQueue(
    name: string,
    limits?: number | MaxQueueLimits,
    options?: AdminCallOptions,
  ): Promise<void> {
    const command: AdminCommandOf<'maxqueue'> =
      limits === undefined
        ? { command: 'maxqueue', functionName: name }
        : { command: 'maxqueue', functionName: name, limits };
    return this.command(command, options);
  }

  getPid(options?: AdminCallOptions): Promise<number> {
    return this.command({ command: 'getpid' }, options);
  }

  version(options?: AdminCallOptions): Promise<ServerVersion> {
    return this.command({ command: 'version' }, options);
  }

  verbose(options?: AdminCallOptions): Promise<string> {
    return this.command({ command: 'verbose' }, options);
  }

  shutdown(options?: AdminCallOptions & { graceful?: boolean }): Promise<void> {
    return this.command({ command: 'shutdown', graceful: options?.graceful === true }, options);
  }

  command<C extends AdminCommandName>(
    command: AdminCommandOf<C>,
    options?: AdminCallOptions,
  ): Promise<AdminResultMap[C]> {
    try {
      const line = encodeAdminCommand(command as AdminCommand);
      const timeout = checkTimeout(options?.timeout, 'timeout', this.#timeout);
      const signal = options?.signal;
      if (signal?.aborted) return Promise.reject(signal.reason);
      return new Promise<AdminResultMap[C]>((resolve, reject) => {
        const request = new AdminRequest<C>(command.command as C, resolve, reject, timeout, signal);
        try {
          this.#connection.requestText(line, request);
        } catch (error) {
          request.onError(error as GearmanError);
        }
      });
    } catch (error) {
      return Promise.reject(error);
    }
  }

  close(): Promise<void> {
    return this.#connection.close();
  }

  destroy(): void {
    this.#connection.destroy();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/**
 * One admin command in flight. The connection hands it response lines without their line
 * endings; the protocol's AdminResponseParser takes bytes, so each line goes back in with a
 * `\n` (a small shim: the parser owns the reply shapes, this class only frames one reply).
 */
class AdminRequest<C extends AdminCommandName> implements TextReplyHandler {
  readonly #parser = new AdminResponseParser();
  readonly #resolve: (value: AdminResultMap[C]) => void;
  readonly #reject: (error: unknown) => void;
  readonly #signal: AbortSignal | undefined;
  readonly #timer: NodeJS.Timeout | undefined;
  #answered = false;
  #settled = false;

  constructor(
    command: C,
    resolve: (value: AdminResultMap[C]) => void,
    reject: (error: unknown) => void,
    timeout: number,
    signal: AbortSignal | undefined,
  ) {
    this.#resolve = resolve;
    this.#reject = reject;
    this.#signal = signal;
    this.#parser.expect(command, (reply) => this.#onReply(reply as AdminReply<C>));
    if (timeout > 0) {
      this.#timer = setTimeout(
        () => this.#settle(new TimeoutError(`admin ${command} timed out after ${timeout} ms`)),
        timeout,
      );
    }
    signal?.addEventListener('abort', this, { once: true });
  }

  onLine(line: string): boolean {
    // A reply that does not parse throws here, on purpose: the connection then drops the
    // socket, as the replies after it can no longer be matched to their commands.
    this.#parser.push(Buffer.from(`${line}\n`, 'utf8'));
    return this.#answered;
  }

  onError(error: GearmanError): void {
    this.#answered = true;
    this.#settle(error);
  }

  handleEvent(): void {
    this.#settle(this.#signal?.reason);
  }

  #onReply(reply: AdminReply<C>): void {
    this.#answered = true;
    if (reply.ok) this.#settle(undefined, reply.value as AdminResultMap[C]);
    else this.#settle(reply.error);
  }

  #settle(error: unknown, value?: AdminResultMap[C]): void {
    if (this.#settled) return;
    this.#settled = true;
    clearTimeout(this.#timer);
    this.#signal?.removeEventListener('abort', this);
    if (error === undefined) this.#resolve(value as AdminResultMap[C]);
    else this.#reject(error);
  }
}
