import { Buffer } from 'node:buffer';
import { hostname } from 'node:os';
import {
  checkInteger,
  DEFAULT_MAX_PACKET_SIZE,
  DEFAULT_PORT,
  InvalidArgumentError,
} from '@gearmanode/protocol';

/**
 * Where the server reports what happens to it. `console` fits. Without a logger it is silent.
 * Messages are single lines without a trailing newline.
 */
export interface ServerLogger {
  /** Failures of the server itself (the listening socket). */
  error(message: string): void;
  /** A peer that broke the protocol and was disconnected. */
  warn(message: string): void;
  /** Lifecycle: listening, shutting down; jobs timed out or failed after retries. */
  info(message: string): void;
  /** Per-connection detail: connects, disconnects, socket errors. */
  debug?(message: string): void;
}

/** Options for `createServer`. */
export interface ServerOptions {
  /**
   * The address to listen on. Use `0.0.0.0` or `::` to accept connections from other hosts;
   * there is no authentication.
   * @default '127.0.0.1'
   */
  host?: string;
  /** The TCP port; 0 picks a free one (see `server.address.port`). @default 4730 */
  port?: number;
  /**
   * Fail a job after its worker has been lost this many times (gearmand `--job-retries`):
   * foreground waiters get WORK_FAIL, a background job is dropped. 0 re-queues for ever.
   * @default 0
   */
  jobRetries?: number;
  /**
   * Job handles are `<handlePrefix>:<n>`. At most 40 bytes, no spaces or NUL bytes.
   * @default `H:<hostname>` (the host name cut to fit), as gearmand
   */
  handlePrefix?: string;
  /**
   * The largest packet body accepted from a peer; a peer announcing more is disconnected
   * before anything is buffered.
   * @default 67108864 (64 MiB)
   */
  maxPacketSize?: number;
  /**
   * The queue limit every function starts with, for each priority
   * ([protocol.md section 7](https://github.com/gearmanode/gearmanode/blob/main/docs/protocol.md#7-queue-limits));
   * the admin command `maxqueue` changes it per function. 0 is unlimited.
   * @default 0
   */
  maxQueue?: number;
  /**
   * Keep background jobs across restarts and crashes: `sqlite:PATH` writes them to the SQLite
   * file PATH (created if missing) in gearmand's libsqlite3 queue format, so gearmand and this
   * server can take over each other's file. A background job's JOB_CREATED is sent once its
   * row is committed; foreground jobs stay in memory only. Needs `node:sqlite` (Node.js 22.13
   * or later): elsewhere `createServer` rejects with StoreError `UNSUPPORTED_RUNTIME`.
   * @default none: every job is in memory only
   */
  store?: string;
  /** The store's table (gearmand `--libsqlite3-table`). @default 'gearman_queue' */
  storeTable?: string;
  /**
   * Serve TLS instead of plaintext, from the first byte (as the client's and worker's `tls`
   * option expects). With `ca`, clients must present a certificate signed by it.
   * @default none: plaintext
   */
  tls?: ServerTlsOptions;
  /** Where to log. @default none */
  logger?: ServerLogger;
}

/** The server's TLS settings, all PEM (as `tls.createServer` takes them). */
export interface ServerTlsOptions {
  /** The server's certificate chain. */
  cert: string | Buffer;
  /** Its private key. */
  key: string | Buffer;
  /** CAs that client certificates must chain to; asks clients for one (see `requestCert`). */
  ca?: string | Buffer | (string | Buffer)[];
  /**
   * Ask for a client certificate and refuse connections without a valid one.
   * @default true when `ca` is given, else false
   */
  requestCert?: boolean;
}

/** `ServerTlsOptions` checked, with `requestCert` decided. */
export type ResolvedTls = Required<Pick<ServerTlsOptions, 'cert' | 'key' | 'requestCert'>> &
  Pick<ServerTlsOptions, 'ca'>;

/** A parsed `store` option. */
export interface StoreSpec {
  /** As given, for messages. */
  spec: string;
  kind: 'sqlite';
  path: string;
  table: string;
}

/** `ServerOptions` with defaults applied and values checked. */
export interface ResolvedOptions {
  host: string;
  port: number;
  jobRetries: number;
  handlePrefix: string;
  maxPacketSize: number;
  maxQueue: number;
  store: StoreSpec | undefined;
  tls: ResolvedTls | undefined;
  logger: ServerLogger | undefined;
}

/** The default port, registered with IANA for Gearman. */
export { DEFAULT_PORT };
/** The default address: this host only (there is no authentication). */
export const DEFAULT_HOST = '127.0.0.1';
// A handle must fit gearmand's 63 bytes (protocol.md 6.2): prefix, colon, up to 16 digits.
const MAX_HANDLE_PREFIX = 40;

// Integer options go through protocol's checkInteger, as the client's and the worker's do; the
// server's own checks take (value, field, fallback, ...) in the same order, fall back only on
// undefined (null is a wrong value, as everywhere in gearmanode), and throw
// InvalidArgumentError naming `field`.

/** @throws InvalidArgumentError unless `value` is a non-empty string. */
function checkHost(value: unknown, field: string, fallback: string): string {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || value === '') {
    throw new InvalidArgumentError(field, 'must be a non-empty string');
  }
  return value;
}

/** @throws InvalidArgumentError unless `value` is 1 to 40 bytes without spaces or NUL bytes. */
function checkHandlePrefix(value: unknown, field: string, fallback: () => string): string {
  if (value === undefined) return fallback();
  if (
    typeof value !== 'string' ||
    value === '' ||
    /[\s\0]/.test(value) ||
    Buffer.byteLength(value) > MAX_HANDLE_PREFIX
  ) {
    throw new InvalidArgumentError(
      field,
      `must be 1 to ${MAX_HANDLE_PREFIX} bytes without spaces or NUL bytes`,
    );
  }
  return value;
}

/** @throws InvalidArgumentError unless `value` is `sqlite:PATH` and `table` an SQL name. */
function checkStore(value: unknown, table: unknown): StoreSpec | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !value.startsWith('sqlite:') || value === 'sqlite:') {
    throw new InvalidArgumentError('store', 'must be sqlite:PATH');
  }
  if (table !== undefined && table !== null) {
    // The name goes into SQL text (as in gearmand), so only plain identifiers.
    if (typeof table !== 'string' || !/^[A-Za-z_][A-Za-z0-9_]{0,127}$/.test(table)) {
      throw new InvalidArgumentError('storeTable', 'must be letters, digits and underscores');
    }
  }
  return {
    spec: value,
    kind: 'sqlite',
    path: value.slice('sqlite:'.length),
    table: typeof table === 'string' ? table : 'gearman_queue',
  };
}

const isPem = (value: unknown): value is string | Buffer =>
  (typeof value === 'string' && value !== '') || (Buffer.isBuffer(value) && value.length > 0);

/** @throws InvalidArgumentError unless `value` has a PEM `cert` and `key`. */
function checkTls(value: unknown): ResolvedTls | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'object') throw new InvalidArgumentError('tls', 'must be an object');
  const { cert, key, ca, requestCert } = value as ServerTlsOptions;
  if (!isPem(cert)) throw new InvalidArgumentError('tls.cert', 'must be a PEM certificate');
  if (!isPem(key)) throw new InvalidArgumentError('tls.key', 'must be a PEM private key');
  if (ca !== undefined && !isPem(ca) && !(Array.isArray(ca) && ca.every(isPem))) {
    throw new InvalidArgumentError('tls.ca', 'must be PEM certificates');
  }
  if (requestCert !== undefined && typeof requestCert !== 'boolean') {
    throw new InvalidArgumentError('tls.requestCert', 'must be a boolean');
  }
  return {
    cert,
    key,
    ...(ca !== undefined ? { ca } : {}),
    requestCert: requestCert ?? ca !== undefined,
  };
}

function defaultHandlePrefix(): string {
  let host = hostname().replace(/[\s\0]/g, '') || 'localhost';
  while (Buffer.byteLength(host) > MAX_HANDLE_PREFIX - 2) host = host.slice(0, -1);
  return `H:${host}`;
}

/**
 * Applies the defaults and checks every option.
 * @throws InvalidArgumentError (`ERR_INVALID_ARGUMENT`) naming the option at fault.
 */
export function resolveOptions(options: ServerOptions = {}): ResolvedOptions {
  // In this order, so that the first bad option is the one reported.
  const host = checkHost(options.host, 'host', DEFAULT_HOST);
  const handlePrefix = checkHandlePrefix(options.handlePrefix, 'handlePrefix', defaultHandlePrefix);
  return {
    host,
    port: checkInteger(options.port, 'port', DEFAULT_PORT, 0, 65535),
    jobRetries: checkInteger(options.jobRetries, 'jobRetries', 0, 0, Number.MAX_SAFE_INTEGER),
    handlePrefix,
    maxPacketSize: checkInteger(
      options.maxPacketSize,
      'maxPacketSize',
      DEFAULT_MAX_PACKET_SIZE,
      0,
      0xffffffff,
    ),
    maxQueue: checkInteger(options.maxQueue, 'maxQueue', 0, 0, Number.MAX_SAFE_INTEGER),
    store: checkStore(options.store, options.storeTable),
    tls: checkTls(options.tls),
    logger: options.logger,
  };
}
