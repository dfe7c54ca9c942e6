import { expect } from 'vitest';
import { type DecoderOptions, type Magic, type Packet, PacketDecoder } from '../src/index.js';

/** A packet as the decoder reports it, with the magic it arrived under. */
export interface Decoded {
  packet: Packet;
  magic: Magic;
}

/** Pushes `chunks` in order through one fresh decoder and returns what it emitted. */
export function decodeAll(chunks: readonly Buffer[], options?: DecoderOptions): Decoded[] {
  const out: Decoded[] = [];
  const decoder = new PacketDecoder((packet, magic) => out.push({ packet, magic }), options);
  for (const chunk of chunks) decoder.push(chunk);
  return out;
}

/** Like `decodeAll`, but only the packets. */
export function decodeChunks(chunks: readonly Buffer[], options?: DecoderOptions): Packet[] {
  return decodeAll(chunks, options).map((decoded) => decoded.packet);
}

/** `bytes` as one chunk per byte. */
export function everyByte(bytes: Buffer): Buffer[] {
  const chunks: Buffer[] = [];
  for (let i = 0; i < bytes.length; i++) chunks.push(bytes.subarray(i, i + 1));
  return chunks;
}

/** `bytes` cut at the given offsets (sorted, each within 0..length). */
export function splitAt(bytes: Buffer, offsets: readonly number[]): Buffer[] {
  const chunks: Buffer[] = [];
  let from = 0;
  for (const offset of offsets) {
    chunks.push(bytes.subarray(from, offset));
    from = offset;
  }
  chunks.push(bytes.subarray(from));
  return chunks;
}

/** Calls `fn` and returns what it threw; fails when it returns normally. */
export function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw, but the call returned');
}

/**
 * Asserts two byte sequences are equal. `toEqual` compares large Buffers element by element,
 * which takes most of a second at 64 KiB; `equals` is a memcmp, and the matcher runs only to
 * show the difference.
 */
export function expectBytes(actual: Uint8Array | undefined, expected: Uint8Array): void {
  if (
    actual === undefined ||
    !Buffer.from(actual.buffer, actual.byteOffset, actual.byteLength).equals(expected)
  ) {
    expect(actual).toEqual(expected);
  }
}
