/**
 * The one error hierarchy of gearmanode. Client, worker and server re-export it, so an error
 * can be classified by its stable `code` even when two copies of a package are installed
 * (where `instanceof` would fail).
 */
export type GearmanErrorCode =
  /** Bad magic, unknown type, a body too short for its fields, a packet or reply over its limit. */
  | 'ERR_PROTOCOL'
  /** A value the caller passed cannot be sent or used: see `field`. */
  | 'ERR_INVALID_ARGUMENT'
  /** The socket failed or closed with requests pending; see `maybeRan` and `cause`. */
  | 'ERR_CONNECTION'
  /** An ERROR packet from the job server; see `serverCode`. */
  | 'ERR_SERVER'
  /** An `ERR …` line from the admin text protocol; see `adminCode`. */
  | 'ERR_ADMIN'
  /** WORK_FAIL: the worker failed the job without detail. */
  | 'ERR_JOB_FAILED'
  /** WORK_EXCEPTION: the worker failed the job with detail; see `data`. */
  | 'ERR_JOB_EXCEPTION'
  /** A deadline passed before the reply arrived. */
  | 'ERR_TIMEOUT'
  /** The job was settled already; nothing more may be sent for it. */
  | 'ERR_JOB_SETTLED'
  /** Called after `close()` or `destroy()`. */
  | 'ERR_CLOSED'
  /** The job server's persistent store cannot be used; see `reason`. */
  | 'ERR_STORE';

/** Base class of every error gearmanode throws or rejects with. */
export class GearmanError extends Error {
  override readonly name: string = 'GearmanError';
  readonly code: GearmanErrorCode;

  constructor(code: GearmanErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}

/** What exactly was wrong with the bytes: stable, for tests and metrics. */
export type ProtocolErrorReason =
  | 'BAD_MAGIC'
  | 'UNKNOWN_TYPE'
  | 'TOO_LARGE'
  | 'TOO_FEW_FIELDS'
  | 'LINE_TOO_LONG'
  | 'BAD_RESPONSE'
  | 'UNEXPECTED_PACKET';

/** The peer sent bytes that are not the Gearman protocol. The stream cannot be trusted after it. */
export class ProtocolError extends GearmanError {
  override readonly name: string = 'ProtocolError';
  readonly reason: ProtocolErrorReason;

  constructor(reason: ProtocolErrorReason, message: string, options?: ErrorOptions) {
    super('ERR_PROTOCOL', message, options);
    this.reason = reason;
  }
}

/** A value that cannot be sent (a NUL in a name, a unique over 63 bytes) or a wrong option. */
export class InvalidArgumentError extends GearmanError {
  override readonly name: string = 'InvalidArgumentError';
  /** The field or option at fault, e.g. `unique` or `servers[1].port`. */
  readonly field: string;

  constructor(field: string, message: string, options?: ErrorOptions) {
    super('ERR_INVALID_ARGUMENT', `${field}: ${message}`, options);
    this.field = field;
  }
}

/** The connection failed or closed while a request was pending. */
export class ConnectionError extends GearmanError {
  override readonly name: string = 'ConnectionError';
  /**
   * Whether the job server may have received the request: `false` when it was never written,
   * `true` when it was (the job may have run, or may still run, on the server).
   */
  readonly maybeRan: boolean;
  /** `host:port` or socket path of the server, when known. */
  readonly server: string | undefined;

  constructor(
    message: string,
    details: { maybeRan: boolean; server?: string | undefined },
    options?: ErrorOptions,
  ) {
    super('ERR_CONNECTION', message, options);
    this.maybeRan = details.maybeRan;
    this.server = details.server;
  }
}

/** The job server answered with an ERROR packet (queue full, argument too large, …). */
export class ServerError extends GearmanError {
  override readonly name: string = 'ServerError';
  /** The ERROR packet's code, e.g. `QUEUE_ERROR` or `JOB_NOT_FOUND`. */
  readonly serverCode: string;

  constructor(serverCode: string, message: string, options?: ErrorOptions) {
    super('ERR_SERVER', `${serverCode}: ${message}`, options);
    this.serverCode = serverCode;
  }
}

/** The admin text protocol answered `ERR …`. */
export class AdminError extends GearmanError {
  override readonly name: string = 'AdminError';
  /**
   * The first word after `ERR`, e.g. `UNKNOWN_JOB`; `FUNCTION_HAS_WORKERS` and
   * `FUNCTION_NOT_FOUND` for gearmand's two `drop function` sentences; the whole sentence for
   * any other sentence.
   */
  readonly adminCode: string;

  constructor(adminCode: string, message: string, options?: ErrorOptions) {
    super('ERR_ADMIN', message, options);
    this.adminCode = adminCode;
  }
}

/** The worker sent WORK_FAIL. */
export class JobFailedError extends GearmanError {
  override readonly name: string = 'JobFailedError';
  readonly handle: string;

  constructor(handle: string, options?: ErrorOptions) {
    super('ERR_JOB_FAILED', `job ${handle} failed`, options);
    this.handle = handle;
  }
}

/** The worker sent WORK_EXCEPTION; `data` is what it sent (often an error message). */
export class JobExceptionError extends GearmanError {
  override readonly name: string = 'JobExceptionError';
  readonly handle: string;
  readonly data: Buffer;

  constructor(handle: string, data: Buffer, options?: ErrorOptions) {
    super('ERR_JOB_EXCEPTION', `job ${handle} raised an exception: ${preview(data)}`, options);
    this.handle = handle;
    this.data = data;
  }
}

/** A deadline passed: a request's reply, a job's result, a close. */
export class TimeoutError extends GearmanError {
  override readonly name: string = 'TimeoutError';

  constructor(message: string, options?: ErrorOptions) {
    super('ERR_TIMEOUT', message, options);
  }
}

/** A job was completed, failed or excepted already. */
export class JobSettledError extends GearmanError {
  override readonly name: string = 'JobSettledError';
  readonly handle: string;

  constructor(handle: string, options?: ErrorOptions) {
    super('ERR_JOB_SETTLED', `job ${handle} is already settled`, options);
    this.handle = handle;
  }
}

/** The client, worker or connection was closed. */
export class ClosedError extends GearmanError {
  override readonly name: string = 'ClosedError';

  constructor(message = 'closed', options?: ErrorOptions) {
    super('ERR_CLOSED', message, options);
  }
}

/** Why a job server's store cannot be used: stable, for tests and scripts. */
export type StoreErrorReason =
  /** This Node.js has no usable `node:sqlite`. */
  | 'UNSUPPORTED_RUNTIME'
  /** The file cannot be opened or read as SQLite: not a database, torn, or no access. */
  | 'UNREADABLE'
  /** The file is SQLite but its queue table or a row in it is not in the expected shape. */
  | 'FOREIGN'
  /** A write or commit failed (disk full, I/O error). */
  | 'WRITE_FAILED';

/** The job server's persistent store cannot be opened, read or written. */
export class StoreError extends GearmanError {
  override readonly name: string = 'StoreError';
  readonly reason: StoreErrorReason;
  /** The store as configured, e.g. `sqlite:/var/lib/gearman/queue.db`. */
  readonly store: string;

  constructor(reason: StoreErrorReason, store: string, message: string, options?: ErrorOptions) {
    super('ERR_STORE', `${store}: ${message}`, options);
    this.reason = reason;
    this.store = store;
  }
}

/** True for any gearmanode error, by `code` rather than `instanceof` (see the module comment). */
export function isGearmanError(value: unknown): value is GearmanError {
  if (!(value instanceof Error)) return false;
  const code: unknown = (value as { code?: unknown }).code;
  return typeof code === 'string' && ERROR_CODES.has(code);
}

const ERROR_CODES: ReadonlySet<string> = new Set<GearmanErrorCode>([
  'ERR_PROTOCOL',
  'ERR_INVALID_ARGUMENT',
  'ERR_CONNECTION',
  'ERR_SERVER',
  'ERR_ADMIN',
  'ERR_JOB_FAILED',
  'ERR_JOB_EXCEPTION',
  'ERR_TIMEOUT',
  'ERR_JOB_SETTLED',
  'ERR_CLOSED',
  'ERR_STORE',
]);

function preview(data: Buffer): string {
  const text = data.toString('utf8', 0, Math.min(data.length, 200));
  return data.length > 200 ? `${text}…` : text;
}
