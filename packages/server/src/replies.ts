import { Buffer } from 'node:buffer';
import {
  COPY_THRESHOLD,
  encodePacket,
  encodePacketParts,
  HEADER_SIZE,
  PACKET_TYPES,
  type PacketInit,
  type PacketOf,
  writeHeader,
} from '@gearmanode/protocol';
import type { Job, Peer } from './model.js';

/** The frames the server sends to peers: canned ones encoded once, and WORK_* forwarding. */

export const NOOP = encodePacket({ type: 'NOOP' });
export const NO_JOB = encodePacket({ type: 'NO_JOB' });

function error(code: string, message: string): Buffer {
  return encodePacket({ type: 'ERROR', code, message });
}

/** PROTOCOL section 8: codes and messages as gearmand 1.1.20 sends them. */
export const ERRORS = {
  INVALID_MAGIC: error('INVALID_MAGIC', 'Request magic expected'),
  INVALID_COMMAND: error('INVALID_COMMAND', 'Command not expected'),
  UNKNOWN_OPTION: error('UNKNOWN_OPTION', 'Server does not recognize given option'),
  UNIQUE_TOO_LARGE: error('ARGUMENT_TOO_LARGE', 'Unique value too large'),
  QUEUE_FULL: error('QUEUE_ERROR', 'Job queue is full'),
  /** The durable store could not write the job (not a gearmand message: it has none). */
  NOT_STORED: error('QUEUE_ERROR', 'Job could not be stored'),
  SHUTTING_DOWN: error('SHUTDOWN_GRACEFUL', 'Server is shutting down'),
  NOT_FOUND_DATA: error('JOB_NOT_FOUND', 'Job does not exist on server'),
  NOT_FOUND_RESULT: error('JOB_NOT_FOUND', 'Job given in work result not found'),
  NOT_FOUND_EXCEPTION: error(
    'JOB_NOT_FOUND',
    'An exception was received for a job that does not exist',
  ),
} as const;

/**
 * OPTION_RES echoing the request's body, built by hand: the body may end in NUL bytes, which
 * the encoder refuses in a name.
 */
export function optionResponse(option: string): Buffer {
  const body = Buffer.from(option, 'utf8');
  const frame = Buffer.allocUnsafe(HEADER_SIZE + body.length);
  writeHeader(frame, 0, 'RES', PACKET_TYPES.OPTION_RES.number, body.length);
  body.copy(frame, HEADER_SIZE);
  return frame;
}

/**
 * Sends a response whose payload goes out as its own chunk, without a copy. With
 * `payloadParts` (a payload kept as the chunks it arrived in), `packet.payload` is empty and
 * the parts follow the encoded head in order.
 */
export function sendParts(
  peer: Peer,
  packet: PacketInit,
  payloadParts?: readonly Buffer[] | undefined,
): void {
  const parts = encodePacketParts(packet);
  const head = parts[0];
  if (payloadParts === undefined) {
    peer.send(head);
    if (parts.length === 2) peer.send(parts[1]);
    return;
  }
  head.writeUInt32BE(head.length - HEADER_SIZE + sizeOf(payloadParts), 8);
  peer.send(head);
  for (let i = 0; i < payloadParts.length; i++) peer.send(payloadParts[i] as Buffer);
}

function sizeOf(parts: readonly Buffer[]): number {
  let size = 0;
  for (let i = 0; i < parts.length; i++) size += (parts[i] as Buffer).length;
  return size;
}

const JOB_CREATED = PACKET_TYPES.JOB_CREATED.number;
const JOB_ASSIGN = PACKET_TYPES.JOB_ASSIGN.number;
const JOB_ASSIGN_UNIQ = PACKET_TYPES.JOB_ASSIGN_UNIQ.number;

/**
 * Writes `text` at `offset` when it is ASCII (each UTF-16 unit one byte), as handles with the
 * default prefix are; false, with the bytes written so far to be thrown away, when it is not.
 */
function writeAscii(frame: Buffer, offset: number, text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code > 0x7f) return false;
    frame[offset + i] = code;
  }
  return true;
}

/** JOB_CREATED for `handle`, built by hand for an ASCII handle. */
export function jobCreated(handle: string): Buffer {
  const size = handle.length;
  const frame = Buffer.allocUnsafe(HEADER_SIZE + size);
  writeHeader(frame, 0, 'RES', JOB_CREATED, size);
  if (writeAscii(frame, HEADER_SIZE, handle)) return frame;
  return encodePacket({ type: 'JOB_CREATED', handle });
}

/**
 * JOB_ASSIGN (`unique` false) or JOB_ASSIGN_UNIQ for a job submitted as `wire`
 * (`function\0unique\0payload`, see `Job.wire`), in one buffer: the handle, then the wire's
 * bytes as they are, without the unique for JOB_ASSIGN. Undefined for a handle that is not
 * ASCII (the caller encodes the packet instead).
 */
export function jobAssign(handle: string, wire: Buffer, unique: boolean): Buffer | undefined {
  // JOB_ASSIGN leaves out the unique: the bytes from the function name's NUL to the next one.
  let cutStart = 0;
  let cutEnd = 0;
  if (!unique) {
    cutStart = wire.indexOf(0);
    cutEnd = wire.indexOf(0, cutStart + 1);
  }
  const fieldsAt = HEADER_SIZE + handle.length + 1;
  const size = handle.length + 1 + wire.length - (cutEnd - cutStart);
  const frame = Buffer.allocUnsafe(HEADER_SIZE + size);
  writeHeader(frame, 0, 'RES', unique ? JOB_ASSIGN_UNIQ : JOB_ASSIGN, size);
  if (!writeAscii(frame, HEADER_SIZE, handle)) return undefined;
  frame[fieldsAt - 1] = 0;
  if (unique) frame.set(wire, fieldsAt);
  else {
    frame.set(wire.subarray(0, cutStart), fieldsAt);
    frame.set(wire.subarray(cutEnd), fieldsAt + cutStart);
  }
  return frame;
}

/** WORK_FAIL for a job: the bare handle. */
export function failOf(job: Job): PacketInit {
  return { type: 'WORK_FAIL', handle: job.handle };
}

/** Options for forwarding WORK_* packets to clients: made once, not per packet. */
const AS_RESPONSE = { magic: 'RES' } as const;

/** Sends one frame to every waiter of a job. */
export function broadcast(job: Job, frame: Buffer): void {
  for (const waiter of job.waiters) waiter.send(frame);
}

/**
 * Sends one packet to every waiter, once per submission
 * ([protocol.md 4.3](https://github.com/gearmanode/gearmanode/blob/main/docs/protocol.md#43-unique-ids-and-de-duplication-coalescing)),
 * pausing `source` (the worker) while a waiter is congested.
 */
export function forward(source: Peer, job: Job, packet: PacketInit): void {
  const parts = encodePacketParts(packet, AS_RESPONSE);
  for (const waiter of job.waiters) {
    for (const part of parts) waiter.send(part);
    if (waiter !== source && waiter.congested) source.pauseUntilDrained(waiter);
  }
}

/**
 * A WORK_DATA, WORK_WARNING or WORK_COMPLETE to every waiter: as received (`forwardBody`) when
 * the worker's bytes are at hand, encoded again (`forward`) otherwise. With `payloadParts` (the
 * decoder's `onPayloadParts`), `body[start..end)` holds the fields before the payload, and the
 * parts are forwarded as they are, never joined.
 */
export function forwardResult(
  source: Peer,
  job: Job,
  packet: PacketOf<'WORK_DATA' | 'WORK_WARNING' | 'WORK_COMPLETE'>,
  body: Buffer | undefined,
  start: number,
  end: number,
  payloadParts?: readonly Buffer[] | undefined,
): void {
  const type = PACKET_TYPES[packet.type].number;
  if (payloadParts !== undefined && body !== undefined) {
    const size = end - start + sizeOf(payloadParts);
    sendToWaiters(source, job, resultHead(type, size, body, start, end), payloadParts);
  } else if (body === undefined) forward(source, job, packet);
  else forwardBody(source, job, type, body, start, end, packet.payload);
}

/** A result's header under the RES magic, followed by `body[start..end)` copied. */
function resultHead(type: number, size: number, body: Buffer, start: number, end: number): Buffer {
  const head = Buffer.allocUnsafe(HEADER_SIZE + end - start);
  writeHeader(head, 0, 'RES', type, size);
  body.copy(head, HEADER_SIZE, start, end);
  return head;
}

/** Sends `head` then `rest` to every waiter, pausing `source` while a waiter is congested. */
function sendToWaiters(source: Peer, job: Job, head: Buffer, rest: readonly Buffer[]): void {
  const waiters = job.waiters;
  for (let i = 0; i < waiters.length; i++) {
    const waiter = waiters[i] as Peer;
    waiter.send(head);
    for (let j = 0; j < rest.length; j++) waiter.send(rest[j] as Buffer);
    if (waiter !== source && waiter.congested) source.pauseUntilDrained(waiter);
  }
}

/**
 * Forwards a WORK_DATA, WORK_WARNING or WORK_COMPLETE to every waiter as `forward` does, from
 * the bytes the worker sent (`body[start..end)`, with `payload` its last field): a client gets
 * the same body under the RES magic, so it is copied, not decoded and encoded again. A payload
 * of at least 64 KiB goes out uncopied after a head holding the header and the handle.
 */
function forwardBody(
  source: Peer,
  job: Job,
  type: number,
  body: Buffer,
  start: number,
  end: number,
  payload: Buffer,
): void {
  const size = end - start;
  const split = payload.length >= COPY_THRESHOLD;
  const copied = split ? size - payload.length : size;
  const head = resultHead(type, size, body, start, start + copied);
  const waiters = job.waiters;
  for (let i = 0; i < waiters.length; i++) {
    const waiter = waiters[i] as Peer;
    waiter.send(head);
    if (split) waiter.send(payload);
    if (waiter !== source && waiter.congested) source.pauseUntilDrained(waiter);
  }
}

/** WORK_EXCEPTION to waiters that asked for exceptions, WORK_FAIL (bare handle) to others. */
export function forwardException(source: Peer, job: Job, packet: PacketOf<'WORK_EXCEPTION'>): void {
  let exception: [Buffer] | [Buffer, Buffer] | undefined;
  let fail: Buffer | undefined;
  for (const waiter of job.waiters) {
    if (waiter.exceptions) {
      exception ??= encodePacketParts(packet, AS_RESPONSE);
      for (const part of exception) waiter.send(part);
    } else {
      fail ??= encodePacket(failOf(job), AS_RESPONSE);
      waiter.send(fail);
    }
    if (waiter !== source && waiter.congested) source.pauseUntilDrained(waiter);
  }
}
