import { Buffer } from 'node:buffer';
import { copyBytes, type FrameWriter } from '@gearmanode/core';
import {
  type BodyDecoder,
  HEADER_SIZE,
  PACKET_TYPES,
  type Packet,
  parseBody,
  writeHeader,
} from '@gearmanode/protocol';
import { jobPayload } from './grab-replies.js';

// A job's handle and unique are kept as the bytes the server sent, copied into a shared pool,
// and become strings only when asked for: most jobs are settled with WORK_COMPLETE, which is
// written from the handle's bytes (`CompleteWriter`), and nobody ever reads them. That saves a
// string per field and job, made by a call into the runtime, and turning the handle back into
// bytes for every report.

/** The pool the bytes are copied into; a new one starts when it is full. */
const POOL_SIZE = 8 * 1024;
/** Fields longer than this (a malformed or unusual body) are decoded as strings at once. */
const MAX_KEPT = 128;

let pool = Buffer.allocUnsafe(POOL_SIZE);
let poolUsed = 0;

/**
 * A JOB_ASSIGN or JOB_ASSIGN_UNIQ with its handle and unique kept as bytes (`handle` and
 * `unique` decode them on each read, as the protocol's decoder would have) and its payload
 * already copied out of the read buffer (`jobPayload`).
 */
export class RawAssignment {
  readonly type: 'JOB_ASSIGN' | 'JOB_ASSIGN_UNIQ';
  readonly functionName: string;
  readonly payload: Buffer;
  /** The pool holding the handle at `[handleStart, handleEnd)`, then the unique up to `uniqueEnd`. */
  readonly bytes: Buffer;
  readonly handleStart: number;
  readonly handleEnd: number;
  readonly uniqueEnd: number;

  constructor(
    type: 'JOB_ASSIGN' | 'JOB_ASSIGN_UNIQ',
    functionName: string,
    payload: Buffer,
    bytes: Buffer,
    handleStart: number,
    handleEnd: number,
    uniqueEnd: number,
  ) {
    this.type = type;
    this.functionName = functionName;
    this.payload = payload;
    this.bytes = bytes;
    this.handleStart = handleStart;
    this.handleEnd = handleEnd;
    this.uniqueEnd = uniqueEnd;
  }

  get handle(): string {
    return this.bytes.toString('utf8', this.handleStart, this.handleEnd);
  }

  get unique(): string {
    return this.bytes.toString('utf8', this.handleEnd, this.uniqueEnd);
  }
}

/** At or below this size a payload is copied without a view of it first. */
const SMALL_PAYLOAD = 64;

/** The payload `buf[from, end)` in a buffer of its own (see `jobPayload`). */
function ownedPayload(buf: Buffer, from: number, end: number): Buffer {
  const length = end - from;
  if (length > SMALL_PAYLOAD) return jobPayload(buf.subarray(from, end));
  const payload = Buffer.allocUnsafe(length);
  copyBytes(buf, payload, 0, from, end);
  return payload;
}

/** The NUL ending the field that starts at `from`, looked for up to `limit`; -1 if none. */
function nulBefore(buf: Buffer, from: number, limit: number): number {
  for (let i = from; i < limit; i++) if (buf[i] === 0) return i;
  return -1;
}

// The function name of the last assignment, as bytes and as the string: a worker is handed the
// same few names again and again.
const lastNameBytes = Buffer.alloc(MAX_KEPT);
let lastNameLength = -1;
let lastName = '';

/** The end (its NUL) of the last assignment's function name if `buf[from, …)` holds it; else -1. */
function lastNameEnd(buf: Buffer, from: number, end: number): number {
  const length = lastNameLength;
  const nul = from + length;
  if (length < 0 || nul >= end) return -1;
  for (let i = 0; i < length; i++) if (buf[from + i] !== lastNameBytes[i]) return -1;
  return buf[nul] === 0 ? nul : -1;
}

function rememberName(buf: Buffer, from: number, to: number): string {
  const name = buf.toString('utf8', from, to);
  buf.copy(lastNameBytes, 0, from, to);
  lastNameLength = to - from;
  lastName = name;
  return name;
}

// Where `keepField` left off: the pool offset after the field's bytes. A module variable rather
// than a returned pair, which would be an object per field.
let keptEnd = 0;

/**
 * Copies the field at `buf[from, …)` into `bytes` at `at` while looking for its NUL, up to
 * `limit`: one pass over the field rather than a search and then a copy. Returns the NUL's
 * offset (-1 if none), and leaves the pool offset after the copy in `keptEnd`.
 */
function keepField(buf: Buffer, from: number, limit: number, bytes: Buffer, at: number): number {
  let i = from;
  let to = at;
  for (; i < limit; i++) {
    const byte = buf[i] as number;
    if (byte === 0) {
      keptEnd = to;
      return i;
    }
    bytes[to++] = byte;
  }
  return -1;
}

function decodeAssignment(
  type: 'JOB_ASSIGN' | 'JOB_ASSIGN_UNIQ',
  buf: Buffer,
  start: number,
  end: number,
): Packet {
  // Room for the longest handle and unique kept, so that both are copied as they are found.
  if (poolUsed + 2 * MAX_KEPT > POOL_SIZE) {
    pool = Buffer.allocUnsafe(POOL_SIZE);
    poolUsed = 0;
  }
  const bytes = pool;
  const handleStart = poolUsed;
  const handleEnd = keepField(buf, start, Math.min(end, start + MAX_KEPT), bytes, handleStart);
  const handleAt = keptEnd;
  const nameStart = handleEnd + 1;
  let nameEnd = -1;
  let known = false;
  if (handleEnd >= 0) {
    nameEnd = lastNameEnd(buf, nameStart, end);
    known = nameEnd >= 0;
    if (!known) nameEnd = nulBefore(buf, nameStart, Math.min(end, nameStart + MAX_KEPT));
  }
  let uniqueEnd = nameEnd;
  let at = handleAt;
  if (type === 'JOB_ASSIGN_UNIQ' && nameEnd >= 0) {
    const uniqueStart = nameEnd + 1;
    uniqueEnd = keepField(buf, uniqueStart, Math.min(end, uniqueStart + MAX_KEPT), bytes, at);
    at = keptEnd;
  }
  // Anything unusual (a field missing, or longer than kept) goes the protocol's way: the same
  // packet with strings, or the same ProtocolError. What was copied is left behind unused.
  if (uniqueEnd < 0) return parseBody(type, buf, start, end);
  poolUsed = at;
  const name = known ? lastName : rememberName(buf, nameStart, nameEnd);
  const payload = ownedPayload(buf, uniqueEnd + 1, end);
  const raw = new RawAssignment(type, name, payload, bytes, handleStart, handleAt, at);
  // Read through the Packet type like any assignment: `handle` and `unique` are getters.
  return raw as unknown as Packet;
}

/** The worker's decoders of JOB_ASSIGN and JOB_ASSIGN_UNIQ, for its connections. */
export const ASSIGNMENT_DECODERS: { readonly [type: string]: BodyDecoder } = {
  JOB_ASSIGN: (buf, start, end) => decodeAssignment('JOB_ASSIGN', buf, start, end),
  JOB_ASSIGN_UNIQ: (buf, start, end) => decodeAssignment('JOB_ASSIGN_UNIQ', buf, start, end),
};

const WORK_COMPLETE = PACKET_TYPES.WORK_COMPLETE.number;

/** The size of WORK_COMPLETE for `raw`'s handle and `result`, header included. */
export function completeSize(raw: RawAssignment, result: Uint8Array): number {
  return HEADER_SIZE + raw.handleEnd - raw.handleStart + 1 + result.length;
}

/**
 * Writes WORK_COMPLETE from a job's handle bytes, for `Connection.sendFrame`. One shared
 * instance: `job` and `result` are set just before the (synchronous) call and cleared after.
 */
export class CompleteWriter implements FrameWriter {
  raw: RawAssignment | undefined;
  result: Uint8Array | undefined;

  writeFrame(target: Buffer, at: number): void {
    const raw = this.raw as RawAssignment;
    const result = this.result as Uint8Array;
    const handleStart = raw.handleStart;
    const handleEnd = raw.handleEnd;
    writeHeader(target, at, 'REQ', WORK_COMPLETE, handleEnd - handleStart + 1 + result.length);
    const nul = at + HEADER_SIZE + handleEnd - handleStart;
    copyBytes(raw.bytes, target, at + HEADER_SIZE, handleStart, handleEnd);
    target[nul] = 0;
    copyBytes(result, target, nul + 1);
  }
}
