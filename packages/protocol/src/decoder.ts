import { Buffer } from 'node:buffer';
import { BODY_DECODERS, type BodyDecoder } from './body-decoders.js';
import { InvalidArgumentError, ProtocolError } from './errors.js';
import {
  DEFAULT_MAX_PACKET_SIZE,
  HEADER_SIZE,
  MAGIC_LAST_REQ,
  MAGIC_LAST_RES,
  MAGIC_PREFIX,
  MAGIC_REQ,
  MAGIC_RES,
} from './header.js';
import { COPY_THRESHOLD } from './limits.js';
import { type Magic, PACKET_TYPES, type Packet, type PacketType } from './packet-types.js';
import { emitPayloadParts, type PayloadPartsHandler } from './payload-parts.js';

/**
 * Called with each complete packet, in stream order. The packet's body, as received, is
 * `source.subarray(bodyStart, bodyEnd)`: a job server can forward it without encoding it again.
 * `source` is the pushed chunk or a buffer of the decoder's own, valid for the call only (copy
 * what you keep).
 */
export type PacketHandler = (
  packet: Packet,
  magic: Magic,
  source: Buffer,
  bodyStart: number,
  bodyEnd: number,
) => void;

/** Options for `PacketDecoder`. */
export interface DecoderOptions {
  /**
   * The largest body accepted. A header announcing more is refused as soon as its 12 bytes are
   * in, before anything is buffered or allocated.
   * @default 67108864 (64 MiB)
   */
  maxPacketSize?: number;
  /**
   * Accept admin text lines between packets, as a job server must
   * ([protocol.md section 1](https://github.com/gearmanode/gearmanode/blob/main/docs/protocol.md#1-connections)):
   * a unit whose first byte is not zero is a line, passed here without its `\r\n` or `\n`. Without
   * it, such a byte is a bad magic.
   */
  onText?: (line: string) => void;
  /** The longest text line accepted, in bytes. @default 8192 (gearmand's buffer) */
  maxLineLength?: number;
  /**
   * Opt-in: hand large payloads over as the chunks they arrived in, without joining them. A
   * packet with a payload field (SUBMIT_JOB*, JOB_ASSIGN*, WORK_DATA, WORK_WARNING,
   * WORK_COMPLETE, WORK_EXCEPTION, ECHO_*) whose body spans chunks and whose payload is at least
   * `payloadPartsMin` bytes goes to this handler instead of `onPacket`, so that it can be
   * written onward with one vectored write of the parts (as a job server forwards results).
   * Every other packet still goes to `onPacket` with one `Buffer` payload, as does a body read
   * in place (`readTarget()`). Limits and errors are the same in both modes, and bytes are
   * still held only as they arrive.
   */
  onPayloadParts?: PayloadPartsHandler;
  /** The smallest payload `onPayloadParts` is given. @default 65536 (`COPY_THRESHOLD`) */
  payloadPartsMin?: number;
  /**
   * Decoders of their own for some packet types' bodies, used instead of the built-in ones:
   * each gets the whole packet's bytes and the body's bounds `buf[start, end)` and returns the
   * packet (or throws ProtocolError for a malformed body, as `parseBody` does). For a consumer
   * that wants a type's fields in a form of its own, e.g. a job's handle kept as bytes.
   */
  bodyDecoders?: Readonly<Partial<Record<PacketType, BodyDecoder>>>;
}

/** The body decoders by type number, with `overrides` in place of the built-in ones. */
function withOverrides(
  overrides: Readonly<Partial<Record<PacketType, BodyDecoder>>> | undefined,
): readonly (BodyDecoder | undefined)[] {
  if (overrides === undefined) return BODY_DECODERS;
  const decoders = [...BODY_DECODERS];
  for (const type of Object.keys(overrides) as PacketType[]) {
    const info = PACKET_TYPES[type];
    const decode = overrides[type];
    if (info === undefined || typeof decode !== 'function') {
      throw new InvalidArgumentError('bodyDecoders', `no decoder for a packet type ${type}`);
    }
    decoders[info.number] = decode;
  }
  return decoders;
}

/** The big-endian 32-bit word at `offset`, which must be in `buf` with its three next bytes. */
function word(buf: Buffer, offset: number): number {
  return (
    (((buf[offset] as number) << 24) |
      ((buf[offset + 1] as number) << 16) |
      ((buf[offset + 2] as number) << 8) |
      (buf[offset + 3] as number)) >>>
    0
  );
}

const LF = 0x0a;
const CR = 0x0d;

/**
 * An incremental decoder of the binary protocol: `push()` chunks as they arrive, in any sizes;
 * it calls `onPacket` for every complete packet and keeps the rest.
 *
 * A packet lying wholly inside one chunk is decoded in place: its `payload` is a view into that
 * chunk, not a copy (copy it if you keep it and the chunk is large). A packet split across chunks
 * is joined once, when its last byte arrives; with `onPayloadParts`, a large payload is not joined
 * at all. At most `maxPacketSize` + 12 bytes are ever held.
 *
 * After a `ProtocolError` the stream cannot be re-synchronised: every later `push()` throws the
 * same error, and the caller should close the connection. A throw from `onPacket` also ends the
 * decoder, since the rest of that chunk is lost.
 *
 * @example
 * const decoder = new PacketDecoder((packet) => console.log(packet.type));
 * socket.on('data', (chunk) => decoder.push(chunk));
 */
export class PacketDecoder {
  readonly #onPacket: PacketHandler;
  readonly #onText: ((line: string) => void) | undefined;
  readonly #maxPacketSize: number;
  readonly #maxLineLength: number;
  readonly #onParts: PayloadPartsHandler | undefined;
  readonly #partsMin: number;
  readonly #decoders: readonly (BodyDecoder | undefined)[];

  // A header that arrived in pieces, and the body parts of a packet that spans chunks.
  readonly #header = Buffer.alloc(HEADER_SIZE);
  #headerFilled = 0;
  #decode: BodyDecoder = BODY_DECODERS[6] as BodyDecoder;
  #magic: Magic = 'RES';
  #number = 0;
  #size = 0;
  #parts: Buffer[] = [];
  #partsSize = 0;
  // The body being read in place (`readTarget()`): its first `#partsSize` bytes have arrived.
  #body: Buffer | undefined;
  // A text line that spans chunks.
  #lineParts: Buffer[] | undefined;
  #lineSize = 0;
  #failure: unknown;

  constructor(onPacket: PacketHandler, options: DecoderOptions = {}) {
    const {
      maxPacketSize = DEFAULT_MAX_PACKET_SIZE,
      maxLineLength = 8192,
      payloadPartsMin = COPY_THRESHOLD,
    } = options;
    if (!Number.isInteger(maxPacketSize) || maxPacketSize < 0 || maxPacketSize > 0xffffffff) {
      throw new InvalidArgumentError('maxPacketSize', 'must be an integer from 0 to 4294967295');
    }
    if (!Number.isInteger(payloadPartsMin) || payloadPartsMin < 1) {
      throw new InvalidArgumentError('payloadPartsMin', 'must be a positive integer');
    }
    this.#decoders = withOverrides(options.bodyDecoders);
    this.#onParts = options.onPayloadParts;
    this.#partsMin = payloadPartsMin;
    this.#onPacket = onPacket;
    this.#onText = options.onText;
    this.#maxPacketSize = maxPacketSize;
    this.#maxLineLength = maxLineLength;
  }

  /** Bytes held for a packet or line that has not fully arrived. */
  get bufferedBytes(): number {
    return this.#headerFilled + this.#partsSize + this.#lineSize;
  }

  /**
   * Decodes what `chunk` completes and keeps the rest. With `end`, only `chunk`'s first `end`
   * bytes are data (a read buffer that the socket filled in part): they are decoded as
   * `chunk.subarray(0, end)` would be, without making that view.
   * @throws ProtocolError (`ERR_PROTOCOL`): bad magic, unknown type, size over the limit, a body
   *   with too few fields, an over-long text line; or whatever `onPacket` threw.
   */
  push(chunk: Buffer, end?: number): void {
    if (this.#failure !== undefined) throw this.#failure;
    let length = chunk.length;
    if (end !== undefined && end < length) {
      // Only the fast path of whole packets takes the bound; the rest gets an exact view.
      if (this.#headerFilled > 0 || this.#lineParts !== undefined || this.#onText !== undefined) {
        chunk = chunk.subarray(0, end);
      }
      length = end;
    }
    try {
      this.#consume(chunk, length);
    } catch (error) {
      this.#failure = error;
      this.#drop();
      throw error;
    }
  }

  /**
   * Zero-copy reads of large bodies, for a socket that reads into buffers it is given (Node's
   * `onread` option): while a packet's body lacks at least `min` bytes, returns a view of the
   * body being assembled, exactly as long as what is missing. Read into it, then `push()` the
   * filled part (`target.subarray(0, bytesRead)`) before asking again: the bytes land in the
   * packet's own buffer, with no per-chunk buffers and no concatenation. Returns `undefined`
   * otherwise: read into a buffer of your own and push that.
   */
  readTarget(min: number): Buffer | undefined {
    if (this.#failure !== undefined || this.#headerFilled < HEADER_SIZE) return undefined;
    if (this.#size - this.#partsSize < min) return undefined;
    let body = this.#body;
    if (body === undefined) {
      body = Buffer.allocUnsafe(this.#size);
      let at = 0;
      for (const part of this.#parts) {
        body.set(part, at);
        at += part.length;
      }
      this.#parts = [];
      this.#body = body;
    }
    return body.subarray(this.#partsSize);
  }

  /** Forgets any partial packet and any earlier failure, as for a new connection. */
  reset(): void {
    this.#failure = undefined;
    this.#drop();
  }

  #drop(): void {
    this.#headerFilled = 0;
    this.#parts = [];
    this.#partsSize = 0;
    this.#body = undefined;
    this.#lineParts = undefined;
    this.#lineSize = 0;
  }

  /** Decodes `chunk`'s first `length` bytes (all of them, unless the fast path applies). */
  #consume(chunk: Buffer, length: number): void {
    let offset = 0;
    if (this.#lineParts !== undefined) {
      offset = this.#continueLine(chunk);
    } else if (this.#headerFilled > 0) {
      offset = this.#continuePacket(chunk);
    }

    // Fast path: whole packets inside this chunk are decoded in place.
    while (offset >= 0 && offset < length) {
      if (chunk[offset] !== 0 && this.#onText !== undefined) {
        offset = this.#readLine(chunk, offset);
        continue;
      }
      if (length - offset < HEADER_SIZE) {
        this.#startHeader(chunk, offset, length);
        return;
      }
      const size = this.#checkHeader(chunk, offset);
      const start = offset + HEADER_SIZE;
      const end = start + size;
      if (end > length) {
        this.#headerFilled = HEADER_SIZE;
        // A body wholly in the next chunk then stays a view of it, without a concat.
        if (start < length) this.#parts.push(chunk.subarray(start, length));
        this.#partsSize = length - start;
        return;
      }
      offset = end;
      this.#onPacket(this.#decode(chunk, start, end), this.#magic, chunk, start, end);
    }
  }

  /** Copies the first bytes of a header, checking the magic as far as it has come. */
  #startHeader(chunk: Buffer, offset: number, length: number): void {
    for (let i = offset; i < length; i++) this.#takeHeaderByte(chunk[i] as number);
  }

  #takeHeaderByte(byte: number): void {
    const at = this.#headerFilled;
    if (
      at < 3
        ? byte !== MAGIC_PREFIX[at]
        : at === 3 && byte !== MAGIC_LAST_REQ && byte !== MAGIC_LAST_RES
    ) {
      throw new ProtocolError('BAD_MAGIC', `bad magic byte 0x${byte.toString(16)} at offset ${at}`);
    }
    this.#header[at] = byte;
    this.#headerFilled = at + 1;
  }

  /** Continues a packet begun in an earlier chunk; returns where the rest of `chunk` starts. */
  #continuePacket(chunk: Buffer): number {
    let offset = 0;
    if (this.#headerFilled < HEADER_SIZE) {
      while (this.#headerFilled < HEADER_SIZE) {
        if (offset === chunk.length) return -1;
        this.#takeHeaderByte(chunk[offset++] as number);
      }
      this.#checkHeader(this.#header, 0);
    }
    const need = this.#size - this.#partsSize;
    const available = chunk.length - offset;
    if (this.#body !== undefined) return this.#continueBody(this.#body, chunk, offset, need);
    if (available < need) {
      if (available > 0) this.#parts.push(offset === 0 ? chunk : chunk.subarray(offset));
      this.#partsSize += available;
      return -1;
    }
    const parts = this.#parts;
    parts.push(chunk.subarray(offset, offset + need));
    this.#headerFilled = 0;
    this.#parts = [];
    this.#partsSize = 0;
    if (
      parts.length > 1 &&
      this.#onParts !== undefined &&
      this.#size >= this.#partsMin &&
      emitPayloadParts(
        parts,
        this.#number,
        this.#size,
        this.#partsMin,
        this.#decode,
        this.#magic,
        this.#onParts,
      )
    ) {
      return offset + need;
    }
    // Concatenate once, now that the whole body is here (postgres.js does the same).
    const body = parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts, this.#size);
    this.#onPacket(this.#decode(body, 0, body.length), this.#magic, body, 0, body.length);
    return offset + need;
  }

  /** `#continuePacket` for a body being assembled in place (see `readTarget()`). */
  #continueBody(body: Buffer, chunk: Buffer, offset: number, need: number): number {
    const take = Math.min(need, chunk.length - offset);
    // A chunk read into the target is in place already; any other chunk is copied in.
    const inPlace =
      chunk.buffer === body.buffer && chunk.byteOffset === body.byteOffset + this.#partsSize;
    if (!inPlace) chunk.copy(body, this.#partsSize, offset, offset + take);
    this.#partsSize += take;
    if (take < need) return -1;
    this.#headerFilled = 0;
    this.#partsSize = 0;
    this.#body = undefined;
    this.#onPacket(this.#decode(body, 0, body.length), this.#magic, body, 0, body.length);
    return offset + take;
  }

  /** Validates a complete header and records its type, magic and size; returns the size. */
  #checkHeader(buf: Buffer, offset: number): number {
    // The three words read byte by byte: `readUInt32BE` checks its offset on every call, and
    // the caller has made sure that the 12 bytes are there.
    const magic = word(buf, offset);
    if (magic !== MAGIC_REQ && magic !== MAGIC_RES) {
      throw new ProtocolError('BAD_MAGIC', `bad magic 0x${magic.toString(16).padStart(8, '0')}`);
    }
    const number = word(buf, offset + 4);
    const decode = this.#decoders[number];
    if (decode === undefined) {
      throw new ProtocolError('UNKNOWN_TYPE', `unknown packet type ${number}`);
    }
    const size = word(buf, offset + 8);
    if (size > this.#maxPacketSize) {
      throw new ProtocolError(
        'TOO_LARGE',
        `packet size ${size} exceeds maxPacketSize ${this.#maxPacketSize}`,
      );
    }
    this.#decode = decode;
    this.#number = number;
    this.#magic = magic === MAGIC_REQ ? 'REQ' : 'RES';
    this.#size = size;
    return size;
  }

  /** Reads a text line starting at `offset`; returns where the next unit starts, or -1. */
  #readLine(chunk: Buffer, offset: number): number {
    const newline = chunk.indexOf(LF, offset);
    if (newline === -1) {
      this.#lineParts = [];
      this.#keepLinePart(chunk.subarray(offset));
      return -1;
    }
    this.#checkLineLength(newline - offset);
    this.#emitLine(chunk, offset, newline);
    return newline + 1;
  }

  #continueLine(chunk: Buffer): number {
    const newline = chunk.indexOf(LF);
    if (newline === -1) {
      this.#keepLinePart(chunk);
      return -1;
    }
    this.#checkLineLength(this.#lineSize + newline);
    const parts = this.#lineParts ?? [];
    parts.push(chunk.subarray(0, newline));
    const line = Buffer.concat(parts);
    this.#lineParts = undefined;
    this.#lineSize = 0;
    this.#emitLine(line, 0, line.length);
    return newline + 1;
  }

  #keepLinePart(part: Buffer): void {
    this.#checkLineLength(this.#lineSize + part.length);
    this.#lineParts?.push(part);
    this.#lineSize += part.length;
  }

  #checkLineLength(length: number): void {
    if (length > this.#maxLineLength) {
      throw new ProtocolError(
        'LINE_TOO_LONG',
        `text line of ${length} bytes exceeds maxLineLength ${this.#maxLineLength}`,
      );
    }
  }

  #emitLine(buf: Buffer, start: number, newline: number): void {
    const end = newline > start && buf[newline - 1] === CR ? newline - 1 : newline;
    this.#onText?.(buf.toString('utf8', start, end));
  }
}
