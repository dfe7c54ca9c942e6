import { Buffer } from 'node:buffer';
import { ownPayload, type Packet, type PacketOf } from '@gearmanode/protocol';

/** A reply that assigns a job: to GRAB_JOB_ALL, GRAB_JOB_UNIQ or plain GRAB_JOB. */
export type Assignment =
  | PacketOf<'JOB_ASSIGN_ALL'>
  | PacketOf<'JOB_ASSIGN_UNIQ'>
  | PacketOf<'JOB_ASSIGN'>;

/**
 * Whether a GRAB's reply assigns a job, or is NO_JOB: the only other reply the connection lets
 * through for a GRAB.
 */
export function isAssignment(packet: Packet): packet is Assignment {
  const type = packet.type;
  return type === 'JOB_ASSIGN_UNIQ' || type === 'JOB_ASSIGN_ALL' || type === 'JOB_ASSIGN';
}

/** The unique of an assigned job: `''` from plain JOB_ASSIGN, which carries none. */
export function uniqueOf(packet: Assignment): string {
  return packet.type === 'JOB_ASSIGN' ? '' : packet.unique;
}

/** The reducer of an assigned job: only JOB_ASSIGN_ALL carries one, `''` otherwise. */
export function reducerOf(packet: Assignment): string {
  return packet.type === 'JOB_ASSIGN_ALL' ? packet.reducer : '';
}

// At or below this size a payload is copied without asking what it is a view of.
const SMALL_PAYLOAD = 4096;

/**
 * An assigned job's payload, copied out of the socket's read buffer when it would pin a large
 * one (`ownPayload`). A small payload is copied whatever it views: the decoder hands it out as a
 * view of its 64 KiB read buffer, which `ownPayload` would copy too, and reading a view's
 * `buffer` to find that out costs more than the copy.
 */
export function jobPayload(view: Buffer): Buffer {
  if (view.byteLength > SMALL_PAYLOAD) return ownPayload(view);
  const copy = Buffer.allocUnsafe(view.byteLength);
  copy.set(view);
  return copy;
}
