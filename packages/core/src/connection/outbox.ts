import { Buffer } from 'node:buffer';
import type net from 'node:net';
import { encodePacketInto, encodePacketParts, type PacketInit } from '@gearmanode/protocol';
import { copyBytes } from '../bytes.js';

// The bytes a session has queued for its socket, written in one batch per flush. It knows
// nothing of requests or replies.

// A flush joins its frames into one buffer up to this many bytes; beyond, they go out as a
// corked writev, so that large payloads are never copied.
const JOIN_LIMIT = 64 * 1024;

// Small packets sent without a reply expected (WORK_*, CAN_DO, …) are encoded straight into
// this outbox slab, and small frames queued behind them are copied there, so that a flush of a
// WORK_COMPLETE and the next GRAB writes one view of the slab: no buffer per packet, and no
// second one to join them. A region once written is never written again; a slab with too little
// room left is replaced (the old one lives on while a write still holds a view of it).
const SLAB_SIZE = 16 * 1024;
// Below this much room left after a flush, the next packet starts a new slab.
const SLAB_MIN_ROOM = 1024;
// A queued frame up to this size is copied behind packets in the slab rather than cut after them.
const SLAB_COPY_LIMIT = 256;

/** Writes a packet of its own into the outbox (see `Session.sendFrame`). */
export interface FrameWriter {
  /** Writes the packet, header and body, into `target` from `at`: exactly the size announced. */
  writeFrame(target: Buffer, at: number): void;
}

/** The outgoing bytes of a session, in the order queued: frames, then the slab's queued bytes. */
export class Outbox {
  readonly #encodeOptions: { readonly maxPacketSize: number };
  /** The frame queued alone: most flushes write one frame, and then no array is made. */
  #single: Buffer | undefined;
  /** The frames queued when there are several. */
  #frames: Buffer[] = [];
  #framesBytes = 0;
  /**
   * The outbox slab (see SLAB_SIZE): `[#slabStart, #slabEnd)` is queued, after `#single` and
   * `#frames`. Made on the first packet encoded.
   */
  #slab: Buffer | undefined;
  /**
   * The slab's memory and where the slab starts in it, read once per slab: a view of the
   * queued bytes made from them skips `subarray`, which reads the slab's `buffer` (a call into
   * the runtime) on every view.
   */
  #slabMemory: ArrayBufferLike | undefined;
  #slabBase = 0;
  #slabStart = 0;
  #slabEnd = 0;

  constructor(encodeOptions: { readonly maxPacketSize: number }) {
    this.#encodeOptions = encodeOptions;
  }

  /**
   * Encodes and queues a packet, in the slab when it fits there.
   * @throws InvalidArgumentError when the packet cannot be encoded; nothing is queued then.
   */
  encode(packet: PacketInit): void {
    let slab = this.#slab;
    let end = -1;
    if (slab !== undefined)
      end = encodePacketInto(packet, slab, this.#slabEnd, this.#encodeOptions);
    if (end < 0 && (slab === undefined || slab.length - this.#slabEnd < SLAB_MIN_ROOM)) {
      // No slab yet, or little room left in it: a new one.
      this.#cut();
      slab = this.#newSlab();
      end = encodePacketInto(packet, slab, 0, this.#encodeOptions);
    }
    if (end < 0) {
      // Too large for a slab: a buffer of its own (and its payload uncopied, if large).
      this.enqueue(encodePacketParts(packet, this.#encodeOptions));
      return;
    }
    this.#slabEnd = end;
  }

  /** Queues a packet of `size` bytes that `writer` writes itself. */
  frame(size: number, writer: FrameWriter): void {
    let slab = this.#slab;
    let at = this.#slabEnd;
    if (slab === undefined || at + size > slab.length) {
      this.#cut();
      if (size > SLAB_SIZE - SLAB_MIN_ROOM) {
        const frame = Buffer.allocUnsafe(size);
        writer.writeFrame(frame, 0);
        this.enqueue([frame]);
        return;
      }
      slab = this.#newSlab();
      at = 0;
    }
    writer.writeFrame(slab, at);
    this.#slabEnd = at + size;
  }

  /** Queues frames encoded already; they are written as they are. */
  enqueue(parts: readonly Buffer[]): void {
    for (const part of parts) {
      const slabEnd = this.#slabEnd;
      if (slabEnd !== this.#slabStart) {
        // Behind packets in the slab: a small frame is copied after them, a large one cut after.
        const slab = this.#slab as Buffer;
        const length = part.length;
        if (length <= SLAB_COPY_LIMIT && slabEnd + length <= slab.length) {
          copyBytes(part, slab, slabEnd);
          this.#slabEnd = slabEnd + length;
          continue;
        }
        this.#cut();
      }
      if (this.#single === undefined && this.#frames.length === 0) {
        this.#single = part;
      } else {
        if (this.#single !== undefined) {
          this.#frames.push(this.#single);
          this.#single = undefined;
        }
        this.#frames.push(part);
      }
      this.#framesBytes += part.length;
    }
  }

  /** Moves the slab's queued bytes to the frames, behind what is there. */
  #cut(): void {
    const start = this.#slabStart;
    const end = this.#slabEnd;
    if (end === start) return;
    if (this.#single !== undefined) {
      this.#frames.push(this.#single);
      this.#single = undefined;
    }
    this.#frames.push(this.#slabView(start, end));
    this.#framesBytes += end - start;
    this.#slabStart = end;
  }

  /** A fresh slab, nothing queued in it. */
  #newSlab(): Buffer {
    const slab = Buffer.allocUnsafe(SLAB_SIZE);
    this.#slab = slab;
    this.#slabMemory = slab.buffer;
    this.#slabBase = slab.byteOffset;
    this.#slabStart = 0;
    this.#slabEnd = 0;
    return slab;
  }

  /** The slab's bytes `[start, end)`, as a view made from its memory (see `#slabMemory`). */
  #slabView(start: number, end: number): Buffer {
    return Buffer.from(this.#slabMemory as ArrayBufferLike, this.#slabBase + start, end - start);
  }

  /** Writes everything queued to `socket` in one batch. Returns false when nothing was queued. */
  writeTo(socket: net.Socket): boolean {
    const slabStart = this.#slabStart;
    const slabEnd = this.#slabEnd;
    if (slabEnd !== slabStart) {
      if (this.#single === undefined && this.#frames.length === 0) {
        // Only the slab's bytes: one view of them, the usual case of a worker.
        const slab = this.#slab as Buffer;
        this.#slabStart = slabEnd;
        if (slab.length - slabEnd < SLAB_MIN_ROOM) this.#slab = undefined;
        socket.write(this.#slabView(slabStart, slabEnd));
        return true;
      }
      this.#cut();
    }
    const single = this.#single;
    if (single !== undefined) {
      this.#single = undefined;
      this.#framesBytes = 0;
      socket.write(single);
    } else {
      const frames = this.#frames;
      if (frames.length === 0) return false;
      const bytes = this.#framesBytes;
      this.#frames = [];
      this.#framesBytes = 0;
      if (bytes <= JOIN_LIMIT) {
        // Small frames: one copy into one buffer is cheaper than a corked writev of many.
        socket.write(Buffer.concat(frames, bytes));
      } else {
        // Large payloads stay uncopied (encodePacketParts): one writev of the whole batch.
        socket.cork();
        for (const chunk of frames) socket.write(chunk);
        socket.uncork();
      }
    }
    return true;
  }

  /** Drops everything queued (the slab's bytes too: that region is not written again). */
  clear(): void {
    this.#single = undefined;
    this.#frames = [];
    this.#framesBytes = 0;
    this.#slabStart = this.#slabEnd;
  }
}
