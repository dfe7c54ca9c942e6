import {
  type AdminCommand,
  encodeAdminError,
  encodeAdminReply,
  type FunctionPriorityStatus,
  type FunctionStatus,
  type JobInfo,
  type MaxQueueLimits,
  parseAdminRequest,
  type ServerVersion,
  type WorkerInfo,
} from '@gearmanode/protocol';
import type { JobStore } from './job-store.js';
import type { FunctionEntry, Job, Peer, QueueLimits } from './model.js';
import type { ServerLogger } from './options.js';
import { ADMIN_VERSION } from './version.js';

/**
 * The admin text protocol, server side
 * ([protocol.md section 9](https://github.com/gearmanode/gearmanode/blob/main/docs/protocol.md#9-admin-text-protocol)).
 * `@gearmanode/protocol` parses the lines and writes the replies as gearmand 1.1.20 does; this runs
 * the commands against the server's state, `shutdown [graceful]` (which gearmand dropped in 1.1.15)
 * included.
 */

/** What the admin commands need from the server. */
export interface AdminContext {
  functions(): Iterable<FunctionEntry>;
  /** Every connection, newest first. */
  peers(): Iterable<Peer>;
  jobs(): Iterable<Job>;
  /** Whether `show jobs` marks the job as persisted. */
  persisted(job: Job): boolean;
  /** Cancels a job; false when there is no such job. */
  cancelJob(handle: string): boolean;
  createFunction(name: string): void;
  dropFunction(name: string): 'dropped' | 'busy' | 'missing';
  setMaxQueue(name: string, limits: QueueLimits): void;
  /** Starts a shutdown after the reply has been queued. */
  shutdown(graceful: boolean): void;
  readonly pid: number;
  readonly version: ServerVersion;
  readonly verbose: string;
}

/**
 * Runs one admin line (without its line end); returns the reply, or undefined to drop the
 * connection without one, as gearmand does for a line of six words or more.
 */
export function runAdminLine(line: string, context: AdminContext): string | undefined {
  const request = parseAdminRequest(line);
  if (request.ok) return executeAdmin(request.command, context);
  return request.close ? undefined : encodeAdminError(request.error);
}

/** What the admin commands need from the dispatcher. */
export interface AdminTarget {
  readonly store: JobStore;
  /** Every connection, newest first. */
  peers(): Iterable<Peer>;
  /** Sends WORK_FAIL to the job's waiters and cancels it; false when there is no such job. */
  cancelJob(handle: string): boolean;
  /**
   * Whether the job's row is committed to the durable store; undefined without a store, where
   * background jobs count as persisted, as gearmand shows them without a queue.
   */
  stored(job: Job): boolean | undefined;
}

/** The settings `ServerAdmin` uses. */
export interface ServerAdminOptions {
  logger: ServerLogger | undefined;
  /** Called by `shutdown [graceful]`, after its `OK` has been queued. */
  onShutdown: (graceful: boolean) => void;
}

/** The admin commands run against the dispatcher's state. */
export class ServerAdmin implements AdminContext {
  readonly #target: AdminTarget;
  readonly #options: ServerAdminOptions;

  constructor(target: AdminTarget, options: ServerAdminOptions) {
    this.#target = target;
    this.#options = options;
  }

  functions(): Iterable<FunctionEntry> {
    return this.#target.store.functions.values();
  }

  peers(): Iterable<Peer> {
    return this.#target.peers();
  }

  jobs(): Iterable<Job> {
    return this.#target.store.jobs.values();
  }

  persisted(job: Job): boolean {
    return this.#target.stored(job) ?? job.background;
  }

  cancelJob(handle: string): boolean {
    return this.#target.cancelJob(handle);
  }

  createFunction(name: string): void {
    this.#target.store.function(name);
  }

  dropFunction(name: string): 'dropped' | 'busy' | 'missing' {
    return this.#target.store.dropFunction(name);
  }

  setMaxQueue(name: string, limits: QueueLimits): void {
    this.#target.store.setLimits(name, limits);
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

/** Runs a parsed command and returns the reply. */
function executeAdmin(command: AdminCommand, context: AdminContext): string {
  switch (command.command) {
    case 'status':
      return encodeAdminReply('status', map(context.functions(), statusRow));
    case 'prioritystatus':
      return encodeAdminReply('prioritystatus', map(context.functions(), priorityStatusRow));
    case 'workers':
      return encodeAdminReply('workers', map(context.peers(), workersRow));
    case 'show jobs':
      return encodeAdminReply(
        'show jobs',
        map(context.jobs(), (job) => jobRow(job, context.persisted(job))),
      );
    case 'show unique jobs':
      return encodeAdminReply(
        'show unique jobs',
        map(context.jobs(), (job) => job.unique),
      );
    case 'cancel job':
      if (!context.cancelJob(command.handle)) return encodeAdminError('UNKNOWN_JOB');
      return encodeAdminReply('cancel job', undefined);
    case 'create function':
      context.createFunction(command.functionName);
      return encodeAdminReply('create function', undefined);
    case 'drop function': {
      const result = context.dropFunction(command.functionName);
      if (result === 'busy') return encodeAdminError('FUNCTION_HAS_WORKERS');
      if (result === 'missing') return encodeAdminError('FUNCTION_NOT_FOUND');
      return encodeAdminReply('drop function', undefined);
    }
    case 'maxqueue':
      context.setMaxQueue(command.functionName, queueLimits(command.limits));
      return encodeAdminReply('maxqueue', undefined);
    case 'getpid':
      return encodeAdminReply('getpid', context.pid);
    case 'version':
      return encodeAdminReply('version', context.version);
    case 'verbose':
      return encodeAdminReply('verbose', context.verbose);
    case 'shutdown':
      context.shutdown(command.graceful === true);
      return encodeAdminReply('shutdown', undefined);
  }
}

function map<T, R>(items: Iterable<T>, row: (item: T) => R): R[] {
  return Array.from(items, row);
}

/** `status` prints `total`; `queued` is only for the protocol's row type. */
function statusRow(fn: FunctionEntry): FunctionStatus {
  return {
    functionName: fn.name,
    queued: Math.max(0, fn.total - fn.running),
    running: fn.running,
    total: fn.total,
    availableWorkers: fn.registrations,
  };
}

/** Queued jobs per priority; pending epoch jobs count as normal. */
function priorityStatusRow(fn: FunctionEntry): FunctionPriorityStatus {
  const [high, normal, low] = fn.queues;
  return {
    functionName: fn.name,
    high: high.length,
    normal: normal.length + fn.delayed,
    low: low.length,
    availableWorkers: fn.registrations,
  };
}

/** The peer's id where gearmand shows its fd; functions newest first, as gearmand lists them. */
function workersRow(peer: Peer): WorkerInfo {
  return {
    fd: peer.id,
    ip: peer.remoteAddress,
    clientId: peer.clientId === '-' ? null : peer.clientId,
    functions: peer.registrations.map((registration) => registration.fn.name).reverse(),
  };
}

/** Abandoned jobs are the ignored ones. */
function jobRow(job: Job, persisted: boolean): JobInfo {
  return {
    handle: job.handle,
    retries: job.retries,
    ignored: job.abandoned,
    persisted,
  };
}

/** gearmand's `maxqueue`: none resets to unlimited, one number applies to all priorities. */
function queueLimits(limits: number | MaxQueueLimits | undefined): QueueLimits {
  if (limits === undefined) return [0, 0, 0];
  if (typeof limits === 'number') return [limits, limits, limits];
  return [limits.high, limits.normal, limits.low ?? 0];
}
