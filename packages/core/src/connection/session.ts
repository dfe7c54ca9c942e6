import type { Buffer } from 'node:buffer';
import type net from 'node:net';
import {
  ConnectionError,
  type DecoderOptions,
  encodePacketParts,
  type GearmanError,
  type Packet,
  PacketDecoder,
  type PacketInit,
  type PacketType,
  ProtocolError,
  REPLY_TYPES,
  ServerError,
  UNSOLICITED_TYPES,
} from '@gearmanode/protocol';
import { Queue } from '../queue.js';
import type { ReplyHandler, TextReplyHandler } from './options.js';
import { type FrameWriter, Outbox } from './outbox.js';
import { READ_IN_PLACE } from './socket.js';

// The packet half of a connection, for one socket at a time: the outbox (outbox.ts) flushed once
// per tick, the FIFO that matches replies to requests in order, and the handshake that proves a
// server is there. It knows nothing of connecting or reconnecting.

// The flush runs as a reaction of this settled promise: a plain microtask. queueMicrotask()
// would wrap each flush in an AsyncResource (an async id, the init hooks, a bound function),
// and with one job at a time there is a flush per submit.
const SETTLED = Promise.resolve();

/** One request awaiting its reply. */
export interface Pending {
  readonly type: PacketType | 'TEXT';
  readonly handler: ReplyHandler | TextReplyHandler;
  written: boolean;
  /** When its reply is due (ms since the epoch), once written. */
  deadline: number;
  /** When it was written (ms since the epoch). */
  sent: number;
  /**
   * WORK_DATA and WORK_WARNING packets sent between the previous request and this one that the
   * server has not refused (yet); a server lacking them refuses each (see `#isStray`).
   */
  refusable: number;
}

/**
 * ERROR codes that only ever answer a packet without a reply: a WORK_* report for a job the
 * connection does not hold (gearmand: JOB_NOT_FOUND; Perl's Gearman::Server: not_worker, which
 * it also sends unprompted when a CAN_DO_TIMEOUT expires). They never take a request's reply.
 */
const STRAY_ERROR_CODES: ReadonlySet<string> = new Set(['JOB_NOT_FOUND', 'not_worker']);

/**
 * Packets that Gearman::Server does not know and answers with ERROR `server_error`, the code it
 * also gives requests it does not know (GRAB_JOB_UNIQ, SUBMIT_JOB_LOW, …).
 */
// Two comparisons, not a Set: every WORK_COMPLETE passes this test, and a Set hashes its type.
function isRefusable(type: PacketType): boolean {
  return type === 'WORK_DATA' || type === 'WORK_WARNING';
}
const UNKNOWN_COMMAND_CODE = 'server_error';

export interface SessionOptions {
  readonly server: string;
  readonly maxPacketSize: number;
  /** Accept admin text responses. */
  readonly text: boolean;
  /** Due time of a reply, from when its request is written. */
  readonly requestTimeout: number;
  /** Packets that answer no request. */
  readonly onPacket: ((packet: Packet) => void) | undefined;
  /** Decoders of the session's own for some packet types. */
  readonly bodyDecoders?: DecoderOptions['bodyDecoders'];
}

export class Session {
  readonly #options: SessionOptions;
  readonly #fifo = new Queue<Pending>();
  #decoder: PacketDecoder;
  #socket: net.Socket | undefined;
  /** What the next flush writes. */
  readonly #outbox: Outbox;
  /** Requests at the back of the FIFO not written yet. */
  #unwritten = 0;
  readonly #encodeOptions: { readonly maxPacketSize: number };
  #flushScheduled = false;
  /**
   * In `push()`: packets queued now (a worker's result and its next GRAB, sent as it decodes the
   * job) are written when the chunk is decoded, without a microtask to flush them.
   */
  #decoding = false;
  #sentWhileDecoding = false;
  /** WORK_DATA and WORK_WARNING packets queued after the last request. */
  #refusableTail = 0;
  /** The type of the last reply matched to a request, and that request's type. */
  #lastReply: PacketType | undefined;
  #lastRequest: PacketType | 'TEXT' | undefined;

  constructor(options: SessionOptions) {
    this.#options = options;
    this.#encodeOptions = { maxPacketSize: options.maxPacketSize };
    this.#outbox = new Outbox(this.#encodeOptions);
    this.#decoder = this.#newDecoder();
  }

  /** Requests written or queued that await a reply. */
  get size(): number {
    return this.#fifo.size;
  }

  /** The oldest request awaiting its reply. */
  get head(): Pending | undefined {
    return this.#fifo.peek();
  }

  /** Encodes a packet, checking it against `maxPacketSize`. */
  encode(packet: PacketInit): Buffer[] {
    return encodePacketParts(packet, this.#encodeOptions);
  }

  /**
   * Encodes and queues a packet that expects no reply, in the outbox slab when it fits there.
   * @throws InvalidArgumentError when the packet cannot be encoded; nothing is queued then.
   */
  send(packet: PacketInit): void {
    this.#outbox.encode(packet);
    if (isRefusable(packet.type)) this.#refusableTail++;
    this.#scheduleFlush();
  }

  /** Queues a packet of `size` bytes that `writer` writes itself (no reply expected). */
  sendFrame(type: PacketType, size: number, writer: FrameWriter): void {
    this.#outbox.frame(size, writer);
    if (isRefusable(type)) this.#refusableTail++;
    this.#scheduleFlush();
  }

  /** Queues a request, to be written with the next flush. */
  request(
    type: PacketType | 'TEXT',
    handler: Pending['handler'],
    parts: readonly Buffer[],
  ): Pending {
    const refusable = this.#refusableTail;
    this.#refusableTail = 0;
    const pending: Pending = { type, handler, written: false, deadline: 0, sent: 0, refusable };
    this.#fifo.push(pending);
    this.#unwritten++;
    this.enqueue(parts);
    return pending;
  }

  /**
   * Queues frames that expect no reply; `type` is their packet's type, so that an ERROR a
   * server sends back for it is told apart from a request's reply.
   */
  enqueue(parts: readonly Buffer[], type?: PacketType): void {
    if (type !== undefined && isRefusable(type)) this.#refusableTail++;
    this.#outbox.enqueue(parts);
    this.#scheduleFlush();
  }

  #scheduleFlush(): void {
    // While decoding a chunk, what its packets send is written once the chunk is decoded.
    if (this.#decoding) this.#sentWhileDecoding = true;
    else if (!this.#flushScheduled && this.#socket !== undefined) {
      this.#flushScheduled = true;
      void SETTLED.then(this.#flushTask);
    }
  }

  /**
   * A new socket: a fresh decoder, and the handshake written first. `probe` is the request
   * whose reply proves the server is there; it goes ahead of everything queued meanwhile.
   */
  begin(socket: net.Socket, probe: PacketInit, handler: ReplyHandler, setup: PacketInit[]): void {
    this.#decoder = this.#newDecoder();
    this.#fifo.unshift({
      type: probe.type,
      handler,
      written: true,
      deadline: 0,
      sent: Date.now(),
      refusable: 0,
    });
    const frames = this.encode(probe);
    for (const packet of setup) frames.push(...this.encode(packet));
    socket.cork();
    for (const frame of frames) socket.write(frame);
    socket.uncork();
  }

  /** The socket passed the handshake: writes what was queued, and every later tick's output. */
  attach(socket: net.Socket): void {
    this.#socket = socket;
    this.flush();
  }

  readonly #flushTask = (): void => {
    this.#flushScheduled = false;
    this.flush();
  };

  /** Writes everything queued in one batch and starts the reply deadlines. */
  flush(): void {
    const socket = this.#socket;
    if (socket === undefined) return;
    if (this.#outbox.writeTo(socket)) this.#written();
  }

  /** The requests just written: their reply deadlines start now. */
  #written(): void {
    // The requests written now are the last ones in the FIFO (replies only take from its front).
    const fifo = this.#fifo;
    const size = fifo.size;
    const count = Math.min(this.#unwritten, size);
    this.#unwritten = 0;
    if (count === 0) return;
    const now = Date.now();
    const deadline = now + this.#options.requestTimeout;
    for (let i = size - count; i < size; i++) {
      const pending = fifo.at(i) as Pending;
      pending.written = true;
      pending.sent = now;
      pending.deadline = deadline;
    }
  }

  /** Where the next read should go: the body of a large packet in progress, if any. */
  readTarget(): Buffer | undefined {
    return this.#socket === undefined ? undefined : this.#decoder.readTarget(READ_IN_PLACE);
  }

  /**
   * Decodes bytes from the socket: `chunk`'s first `end` bytes, or all of it.
   * @throws ProtocolError when the stream is out of step.
   */
  push(chunk: Buffer, end?: number): void {
    this.#decoding = true;
    try {
      this.#decoder.push(chunk, end);
    } catch (error) {
      this.#decoding = false;
      this.#flushAfterDecoding(false);
      throw error;
    }
    this.#decoding = false;
    this.#flushAfterDecoding(true);
  }

  /** Writes what was queued while decoding: now, or (after a throw) in a microtask as usual. */
  #flushAfterDecoding(now: boolean): void {
    if (!this.#sentWhileDecoding) return;
    this.#sentWhileDecoding = false;
    if (!now) this.#scheduleFlush();
    else if (!this.#flushScheduled) this.flush();
  }

  /**
   * The socket is gone: drops what was not written and fails every request with the error
   * `reason` makes for it (which says whether the request may have reached the server).
   */
  end(reason: (pending: Pending) => GearmanError): void {
    this.#socket = undefined;
    this.#outbox.clear();
    this.#unwritten = 0;
    this.#refusableTail = 0;
    for (const pending of this.#fifo.drain()) pending.handler.onError(reason(pending));
  }

  /** The error a request of a lost socket gets. */
  lostError(pending: Pending, cause: Error | undefined): ConnectionError {
    const server = this.#options.server;
    const detail = cause ? `: ${cause.message}` : '';
    return new ConnectionError(
      `connection to ${server} lost before the reply to ${pending.type}${detail}`,
      { maybeRan: pending.written, server },
      { cause },
    );
  }

  #newDecoder(): PacketDecoder {
    return new PacketDecoder((packet, magic) => this.#onPacket(packet, magic), {
      maxPacketSize: this.#options.maxPacketSize,
      onText: this.#options.text ? (line) => this.#onLine(line) : undefined,
      maxLineLength: 1024 * 1024,
      bodyDecoders: this.#options.bodyDecoders,
    });
  }

  #onPacket(packet: Packet, magic: 'REQ' | 'RES'): void {
    const server = this.#options.server;
    if (magic !== 'RES') {
      throw new ProtocolError('UNEXPECTED_PACKET', `the server sent ${packet.type} as a request`);
    }
    const type = packet.type;
    const head = this.#fifo.peek();
    if (head !== undefined && type === this.#lastReply && head.type === this.#lastRequest) {
      // The same reply to the same request as last time (a worker's JOB_ASSIGN_UNIQ to its
      // GRAB_JOB_UNIQ, say): known to be a reply, with no Set or table to look it up in.
      this.#fifo.shift();
      (head.handler as ReplyHandler).onReply(packet);
      return;
    }
    if (UNSOLICITED_TYPES.has(type) || (type === 'ERROR' && this.#isStray(packet.code))) {
      this.#options.onPacket?.(packet);
      return;
    }
    const expected =
      head === undefined || head.type === 'TEXT' ? undefined : REPLY_TYPES[head.type];
    if (head === undefined || (type !== 'ERROR' && expected?.has(type) !== true)) {
      throw new ProtocolError(
        'UNEXPECTED_PACKET',
        `unexpected ${type} from ${server} while ${head ? `awaiting a reply to ${head.type}` : 'no request was pending'}`,
      );
    }
    this.#fifo.shift();
    const handler = head.handler as ReplyHandler;
    if (packet.type === 'ERROR') handler.onError(new ServerError(packet.code, packet.message));
    else {
      this.#lastReply = type;
      this.#lastRequest = head.type;
      handler.onReply(packet);
    }
  }

  /**
   * Whether an ERROR answers a packet that expects no reply rather than the oldest request.
   * Servers answer in order, so an ERROR for a WORK_* packet comes before the reply to any
   * request sent after it. The codes in STRAY_ERROR_CODES never answer a request. `server_error`
   * is Gearman::Server's answer to any packet it does not know, requests included: it is taken
   * as the refusal of a WORK_DATA or WORK_WARNING when one was sent before the oldest request
   * (or with none pending) and has not been refused yet; once that request is answered, any
   * refusal of those packets would have come before, so they leave with it.
   */
  #isStray(code: string): boolean {
    if (STRAY_ERROR_CODES.has(code)) return true;
    if (code !== UNKNOWN_COMMAND_CODE) return false;
    const head = this.#fifo.peek();
    if (head === undefined) {
      if (this.#refusableTail === 0) return false;
      this.#refusableTail--;
      return true;
    }
    if (head.refusable === 0) return false;
    head.refusable--;
    return true;
  }

  #onLine(line: string): void {
    const head = this.#fifo.peek();
    if (head === undefined || head.type !== 'TEXT') {
      throw new ProtocolError(
        'UNEXPECTED_PACKET',
        `unexpected text line from ${this.#options.server}`,
      );
    }
    if ((head.handler as TextReplyHandler).onLine(line)) this.#fifo.shift();
  }
}
