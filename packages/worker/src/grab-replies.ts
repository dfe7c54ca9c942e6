import { ownPayload, type Packet } from '@gearmanode/protocol';
import type { JobFields } from './job.js';

/**
 * What a GRAB's reply assigns: the job's fields from JOB_ASSIGN_ALL, JOB_ASSIGN_UNIQ or
 * JOB_ASSIGN (the reply to a plain GRAB_JOB, which carries no unique: `''`), or undefined for
 * NO_JOB. The payload is copied out of the socket's read buffer when it would pin a large one.
 */
export function assignment(packet: Packet): JobFields | undefined {
  switch (packet.type) {
    case 'JOB_ASSIGN_ALL':
      return fields(packet, packet.unique, packet.reducer);
    case 'JOB_ASSIGN_UNIQ':
      return fields(packet, packet.unique, '');
    case 'JOB_ASSIGN':
      return fields(packet, '', '');
    default:
      // NO_JOB: the only other reply the connection lets through for a GRAB.
      return undefined;
  }
}

function fields(
  packet: { handle: string; functionName: string; payload: Buffer },
  unique: string,
  reducer: string,
): JobFields {
  const { handle, functionName: name, payload } = packet;
  return { name, handle, unique, reducer, payload: ownPayload(payload) };
}
