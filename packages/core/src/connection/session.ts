import { Buffer } from 'node:buffer';
import type net from 'node:net';
import {
  ConnectionError,
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
import { READ_IN_PLACE } from './socket.js';

// The packet half of a connection, for one socket at a time: the outbox flushed once per tick,
// the FIFO that matches replies to requests in order, and the handshake that proves a server
// is there. It knows nothing of connecting or reconnecting.

// A flush joins its frames into one buffer up to this many bytes; beyond, they go out as a
// corked writev, so that large payloads are never copied.
const JOIN_LIMIT = 64 * 1024;

/** One request awaiting its reply. */
export interface Pending {
  readonly type: PacketType | 'TEXT';
  readonly handler: ReplyHandler | TextReplyHandler;
  written: boolean;
  /** When its reply is due (ms since the epoch), once written. */
  deadline: number;
}

export interface SessionOptions {
  readonly server: string;
  readonly maxPacketSize: number;
  /** Accept admin text responses. */
  readonly text: boolean;
  /** Due time of a reply, from when its request is written. */
  readonly requestTimeout: number;
  /** Packets that answer no request. */
  readonly onPacket: ((packet: Packet) => void) | undefined;
}

export class Session {
  readonly #options: SessionOptions;
  readonly #fifo = new Queue<Pending>();
  #decoder: PacketDecoder;
  #socket: net.Socket | undefined;
  #outbox: Buffer[] = [];
  #outboxBytes = 0;
  #unwritten: Pending[] = [];
  #flushScheduled = false;

  constructor(options: SessionOptions) {
    this.#options = options;
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
    return encodePacketParts(packet, { maxPacketSize: this.#options.maxPacketSize });
  }

  /** Queues a request, to be written with the next flush. */
  request(type: PacketType | 'TEXT', handler: Pending['handler'], parts: Buffer[]): Pending {
    const pending: Pending = { type, handler, written: false, deadline: 0 };
    this.#fifo.push(pending);
    this.#unwritten.push(pending);
    this.enqueue(parts);
    return pending;
  }

  /** Queues frames that expect no reply. */
  enqueue(parts: Buffer[]): void {
    for (const part of parts) {
      this.#outbox.push(part);
      this.#outboxBytes += part.length;
    }
    if (!this.#flushScheduled && this.#socket !== undefined) {
      this.#flushScheduled = true;
      queueMicrotask(this.#flushTask);
    }
  }

  /**
   * A new socket: a fresh decoder, and the handshake written first. `probe` is the request
   * whose reply proves the server is there; it goes ahead of everything queued meanwhile.
   */
  begin(socket: net.Socket, probe: PacketInit, handler: ReplyHandler, setup: PacketInit[]): void {
    this.#decoder = this.#newDecoder();
    this.#fifo.unshift({ type: probe.type, handler, written: true, deadline: 0 });
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
    if (socket === undefined || this.#outbox.length === 0) return;
    const outbox = this.#outbox;
    const bytes = this.#outboxBytes;
    this.#outbox = [];
    this.#outboxBytes = 0;
    if (outbox.length === 1) {
      socket.write(outbox[0] as Buffer);
    } else if (bytes <= JOIN_LIMIT) {
      // Small frames: one copy into one buffer is cheaper than a corked writev of many.
      socket.write(Buffer.concat(outbox, bytes));
    } else {
      // Large payloads stay uncopied (encodePacketParts): one writev of the whole batch.
      socket.cork();
      for (const chunk of outbox) socket.write(chunk);
      socket.uncork();
    }
    const deadline = Date.now() + this.#options.requestTimeout;
    for (const pending of this.#unwritten) {
      pending.written = true;
      pending.deadline = deadline;
    }
    this.#unwritten = [];
  }

  /** Where the next read should go: the body of a large packet in progress, if any. */
  readTarget(): Buffer | undefined {
    return this.#socket === undefined ? undefined : this.#decoder.readTarget(READ_IN_PLACE);
  }

  /** Decodes bytes from the socket. @throws ProtocolError when the stream is out of step. */
  push(chunk: Buffer): void {
    this.#decoder.push(chunk);
  }

  /**
   * The socket is gone: drops what was not written and fails every request with the error
   * `reason` makes for it (which says whether the request may have reached the server).
   */
  end(reason: (pending: Pending) => GearmanError): void {
    this.#socket = undefined;
    this.#outbox = [];
    this.#outboxBytes = 0;
    this.#unwritten = [];
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
    });
  }

  #onPacket(packet: Packet, magic: 'REQ' | 'RES'): void {
    const server = this.#options.server;
    if (magic !== 'RES') {
      throw new ProtocolError('UNEXPECTED_PACKET', `the server sent ${packet.type} as a request`);
    }
    const type = packet.type;
    // PROTOCOL section 8: JOB_NOT_FOUND answers a WORK_* packet, which has no FIFO entry.
    if (UNSOLICITED_TYPES.has(type) || (type === 'ERROR' && packet.code === 'JOB_NOT_FOUND')) {
      this.#options.onPacket?.(packet);
      return;
    }
    const head = this.#fifo.peek();
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
    else handler.onReply(packet);
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
