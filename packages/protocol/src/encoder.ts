import { Buffer } from 'node:buffer';
import { InvalidArgumentError } from './errors.js';
import { HEADER_SIZE, MAGIC_REQ, MAGIC_RES, MAX_WIRE_SIZE } from './header.js';
import { COPY_THRESHOLD, MAX_REDUCER_SIZE, MAX_STATUS_NUMBER, MAX_UNIQUE_SIZE } from './limits.js';
import {
  allowsMagic,
  FIELD_KINDS,
  type FieldName,
  type Magic,
  PACKET_TYPES,
  type PacketInit,
} from './packet-types.js';

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

const MAX_FIELD_SIZE: Partial<Record<FieldName, number>> = {
  unique: MAX_UNIQUE_SIZE,
  reducer: MAX_REDUCER_SIZE,
};
const STATUS_FIELDS: ReadonlySet<FieldName> = new Set(['numerator', 'denominator']);

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

// Scratch space for the field values while sizing them, so that encoding allocates no arrays.
const values: (string | Uint8Array)[] = [];

function encode(
  packet: PacketInit,
  options: EncodeOptions | undefined,
  copyThreshold: number,
): [Buffer] | [Buffer, Buffer] {
  // Own properties only: `toString` or `__proto__` would find Object.prototype's members.
  const spec = Object.hasOwn(PACKET_TYPES, packet.type) ? PACKET_TYPES[packet.type] : undefined;
  if (spec === undefined) {
    throw new InvalidArgumentError('type', `unknown packet type ${String(packet.type)}`);
  }
  const magic = options?.magic ?? (spec.magic === 'RES' ? 'RES' : 'REQ');
  if ((magic !== 'REQ' && magic !== 'RES') || !allowsMagic(packet.type, magic)) {
    throw new InvalidArgumentError('magic', `${packet.type} cannot be sent as ${magic}`);
  }
  const fields: readonly FieldName[] = spec.fields;
  const last = fields.length - 1;
  const record = packet as unknown as Record<string, unknown>;

  let bodySize = Math.max(last, 0); // one NUL after every field but the last
  try {
    for (let i = 0; i <= last; i++) {
      const name = fields[i] as FieldName;
      const value = toWire(name, record[name]);
      const size = typeof value === 'string' ? Buffer.byteLength(value) : value.byteLength;
      const max = MAX_FIELD_SIZE[name];
      if (max !== undefined && size > max) {
        throw new InvalidArgumentError(name, `${size} bytes exceeds the limit of ${max} bytes`);
      }
      values[i] = value;
      bodySize += size;
    }
    const maxSize = Math.min(options?.maxPacketSize ?? MAX_WIRE_SIZE, MAX_WIRE_SIZE);
    if (bodySize > maxSize) {
      throw new InvalidArgumentError(
        'payload',
        `packet size ${bodySize} exceeds maxPacketSize ${maxSize}`,
      );
    }
  } catch (error) {
    values.length = 0; // do not pin the caller's payload until the next encode
    throw error;
  }

  const lastValue = last >= 0 ? values[last] : undefined;
  const split = lastValue instanceof Uint8Array && lastValue.byteLength >= copyThreshold;
  const headSize = HEADER_SIZE + bodySize - (split ? lastValue.byteLength : 0);
  const head = Buffer.allocUnsafe(headSize);
  head.writeUInt32BE(magic === 'REQ' ? MAGIC_REQ : MAGIC_RES, 0);
  head.writeUInt32BE(spec.number, 4);
  head.writeUInt32BE(bodySize, 8);

  let offset = HEADER_SIZE;
  for (let i = 0; i <= last; i++) {
    const value = values[i] as string | Uint8Array;
    if (i === last && split) break;
    if (typeof value === 'string') {
      offset += head.write(value, offset, 'utf8');
    } else {
      head.set(value, offset);
      offset += value.byteLength;
    }
    if (i < last) head[offset++] = 0;
  }
  values.length = 0;

  if (split) {
    const payload = lastValue as Uint8Array;
    return [head, Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength)];
  }
  return [head];
}

/** Turns a field's value into what goes on the wire, checking it on the way. */
function toWire(name: FieldName, value: unknown): string | Uint8Array {
  switch (FIELD_KINDS[name]) {
    case 'string':
      if (typeof value !== 'string') {
        throw new InvalidArgumentError(name, `expected a string, got ${describe(value)}`);
      }
      // PROTOCOL section 2.1: only the last field may hold NUL bytes, and names never do.
      if (value.includes('\0')) {
        throw new InvalidArgumentError(name, 'must not contain a NUL byte');
      }
      return value;
    case 'number': {
      const max = STATUS_FIELDS.has(name) ? MAX_STATUS_NUMBER : Number.MAX_SAFE_INTEGER;
      if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > max) {
        throw new InvalidArgumentError(
          name,
          `expected an integer from 0 to ${max}, got ${describe(value)}`,
        );
      }
      return String(value);
    }
    case 'boolean':
      if (typeof value !== 'boolean') {
        throw new InvalidArgumentError(name, `expected a boolean, got ${describe(value)}`);
      }
      return value ? '1' : '0';
    case 'data':
      if (typeof value === 'string' || value instanceof Uint8Array) return value;
      throw new InvalidArgumentError(
        name,
        `expected a string or Uint8Array, got ${describe(value)}`,
      );
  }
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'number') return String(value);
  return typeof value === 'object' ? (value.constructor?.name ?? 'object') : typeof value;
}
