import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

export { freePort } from './gearmand.js';

// Short enough that `uniqueName()` also fits in a 63-byte Gearman unique.
const RUN_ID = randomBytes(4).toString('hex');
let counter = 0;

/** A name unique to this test run and call, like nats' `createInbox()`: `resize-1a2b3c4d-7`. */
export function uniqueName(prefix: string): string {
  counter += 1;
  return `${prefix}-${RUN_ID}-${counter}`;
}

/** Settles like `promise`, or rejects with `<what> timed out after <ms> ms`. */
export async function withTimeout<T>(
  promise: PromiseLike<T>,
  ms: number,
  what: string,
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Options for {@link waitFor}. */
export interface WaitForOptions {
  /** @default 5_000 */
  timeout?: number;
  /** @default 20 */
  interval?: number;
  /** Named in the error message. @default 'condition' */
  what?: string;
}

/**
 * Polls `predicate` until it returns a truthy value and resolves with that value. Rejects when
 * `timeout` passes; an exception from `predicate` rejects at once.
 */
export async function waitFor<T>(
  predicate: () => T | PromiseLike<T>,
  { timeout = 5_000, interval = 20, what = 'condition' }: WaitForOptions = {},
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeout;
  for (;;) {
    const value = await predicate();
    if (value) return value as NonNullable<T>;
    if (Date.now() >= deadline) throw new Error(`${what} not met within ${timeout} ms`);
    await sleep(interval);
  }
}

/** A thin wrapper around a connected socket for byte-level tests. Reads must not overlap. */
export interface RawConnection extends AsyncDisposable {
  readonly socket: Socket;
  /** Resolves once the socket has closed, for whatever reason. */
  readonly closed: Promise<void>;
  /** Writes the bytes and resolves once they have been handed to the OS. */
  write(data: Uint8Array | string): Promise<void>;
  /** Resolves with exactly `length` bytes. @default timeout 5_000 */
  read(length: number, timeout?: number): Promise<Buffer>;
  /**
   * Resolves with every byte received so far as soon as `predicate` holds for them; those bytes
   * are consumed. Rejects on timeout or when the socket closes first.
   */
  readUntil(predicate: (received: Buffer) => boolean, timeout?: number): Promise<Buffer>;
  /** Resolves with the next line, without its `\n` or `\r\n`. */
  readLine(timeout?: number): Promise<string>;
  /** Destroys the socket and resolves once it has closed. */
  close(): Promise<void>;
}

/** Connects to host:port and resolves with a {@link RawConnection}. */
export function rawConnect(host: string, port: number): Promise<RawConnection> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    socket.once('error', reject);
    socket.once('connect', () => {
      socket.off('error', reject);
      resolve(new Raw(socket));
    });
  });
}

class Raw implements RawConnection {
  readonly socket: Socket;
  readonly closed: Promise<void>;
  #buffer: Buffer = Buffer.alloc(0);
  #ended = false;
  #error: Error | undefined;
  #wake: (() => void) | undefined;
  #reading = false;

  constructor(socket: Socket) {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => {
      this.#buffer = Buffer.concat([this.#buffer, chunk]);
      this.#wake?.();
    });
    // Recorded, not thrown: the pending or next read reports it.
    socket.on('error', (error) => {
      this.#error = error;
    });
    this.closed = new Promise((resolve) => {
      socket.once('close', () => {
        this.#ended = true;
        this.#wake?.();
        resolve();
      });
    });
  }

  write(data: Uint8Array | string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.socket.write(data, (error) => (error ? reject(error) : resolve()));
    });
  }

  read(length: number, timeout = 5_000): Promise<Buffer> {
    return this.#take(
      () => (this.#buffer.length >= length ? length : -1),
      timeout,
      `read of ${length} bytes`,
    );
  }

  readUntil(predicate: (received: Buffer) => boolean, timeout = 5_000): Promise<Buffer> {
    return this.#take(
      () => (predicate(this.#buffer) ? this.#buffer.length : -1),
      timeout,
      'readUntil',
    );
  }

  async readLine(timeout = 5_000): Promise<string> {
    const line = await this.#take(
      () => {
        const newline = this.#buffer.indexOf(0x0a);
        return newline === -1 ? -1 : newline + 1;
      },
      timeout,
      'readLine',
    );
    return line.toString('utf8').replace(/\r?\n$/, '');
  }

  close(): Promise<void> {
    this.socket.destroy();
    return this.closed;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** Waits until `ready()` returns a byte count (not -1), then removes and returns those bytes. */
  async #take(ready: () => number, timeout: number, what: string): Promise<Buffer> {
    if (this.#reading) throw new Error(`${what} started while another read is pending`);
    this.#reading = true;
    const deadline = Date.now() + timeout;
    try {
      for (;;) {
        const count = ready();
        if (count !== -1) {
          const taken = this.#buffer.subarray(0, count);
          this.#buffer = this.#buffer.subarray(count);
          return taken;
        }
        if (this.#ended || this.#error) {
          const reason = this.#error ? `socket error: ${this.#error.message}` : 'socket closed';
          throw new Error(`${what}: ${reason} with ${this.#buffer.length} bytes buffered`, {
            cause: this.#error,
          });
        }
        const remaining = deadline - Date.now();
        if (remaining <= 0) {
          throw new Error(
            `${what} timed out after ${timeout} ms with ${this.#buffer.length} bytes buffered: ` +
              this.#buffer.subarray(0, 64).toString('hex'),
          );
        }
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, remaining);
          this.#wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        this.#wake = undefined;
      }
    } finally {
      this.#reading = false;
    }
  }
}
