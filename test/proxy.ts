import { connect, createServer, type Server, type Socket } from 'node:net';

/**
 * A fault-injecting TCP proxy for tests, on node:net only. It listens on 127.0.0.1 port 0 and
 * forwards every connection to `target`. Its faults are switched at run time and apply at once
 * to every open and future connection:
 *
 * - `cut()`: close a connection when its stream reaches a byte offset (mid-header too);
 * - `delay()`: hold every chunk for a latency with jitter, keeping byte order;
 * - `bandwidth()`: pace every direction of every connection to a byte rate;
 * - `blackhole()`: keep the sockets open but drop every byte, as a NAT that forgot the mapping;
 * - `cutAll()`: close every open connection now.
 *
 * `cut`, `delay` and `bandwidth` combine; `blackhole` overrides them; `restore()` clears all of
 * them. Memory is bounded: a direction whose output is backed up stops reading its input, so
 * the peer that writes too fast feels TCP backpressure, as it would from a slow network.
 */
export interface TcpProxy extends AsyncDisposable {
  readonly host: string;
  readonly port: number;
  /** Live counters; read them at any time. */
  readonly stats: Readonly<ProxyStats>;
  /** Back to plain forwarding for every connection; chunks held by `delay` go out now. */
  restore(): void;
  /**
   * Cuts each connection when `at` more bytes have passed in the chosen direction: those bytes
   * are delivered, then both peers see the connection close (FIN, or RST with `reset`). Applies
   * to open connections (counting from now) and to every new one (counting from its first
   * byte), until `restore()`. A cut happens when the byte at the offset arrives, so a quiet
   * connection is not cut.
   */
  cut(options?: CutOptions): void;
  /** Holds each chunk `ms` plus a random 0 to `jitter` ms before forwarding it, in order. */
  delay(options: { ms: number; jitter?: number }): void;
  /** Paces each direction of each connection to `bytesPerSecond`. */
  bandwidth(bytesPerSecond: number): void;
  /**
   * Drops every byte both ways (and the FINs) while keeping the sockets open. A connection
   * that lost a byte stays dead after `restore()`, since its stream has a hole in it; a
   * connection that lost nothing carries on, and new connections work again.
   */
  blackhole(): void;
  /** Closes every open connection now and resolves with how many there were. */
  cutAll(options?: { reset?: boolean }): number;
  /** Stops listening and destroys every connection. Idempotent. */
  close(): Promise<void>;
}

/** Options of {@link TcpProxy.cut}. */
export interface CutOptions {
  /** Bytes let through before the cut, or a random offset from 0 to `within - 1`. @default 'random' */
  at?: number | 'random';
  /** The upper bound (exclusive) of a random offset. @default 1024 */
  within?: number;
  /**
   * Whose bytes count: `up` (client to target), `down` (target to client), or `both`, where
   * each direction gets its own offset and the first one reached cuts. @default 'both'
   */
  direction?: 'up' | 'down' | 'both';
  /** Close with RST instead of FIN; bytes in flight may then be lost too. @default false */
  reset?: boolean;
}

/** Counters of a {@link TcpProxy}. Bytes are counted as they are forwarded. */
export interface ProxyStats {
  /** Connections accepted since the start. */
  connections: number;
  /** Connections open now. */
  open: number;
  /** Bytes forwarded from clients to the target. */
  bytesUp: number;
  /** Bytes forwarded from the target to clients. */
  bytesDown: number;
  /** Bytes dropped by `blackhole()`. */
  bytesDropped: number;
  /** Connections closed by `cut()` or `cutAll()`. */
  cuts: number;
}

/** Options of {@link startProxy}. */
export interface ProxyOptions {
  target: { host: string; port: number };
  /** Random numbers in [0, 1) for offsets and jitter; pass a seeded one to replay a run. */
  random?: () => number;
}

type Direction = 'up' | 'down';

// A direction stops reading once this many bytes wait in its delay queue (plus whatever its
// output socket already holds, which Node bounds with the socket's own high-water mark).
const QUEUE_LIMIT = 64 * 1024;
// Bandwidth pacing releases slices worth this many ms, so a big chunk trickles out.
const PACING_MS = 20;
// After a FIN cut, how long a peer gets to close its side before the socket is destroyed.
const LINGER_MS = 2_000;

interface Shaping {
  delayMs: number;
  jitter: number;
  bytesPerSecond: number;
  blackhole: boolean;
  cut: Required<CutOptions> | undefined;
}

const PLAIN: Shaping = {
  delayMs: 0,
  jitter: 0,
  bytesPerSecond: 0,
  blackhole: false,
  cut: undefined,
};

/**
 * Starts a proxy to `target` on 127.0.0.1 and a free port.
 *
 * @example
 * await using proxy = await startProxy({ target: { host: gearman.host, port: gearman.port } });
 * proxy.cut({ at: 'random', within: 12 }); // every connection dies inside its first header
 */
export async function startProxy(options: ProxyOptions): Promise<TcpProxy> {
  const proxy = new ProxyServer(options);
  await proxy.listen();
  return proxy;
}

class ProxyServer implements TcpProxy {
  readonly host = '127.0.0.1';
  readonly stats: ProxyStats = {
    connections: 0,
    open: 0,
    bytesUp: 0,
    bytesDown: 0,
    bytesDropped: 0,
    cuts: 0,
  };
  shaping: Shaping = { ...PLAIN };
  readonly random: () => number;
  readonly #target: { host: string; port: number };
  readonly #links = new Set<Link>();
  readonly #server: Server;

  constructor(options: ProxyOptions) {
    this.#target = options.target;
    this.random = options.random ?? Math.random;
    // allowHalfOpen: a FIN from one peer is passed on as a FIN, not turned into a full close.
    this.#server = createServer({ allowHalfOpen: true, noDelay: true }, (client) =>
      this.#accept(client),
    );
  }

  get port(): number {
    const address = this.#server.address();
    return address !== null && typeof address === 'object' ? address.port : 0;
  }

  listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(0, this.host, () => {
        this.#server.off('error', reject);
        resolve();
      });
    });
  }

  restore(): void {
    this.shaping = { ...PLAIN };
    for (const link of this.#links) link.reshape();
  }

  cut({ at = 'random', within = 1024, direction = 'both', reset = false }: CutOptions = {}): void {
    if (at !== 'random' && !(Number.isInteger(at) && at >= 0)) {
      throw new RangeError(`cut at must be 'random' or an integer >= 0, got ${at}`);
    }
    if (!(Number.isInteger(within) && within >= 1)) {
      throw new RangeError(`cut within must be an integer >= 1, got ${within}`);
    }
    this.shaping.cut = { at, within, direction, reset };
    for (const link of this.#links) link.reshape();
  }

  delay({ ms, jitter = 0 }: { ms: number; jitter?: number }): void {
    if (!(ms >= 0 && jitter >= 0)) throw new RangeError('delay ms and jitter must be >= 0');
    this.shaping.delayMs = ms;
    this.shaping.jitter = jitter;
  }

  bandwidth(bytesPerSecond: number): void {
    if (!(bytesPerSecond > 0)) throw new RangeError('bandwidth must be above 0 bytes per second');
    this.shaping.bytesPerSecond = bytesPerSecond;
  }

  blackhole(): void {
    this.shaping.blackhole = true;
  }

  cutAll({ reset = false }: { reset?: boolean } = {}): number {
    const links = [...this.#links];
    for (const link of links) link.cut(reset);
    return links.length;
  }

  async close(): Promise<void> {
    // The callback also runs, with an error, when the server was closed already.
    const stopped = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    const links = [...this.#links];
    for (const link of links) link.destroy();
    await Promise.all([stopped, ...links.map((link) => link.closed)]);
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #accept(client: Socket): void {
    const upstream = connect({ ...this.#target, allowHalfOpen: true, noDelay: true });
    const link = new Link(this, client, upstream);
    this.#links.add(link);
    this.stats.connections++;
    this.stats.open++;
    void link.closed.then(() => {
      this.#links.delete(link);
      this.stats.open--;
    });
  }
}

/** One accepted connection: the client socket, the socket to the target, and a pipe each way. */
class Link {
  readonly proxy: ProxyServer;
  readonly client: Socket;
  readonly upstream: Socket;
  readonly up: Pipe;
  readonly down: Pipe;
  /** Set once a blackhole has dropped a byte: the stream has a hole, so it never resumes. */
  dead = false;
  cutting = false;
  /** Resolves once both sockets have closed. */
  readonly closed: Promise<void>;
  #open = 2;
  #onClosed!: () => void;

  constructor(proxy: ProxyServer, client: Socket, upstream: Socket) {
    this.proxy = proxy;
    this.client = client;
    this.upstream = upstream;
    this.up = new Pipe(this, 'up', client, upstream);
    this.down = new Pipe(this, 'down', upstream, client);
    this.closed = new Promise((resolve) => {
      this.#onClosed = resolve;
    });
    for (const socket of [client, upstream]) {
      // Errors (refused, reset) are expected here: they end the link, and are not rethrown.
      socket.on('error', () => this.#lost(socket));
      socket.once('close', () => {
        if (--this.#open === 0) this.#onClosed();
        // With both halves ended normally the other socket closes on its own.
        else if (!(socket.readableEnded && socket.writableFinished)) this.#lost(socket);
      });
    }
    this.reshape();
  }

  /** Applies the proxy's current shaping to this link's budgets and queues. */
  reshape(): void {
    const cut = this.proxy.shaping.cut;
    const offset = (): number =>
      cut === undefined
        ? Number.POSITIVE_INFINITY
        : cut.at === 'random'
          ? Math.floor(this.proxy.random() * cut.within)
          : cut.at;
    const counts = (direction: Direction) =>
      cut !== undefined && (cut.direction === 'both' || cut.direction === direction);
    this.up.budget = counts('up') ? offset() : Number.POSITIVE_INFINITY;
    this.down.budget = counts('down') ? offset() : Number.POSITIVE_INFINITY;
    this.up.releaseIfPlain();
    this.down.releaseIfPlain();
  }

  /** Closes both sockets: gracefully after what was forwarded, or with RST. */
  cut(reset: boolean): void {
    if (this.cutting) return;
    this.cutting = true;
    this.proxy.stats.cuts++;
    this.up.stop();
    this.down.stop();
    for (const socket of [this.client, this.upstream]) {
      if (reset) {
        socket.resetAndDestroy();
        continue;
      }
      // Keep reading and discarding: closing a socket with unread input makes the kernel
      // send RST, which can throw away the bytes the peer has not read yet.
      socket.resume();
      socket.end();
      const timer = setTimeout(() => socket.destroy(), LINGER_MS);
      socket.once('close', () => clearTimeout(timer));
    }
  }

  /** One socket failed or closed abruptly: its peer is gone, so the other peer learns it too. */
  #lost(socket: Socket): void {
    if (this.cutting) return; // the linger timer closes the other socket
    // Except through a blackhole, which passes nothing on, not even the news.
    if (this.dead) socket.destroy();
    else this.destroy();
  }

  destroy(): void {
    this.up.stop();
    this.down.stop();
    this.client.destroy();
    this.upstream.destroy();
  }
}

/** One direction of a link: reads `from`, shapes, writes `to`. */
class Pipe {
  readonly #link: Link;
  readonly #direction: Direction;
  readonly #from: Socket;
  readonly #to: Socket;
  /** Bytes still allowed through before the cut; Infinity without a cut. */
  budget = Number.POSITIVE_INFINITY;
  #queue: { chunk: Buffer; at: number }[] = [];
  #queued = 0;
  #timer: NodeJS.Timeout | undefined;
  #nextFree = 0; // when the paced link is free to send the next slice
  #lastAt = 0; // release time of the last queued chunk, to keep order under jitter
  #ended = false; // `from` sent FIN, to be passed on once the queue is empty

  constructor(link: Link, direction: Direction, from: Socket, to: Socket) {
    this.#link = link;
    this.#direction = direction;
    this.#from = from;
    this.#to = to;
    from.on('data', (chunk: Buffer) => this.#receive(chunk));
    from.on('end', () => {
      this.#ended = true;
      this.#endIfDone();
    });
    to.on('drain', () => this.#resumeIfRoom());
  }

  #receive(chunk: Buffer): void {
    const shaping = this.#link.proxy.shaping;
    if (this.#link.cutting) return; // discarding until the sockets close
    if (shaping.blackhole || this.#link.dead) {
      this.#drop(chunk);
      return;
    }
    if (this.#queue.length === 0 && shaping.delayMs === 0 && shaping.bytesPerSecond === 0) {
      this.#forward(chunk);
      return;
    }
    const now = Date.now();
    const { bytesPerSecond: rate, delayMs, jitter } = shaping;
    const slice = rate > 0 ? Math.max(1, Math.ceil((rate * PACING_MS) / 1000)) : chunk.length;
    for (let start = 0; start < chunk.length; start += slice) {
      const part = chunk.subarray(start, start + slice);
      // Pacing: a slice leaves once the previous one has, and takes length/rate to send.
      const sent = rate > 0 ? Math.max(now, this.#nextFree) + (part.length * 1000) / rate : now;
      this.#nextFree = sent;
      const at = Math.max(sent + delayMs + this.#link.proxy.random() * jitter, this.#lastAt);
      this.#lastAt = at;
      this.#queue.push({ chunk: part, at });
    }
    this.#queued += chunk.length;
    if (this.#queued > QUEUE_LIMIT) this.#from.pause();
    this.#arm();
  }

  #arm(): void {
    const head = this.#queue[0];
    if (this.#timer !== undefined || head === undefined) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#release(Date.now());
    }, head.at - Date.now());
  }

  /** Forwards every queued chunk due by `until`, in order. */
  #release(until: number): void {
    while (this.#queue.length > 0 && (this.#queue[0] as { at: number }).at <= until) {
      const { chunk } = this.#queue.shift() as { chunk: Buffer };
      this.#queued -= chunk.length;
      if (this.#link.proxy.shaping.blackhole || this.#link.dead) this.#drop(chunk);
      else this.#forward(chunk);
      if (this.#link.cutting) return;
    }
    this.#arm();
    this.#resumeIfRoom();
    this.#endIfDone();
  }

  /** After `restore()` (no delay or pacing left), whatever is held goes out now. */
  releaseIfPlain(): void {
    const { delayMs, bytesPerSecond } = this.#link.proxy.shaping;
    if (delayMs > 0 || bytesPerSecond > 0) return;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#nextFree = 0;
    this.#lastAt = 0;
    this.#release(Number.POSITIVE_INFINITY);
  }

  #forward(chunk: Buffer): void {
    const stats = this.#link.proxy.stats;
    const cut = this.#link.proxy.shaping.cut;
    const passing = chunk.length > this.budget ? chunk.subarray(0, this.budget) : chunk;
    this.budget -= passing.length;
    if (this.#direction === 'up') stats.bytesUp += passing.length;
    else stats.bytesDown += passing.length;
    // write() returning false means the socket holds more than its high-water mark: stop
    // reading until 'drain', so a slow reader slows the writer instead of filling memory.
    if (passing.length > 0 && !this.#to.write(passing)) this.#from.pause();
    if (passing !== chunk) this.#link.cut(cut?.reset ?? false);
  }

  #drop(chunk: Buffer): void {
    this.#link.dead = true;
    this.#link.proxy.stats.bytesDropped += chunk.length;
  }

  #resumeIfRoom(): void {
    if (this.#link.cutting || this.#queued > QUEUE_LIMIT || this.#to.writableNeedDrain) return;
    if (this.#from.isPaused()) this.#from.resume();
  }

  #endIfDone(): void {
    if (!this.#ended || this.#queue.length > 0 || this.#link.cutting) return;
    if (this.#link.proxy.shaping.blackhole || this.#link.dead) {
      // A blackhole swallows the FIN too: the other peer never learns that the connection
      // ended, and keeps its socket until `cutAll()` or `close()`, as behind a real NAT. The
      // peer that sent it gets ours, so that its socket can close.
      this.#link.dead = true;
      this.#from.end();
      return;
    }
    this.#to.end();
  }

  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#queue = [];
    this.#queued = 0;
  }
}
