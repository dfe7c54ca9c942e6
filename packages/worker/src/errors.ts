import { GearmanError, TimeoutError } from '@gearmanode/protocol';

/**
 * The gearmanode error hierarchy, re-exported from `@gearmanode/protocol` (classify errors by
 * their stable `code`), and the worker's own errors below.
 */
export {
  ClosedError,
  ConnectionError,
  GearmanError,
  type GearmanErrorCode,
  InvalidArgumentError,
  isGearmanError,
  JobSettledError,
  ProtocolError,
  ServerError,
  TimeoutError,
} from '@gearmanode/protocol';

/**
 * The reason `job.signal` aborts with when the worker closes and the job is still running past
 * the close timeout, or when the worker is destroyed. The job is not failed: its result is no
 * longer sent, and the job server hands the job to another worker once the socket closes.
 *
 * Its `code` is `ERR_CLOSED`.
 */
export class WorkerClosingError extends GearmanError {
  override readonly name: string = 'WorkerClosingError';

  constructor(message = 'the worker is closing', options?: ErrorOptions) {
    super('ERR_CLOSED', message, options);
  }
}

/**
 * The reason `job.signal` aborts with when the job runs past its time limit. By then the worker
 * has sent WORK_EXCEPTION with this error's message, so later results for the job are dropped.
 *
 * Its `code` is `ERR_TIMEOUT`.
 */
export class JobTimeoutError extends TimeoutError {
  override readonly name: string = 'JobTimeoutError';
  readonly handle: string;
  /** The time limit that passed, in ms. */
  readonly timeout: number;

  constructor(handle: string, timeout: number, options?: ErrorOptions) {
    super(`job ${handle} exceeded its time limit of ${timeout} ms`, options);
    this.handle = handle;
    this.timeout = timeout;
  }
}

/**
 * The reason `job.signal` aborts with when the connection the job arrived on is lost. The job
 * server has already put the job back in its queue for another worker, so results for it are
 * dropped (and counted in `stats().droppedResults`).
 *
 * Its `code` is `ERR_CONNECTION`.
 */
export class JobLostError extends GearmanError {
  override readonly name: string = 'JobLostError';
  readonly handle: string;
  /** `host:port` of the job server the job came from. */
  readonly server: string;

  constructor(handle: string, server: string, options?: ErrorOptions) {
    super(
      'ERR_CONNECTION',
      `lost the connection to ${server} while running job ${handle}`,
      options,
    );
    this.handle = handle;
    this.server = server;
  }
}
