import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { InvalidArgumentError } from '@gearmanode/protocol';
import { Dispatcher } from './dispatcher.js';
import { GroupCommit } from './group-commit.js';
import { type ResolvedOptions, resolveOptions, type ServerOptions } from './options.js';
import { PeerConnection } from './peer-connection.js';
import { SqliteQueue } from './sqlite-queue.js';

// The commit number restored rows count as written in; new batches count on from it.
const RESTORED_COMMIT = 1;

/** Where the server listens. */
export interface ServerAddress {
  /** The address bound, e.g. `127.0.0.1` or `::`. */
  host: string;
  port: number;
}

/** Options for `server.close()`. */
export interface CloseOptions {
  /**
   * Wait for the jobs workers are running to finish before closing the connections. Meanwhile
   * new connections are refused, submissions are answered with ERROR `SHUTDOWN_GRACEFUL`, and
   * GRAB gets NO_JOB. Queued jobs are dropped either way, except the background jobs a
   * `store` keeps.
   * @default false
   */
  graceful?: boolean;
  /** How long a graceful close waits for running jobs, in ms. @default 30_000 */
  timeout?: number;
}

/** `'listening'` until `close()` (or the admin command `shutdown`), then `'closing'`, `'closed'`. */
export type ServerState = 'listening' | 'closing' | 'closed';

/** A running job server, as `createServer` resolves it. */
export interface GearmanServer extends AsyncDisposable {
  /** Where it listens; with `port: 0`, the port it picked. */
  readonly address: ServerAddress;
  readonly state: ServerState;
  /**
   * Resolves once the server has closed, whether by `close()` or by the admin command
   * `shutdown`, with the error that closed it or `undefined`. Never rejects.
   */
  readonly closed: Promise<Error | undefined>;
  /**
   * Stops accepting connections, optionally lets running jobs finish (`graceful`), then writes
   * what is queued to every connection and closes it. Resolves once every socket has closed.
   * Calling it again returns the same promise; a non-graceful call cuts a graceful wait short.
   */
  close(options?: CloseOptions): Promise<void>;
  /** `close()` with its defaults. */
  [Symbol.asyncDispose](): Promise<void>;
}

const DEFAULT_CLOSE_TIMEOUT = 30_000;

class Server implements GearmanServer {
  readonly closed: Promise<Error | undefined>;
  readonly #options: ResolvedOptions;
  readonly #net: NetServer;
  readonly #dispatcher: Dispatcher;
  readonly #connections = new Set<PeerConnection>();
  #address: ServerAddress = { host: '', port: 0 };
  #state: ServerState = 'listening';
  #closing: Promise<void> | undefined;
  #nextId = 1;
  #resolveClosed: (error: Error | undefined) => void = () => {};
  readonly #queue: SqliteQueue | undefined;

  constructor(options: ResolvedOptions, queue: SqliteQueue | undefined) {
    this.#options = options;
    this.#queue = queue;
    this.closed = new Promise((resolve) => {
      this.#resolveClosed = resolve;
    });
    const logger = options.logger;
    const durable =
      queue === undefined
        ? undefined
        : new GroupCommit({
            writer: queue,
            restoredCommit: RESTORED_COMMIT,
            onLost: (job) => this.#dispatcher.cancelJob(job.handle),
            onError: (error) =>
              logger?.error(error instanceof Error ? error.message : String(error)),
          });
    this.#dispatcher = new Dispatcher({
      handlePrefix: options.handlePrefix,
      jobRetries: options.jobRetries,
      maxQueue: options.maxQueue,
      logger,
      durable,
      // After the `OK` has been queued; `close()` flushes it before ending the connection.
      onShutdown: (graceful) =>
        setImmediate(() => {
          void this.close({ graceful, timeout: Number.POSITIVE_INFINITY });
        }),
    });
    this.#net = listener(options, (socket) => this.#accept(socket));
  }

  /** Queues the jobs the store kept, in the order they were written. */
  restore(): void {
    const queue = this.#queue;
    if (queue === undefined) return;
    const logger = this.#options.logger;
    let restored = 0;
    for (const stored of queue.load()) {
      if (this.#dispatcher.restore(stored, RESTORED_COMMIT)) restored++;
      else logger?.warn(`store: unique of ${stored.functionName} too long, row left as is`);
    }
    logger?.info(`store: ${restored} background jobs restored from ${this.#options.store?.spec}`);
  }

  get address(): ServerAddress {
    return this.#address;
  }

  get state(): ServerState {
    return this.#state;
  }

  listen(): Promise<void> {
    const { host, port, logger } = this.#options;
    return new Promise((resolve, reject) => {
      this.#net.once('error', reject);
      this.#net.listen(port, host, () => {
        this.#net.off('error', reject);
        // Accept errors (EMFILE and the like) must not become an unhandled 'error' event.
        this.#net.on('error', (error) => logger?.error(`listening socket: ${error.message}`));
        const address = this.#net.address();
        if (address !== null && typeof address === 'object') {
          this.#address = { host: address.address, port: address.port };
        }
        logger?.info(`listening on ${formatAddress(this.#address)}`);
        resolve();
      });
    });
  }

  #accept(socket: Socket): void {
    if (this.#state !== 'listening') {
      socket.destroy();
      return;
    }
    const connection = new PeerConnection(socket, this.#nextId++, this.#dispatcher, {
      maxPacketSize: this.#options.maxPacketSize,
      logger: this.#options.logger,
    });
    this.#connections.add(connection);
    void connection.closed.then(() => this.#connections.delete(connection));
  }

  close(options: CloseOptions = {}): Promise<void> {
    const graceful = options.graceful ?? false;
    if (this.#closing === undefined) {
      this.#closing = this.#shutdown(graceful, options.timeout ?? DEFAULT_CLOSE_TIMEOUT);
    } else if (!graceful) {
      this.#dispatcher.abortDrain();
    }
    return this.#closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #shutdown(graceful: boolean, timeout: number): Promise<void> {
    const logger = this.#options.logger;
    this.#state = 'closing';
    const listenerClosed = new Promise<void>((resolve) => this.#net.close(() => resolve()));
    if (graceful) {
      logger?.info(`closing: waiting for ${this.#dispatcher.running} running jobs`);
      await this.#dispatcher.drain(timeout);
    }
    logger?.info('closing connections');
    this.#dispatcher.stop();
    const connections = [...this.#connections];
    for (const connection of connections) connection.end();
    await Promise.all(connections.map((connection) => connection.closed));
    await listenerClosed;
    this.#dispatcher.closeStore();
    this.#queue?.close();
    this.#state = 'closed';
    logger?.info('closed');
    this.#resolveClosed(undefined);
  }
}

/** A plaintext or TLS listening socket; TLS connections are accepted once their handshake is done. */
function listener(options: ResolvedOptions, accept: (socket: Socket) => void): NetServer {
  const tls = options.tls;
  if (tls === undefined) return createNetServer(accept);
  let server: NetServer;
  try {
    server = createTlsServer(
      {
        cert: tls.cert,
        key: tls.key,
        ...(tls.ca !== undefined ? { ca: tls.ca } : {}),
        requestCert: tls.requestCert,
        rejectUnauthorized: tls.requestCert,
      },
      accept,
    );
  } catch (error) {
    // A certificate or key OpenSSL cannot read, or a key that does not match.
    const message = error instanceof Error ? error.message : String(error);
    throw new InvalidArgumentError('tls', `cannot use the certificate and key: ${message}`, {
      cause: error,
    });
  }
  // A failed handshake is the peer's business, as a socket error is.
  server.on('tlsClientError', (error, socket) => {
    options.logger?.debug?.(`TLS handshake from ${socket.remoteAddress ?? '-'}: ${error.message}`);
    socket.destroy();
  });
  return server;
}

function formatAddress({ host, port }: ServerAddress): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/**
 * Starts a Gearman job server in this process and resolves once it is listening.
 *
 * Jobs live in memory only, unless `options.store` keeps background jobs in a file; the rest
 * are gone when the server closes or the process ends.
 * The server never throws or emits errors at the host process; bad peers are disconnected,
 * and what happens is reported to `options.logger`.
 *
 * Rejects with InvalidArgumentError (`ERR_INVALID_ARGUMENT`) for a bad option, with
 * StoreError (`ERR_STORE`) when the store cannot be used, and with the socket error (e.g.
 * `EADDRINUSE`) when it cannot listen.
 * @example
 * await using server = await createServer({ port: 0 });
 * console.log(`gearman on ${server.address.host}:${server.address.port}`);
 */
export async function createServer(options: ServerOptions = {}): Promise<GearmanServer> {
  const resolved = resolveOptions(options);
  const store = resolved.store;
  const queue =
    store === undefined ? undefined : await SqliteQueue.open(store.spec, store.path, store.table);
  try {
    const server = new Server(resolved, queue);
    server.restore();
    await server.listen();
    return server;
  } catch (error) {
    queue?.close();
    throw error;
  }
}
