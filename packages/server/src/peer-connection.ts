import { Buffer } from 'node:buffer';
import type { Socket } from 'node:net';
import { PacketDecoder, ProtocolError } from '@gearmanode/protocol';
import type { Dispatcher } from './dispatcher.js';
import { Peer } from './model.js';
import type { ServerLogger } from './options.js';

/**
 * Bytes queued for a peer beyond which the server stops reading from it, and from any worker
 * whose WORK_* packets are queued for it, until its socket has drained.
 */
const HIGH_WATER_MARK = 1024 * 1024;
// Frames below this size are joined into one buffer per flush; larger ones are written as is.
const JOIN_LIMIT = 16 * 1024;
// The largest write queue kept for the next turn; a longer one is let go.
const MAX_KEPT_QUEUE = 1024;
// How long a closing connection may take to flush its output before it is destroyed.
const END_TIMEOUT = 2000;

/**
 * The connections with output queued in this event-loop turn, in the order they got it: the
 * first `dirtyCount` entries. The array is kept at its size (setting `length = 0` would free
 * its backing store, to be allocated again on the next turn).
 */
const dirty: (PeerConnection | undefined)[] = [];
let dirtyCount = 0;

/** Options for `PeerConnection`. */
export interface PeerConnectionOptions {
  maxPacketSize: number;
  logger: ServerLogger | undefined;
}

/**
 * The server's end of one peer's socket (not to be confused with the client-side connection in
 * `@gearmanode/core`): feeds the decoder, passes packets and admin lines to the dispatcher in
 * order, and writes what the dispatcher queues, once per tick between `cork()`/`uncork()`.
 *
 * Memory per connection is bounded: the decoder holds at most one packet (`maxPacketSize`),
 * and output beyond `HIGH_WATER_MARK` pauses reading from whoever produces it until the socket
 * drains.
 */
export class PeerConnection extends Peer {
  readonly socket: Socket;
  /** Resolves once the socket has closed and the dispatcher has forgotten the peer. */
  readonly closed: Promise<void>;
  readonly #dispatcher: Dispatcher;
  readonly #decoder: PacketDecoder;
  readonly #logger: ServerLogger | undefined;
  /** The frames to write: the first `#queued` entries of the array, which keeps its size. */
  #queue: (Buffer | undefined)[] = [];
  #queued = 0;
  #queuedBytes = 0;
  /** Whether this connection is in `dirty`, to be flushed at the end of the tick. */
  #flushScheduled = false;
  /** Whether it is to be flushed before the others (see `expedite`). */
  #expedited = false;
  /** Reasons to stop reading: our own congestion, and peers that have not drained our output. */
  #holds = 0;
  #selfHeld = false;
  /** Peers that stopped reading until this one drains. */
  #blocked: Set<PeerConnection> | undefined;
  #ending = false;

  constructor(socket: Socket, id: number, dispatcher: Dispatcher, options: PeerConnectionOptions) {
    super(id, (socket.remoteAddress ?? '-').replace(/^::ffff:/, ''));
    this.socket = socket;
    this.#dispatcher = dispatcher;
    this.#logger = options.logger;
    this.#decoder = new PacketDecoder(
      (packet, magic, body, start, end) => {
        if (!this.#ending) dispatcher.handlePacket(this, packet, magic, body, start, end);
      },
      {
        maxPacketSize: options.maxPacketSize,
        // Large payloads travel as the chunks they were read in: forwarded and handed out with
        // one vectored write each, never joined (the sockets are read through 'data' events,
        // whose chunks are never reused).
        onPayloadParts: (packet, magic, parts, fields) => {
          if (!this.#ending) {
            dispatcher.handlePacket(this, packet, magic, fields, 0, fields.length, parts);
          }
        },
        onText: (line) => {
          if (this.#ending) return;
          if (!dispatcher.handleAdmin(this, line)) {
            this.#logger?.warn(`${this.#name}: admin line with six or more words, disconnecting`);
            this.end();
          }
        },
      },
    );
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('drain', () => this.#onDrain());
    socket.on('error', (error) => {
      // Always followed by 'close', which cleans up; the error itself is the peer's business.
      this.#logger?.debug?.(`${this.#name}: ${error.message}`);
    });
    this.closed = new Promise((resolve) => {
      socket.once('close', () => {
        this.#onClose();
        resolve();
      });
    });
    dispatcher.attach(this);
    this.#logger?.debug?.(`${this.#name}: connected`);
  }

  get #name(): string {
    return `connection ${this.id} from ${this.remoteAddress}`;
  }

  protected write(frame: Buffer): void {
    if (this.gone || this.#ending) return;
    this.#queue[this.#queued++] = frame;
    this.#queuedBytes += frame.length;
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      dirty[dirtyCount++] = this;
      if (dirtyCount === 1) setImmediate(PeerConnection.#flushDirty);
    }
  }

  /**
   * Writes the output of every connection that has some, once per event-loop turn: after all
   * the input that arrived in this turn has been handled (setImmediate runs right after the
   * I/O callbacks), so that the replies to several chunks, and the packets several peers
   * forward to one client, leave in one write.
   */
  static #flushDirty(): void {
    // Flushing writes only: nothing here can queue more output for this turn. Workers waiting
    // for a job go first (a second `#flush` of a connection finds nothing queued).
    for (let i = 0; i < dirtyCount; i++) {
      const connection = dirty[i] as PeerConnection;
      if (connection.#expedited) connection.#flush();
    }
    for (let i = 0; i < dirtyCount; i++) {
      (dirty[i] as PeerConnection).#flush();
      dirty[i] = undefined;
    }
    dirtyCount = 0;
  }

  override expedite(): void {
    // Until the next flush, which the output the caller queues (or has queued) schedules.
    this.#expedited = true;
  }

  get congested(): boolean {
    return this.socket.writableLength + this.#queuedBytes > HIGH_WATER_MARK;
  }

  pauseUntilDrained(other: Peer): void {
    if (!(other instanceof PeerConnection) || other.gone) return;
    other.#blocked ??= new Set();
    if (other.#blocked.has(this)) return;
    other.#blocked.add(this);
    this.#hold();
  }

  /** Writes what is queued, then half-closes; destroys the socket if that takes too long. */
  end(): void {
    if (this.#ending) return;
    this.#ending = true;
    this.#flush();
    // Keep reading (and discarding) so that the peer's FIN is seen and 'close' follows.
    this.socket.resume();
    this.socket.end();
    const timer = setTimeout(() => this.socket.destroy(), END_TIMEOUT);
    timer.unref();
    this.socket.once('close', () => clearTimeout(timer));
  }

  /** Closes the socket at once, dropping queued output. */
  destroy(): void {
    this.socket.destroy();
  }

  #onData(chunk: Buffer): void {
    if (this.#ending) return;
    try {
      this.#decoder.push(chunk);
    } catch (error) {
      if (error instanceof ProtocolError) {
        this.#logger?.warn(`${this.#name}: ${error.message}, disconnecting`);
      } else {
        // A bug in the dispatcher: lose this connection, not the process.
        const detail = error instanceof Error ? (error.stack ?? error.message) : String(error);
        this.#logger?.error(`${this.#name}: internal error, disconnecting: ${detail}`);
      }
      this.end();
    }
  }

  #flush(): void {
    this.#flushScheduled = false;
    this.#expedited = false;
    const count = this.#queued;
    if (count === 0) return;
    const queue = this.#queue;
    const bytes = this.#queuedBytes;
    this.#queued = 0;
    this.#queuedBytes = 0;
    const socket = this.socket;
    if (socket.destroyed || socket.writableEnded) {
      clear(queue, count);
      return;
    }
    if (count === 1) {
      socket.write(queue[0] as Buffer);
    } else if (bytes < JOIN_LIMIT * 4) {
      socket.write(join(queue, 0, count, bytes));
    } else {
      socket.cork();
      let start = 0;
      let runBytes = 0;
      for (let i = 0; i < count; i++) {
        const frame = queue[i] as Buffer;
        if (frame.length < JOIN_LIMIT) {
          runBytes += frame.length;
          continue;
        }
        this.#writeRun(queue, start, i, runBytes);
        socket.write(frame);
        start = i + 1;
        runBytes = 0;
      }
      this.#writeRun(queue, start, count, runBytes);
      socket.uncork();
    }
    // The socket keeps the buffers, not the array: it is reused for the next turn's output,
    // unless an unusual turn made it large.
    if (count > MAX_KEPT_QUEUE) this.#queue = [];
    else clear(queue, count);
    // More than the high-water mark still in the socket: stop reading this peer until the
    // socket drains ('drain' follows, since write() returned false on the way).
    if (!this.#selfHeld && socket.writableLength > HIGH_WATER_MARK) {
      this.#selfHeld = true;
      this.#hold();
    }
  }

  #writeRun(queue: (Buffer | undefined)[], start: number, end: number, bytes: number): void {
    if (end - start === 1) this.socket.write(queue[start] as Buffer);
    else if (end > start) this.socket.write(join(queue, start, end, bytes));
  }

  #onDrain(): void {
    if (this.#selfHeld) {
      this.#selfHeld = false;
      this.#release();
    }
    this.#releaseBlocked();
  }

  #releaseBlocked(): void {
    const blocked = this.#blocked;
    if (blocked === undefined) return;
    this.#blocked = undefined;
    for (const connection of blocked) connection.#release();
  }

  #hold(): void {
    if (this.#holds++ === 0) this.socket.pause();
  }

  #release(): void {
    if (this.#holds > 0 && --this.#holds === 0 && !this.#ending) this.socket.resume();
  }

  #onClose(): void {
    this.#dispatcher.detach(this);
    this.gone = true;
    this.#queue = [];
    this.#queued = 0;
    this.#queuedBytes = 0;
    this.#releaseBlocked();
    this.#logger?.debug?.(`${this.#name}: closed`);
  }
}

/**
 * Empties `queue[0..count)` for reuse. A loop, not `fill()`: on the few frames of a turn, the
 * call into the runtime that `fill()` makes costs more than the stores.
 */
function clear(queue: (Buffer | undefined)[], count: number): void {
  for (let i = 0; i < count; i++) queue[i] = undefined;
}

/** `queue[start..end)` in one buffer of `bytes` bytes. */
function join(queue: (Buffer | undefined)[], start: number, end: number, bytes: number): Buffer {
  const joined = Buffer.allocUnsafe(bytes);
  let at = 0;
  for (let i = start; i < end; i++) {
    const frame = queue[i] as Buffer;
    joined.set(frame, at);
    at += frame.length;
  }
  return joined;
}
