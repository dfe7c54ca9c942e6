import type { Buffer } from 'node:buffer';
import { type BodyEncoder, buildBodyEncoders, type Tail } from './body-encoders.js';
import { InvalidArgumentError } from './errors.js';
import { MAX_WIRE_SIZE } from './header.js';
import { COPY_THRESHOLD } from './limits.js';
import { allowsMagic, type Magic, PACKET_TYPES, type PacketInit } from './packet-types.js';

/** Options for `encodePacket` and `encodePacketParts`. */
export interface EncodeOptions {
  /**
   * The magic to send under. Only the WORK_* packets may choose; the rest have one magic.
   * @default the packet type's own magic, `REQ` for the WORK_* packets
   */
  magic?: Magic;
  /** Refuse bodies larger than this many bytes. @default 4294967295 (what the header can hold) */
  maxPacketSize?: number;
}

/**
 * Encodes a packet into one Buffer: the header and body in a single allocation.
 *
 * @throws InvalidArgumentError (`ERR_INVALID_ARGUMENT`) naming the field at fault: a NUL byte in
 *   a name, a unique or reducer over 63 bytes, a number that is not a non-negative integer, a
 *   body over `maxPacketSize`, or a magic the packet type cannot travel under.
 * @example encodePacket({ type: 'SUBMIT_JOB', functionName: 'resize', unique: '', payload: img })
 */
export function encodePacket(packet: PacketInit, options?: EncodeOptions): Buffer {
  const parts = encode(packet, options, Number.POSITIVE_INFINITY);
  return parts[0];
}

/**
 * Encodes a packet as one chunk, or as two when the payload is at least 64 KiB: the header with
 * the leading fields, then the caller's payload itself, not copied. Write both, in order (a
 * socket's `cork()`/`uncork()` or `writev` keeps them in one send).
 *
 * @throws InvalidArgumentError as `encodePacket` does.
 */
export function encodePacketParts(
  packet: PacketInit,
  options?: EncodeOptions,
): [Buffer] | [Buffer, Buffer] {
  return encode(packet, options, COPY_THRESHOLD);
}

/**
 * Encodes a packet into `target` at `offset`, header and body, without a new buffer. Returns
 * the offset just past it, or -1 when it does not fit before `target`'s end: nothing is written
 * then, and the caller encodes it elsewhere. For callers that batch many small packets into
 * one buffer of their own (a connection's outbox).
 *
 * @throws InvalidArgumentError as `encodePacket` does, whether or not the packet fits.
 */
export function encodePacketInto(
  packet: PacketInit,
  target: Buffer,
  offset: number,
  options?: EncodeOptions,
): number {
  encodeWith(packet, options, Number.POSITIVE_INFINITY, target, offset);
  return tail.end as number;
}

interface TypeEncoder {
  encode: BodyEncoder;
  /** The magic's last byte when the caller names none. */
  defaultMagic: number;
  allowsReq: boolean;
  allowsRes: boolean;
}

const MAGIC_BYTE_REQ = 0x51; // 'Q'
const MAGIC_BYTE_RES = 0x53; // 'S'

// A Map, not an object: a type named `toString` or `__proto__` finds nothing.
const ENCODERS = new Map<string, TypeEncoder>(
  [...buildBodyEncoders()].map(([type, encode]) => [
    type,
    {
      encode,
      defaultMagic: PACKET_TYPES[type].magic === 'RES' ? MAGIC_BYTE_RES : MAGIC_BYTE_REQ,
      allowsReq: allowsMagic(type, 'REQ'),
      allowsRes: allowsMagic(type, 'RES'),
    },
  ]),
);

// Where the type's encoder leaves a payload it did not copy, and where the packet ended.
const tail: Tail = { buffer: undefined, end: 0 };

function encode(
  packet: PacketInit,
  options: EncodeOptions | undefined,
  copyThreshold: number,
): [Buffer] | [Buffer, Buffer] {
  const head = encodeWith(packet, options, copyThreshold, undefined, 0);
  const payload = tail.buffer;
  if (payload === undefined) return [head];
  tail.buffer = undefined;
  return [head, payload];
}

function encodeWith(
  packet: PacketInit,
  options: EncodeOptions | undefined,
  copyThreshold: number,
  out: Buffer | undefined,
  at: number,
): Buffer {
  const type = ENCODERS.get(packet.type);
  if (type === undefined) {
    throw new InvalidArgumentError('type', `unknown packet type ${String(packet.type)}`);
  }
  let magicByte = type.defaultMagic;
  let maxSize = MAX_WIRE_SIZE;
  if (options !== undefined) {
    const { magic } = options;
    if (magic === 'REQ' && type.allowsReq) magicByte = MAGIC_BYTE_REQ;
    else if (magic === 'RES' && type.allowsRes) magicByte = MAGIC_BYTE_RES;
    else if (magic !== undefined) {
      throw new InvalidArgumentError('magic', `${packet.type} cannot be sent as ${magic}`);
    }
    if (options.maxPacketSize !== undefined) {
      maxSize = Math.min(options.maxPacketSize, MAX_WIRE_SIZE);
    }
  }
  return type.encode(packet, magicByte, maxSize, copyThreshold, tail, out, at);
}
