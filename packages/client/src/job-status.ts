import { Buffer } from 'node:buffer';
import {
  checkUnique,
  InvalidArgumentError,
  type Packet,
  type PacketInit,
} from '@gearmanode/protocol';
import type { JobStatus, UniqueJobStatus } from './client-types.js';

/**
 * Checks a `getStatus()` query and builds its request: GET_STATUS for a handle (`unique` '',
 * every server is asked) or GET_STATUS_UNIQUE (`unique` routes it).
 */
export function statusRequest(query: string | { unique: string }): {
  packet: PacketInit;
  unique: string;
} {
  if (typeof query === 'string') {
    if (query === '' || query.includes('\0') || Buffer.byteLength(query) > 63) {
      throw new InvalidArgumentError('handle', 'must be 1 to 63 bytes without NUL');
    }
    return { packet: { type: 'GET_STATUS', handle: query }, unique: '' };
  }
  if (query === null || typeof query !== 'object') {
    throw new InvalidArgumentError('query', 'must be a handle or { unique }');
  }
  const unique = checkUnique(query.unique);
  return { packet: { type: 'GET_STATUS_UNIQUE', unique }, unique };
}

/**
 * Merges the servers' answers: the first that knows the job, else the first error, else the
 * first "unknown".
 */
export function mergeStatus(
  answers: readonly PromiseSettledResult<Packet>[],
): JobStatus | UniqueJobStatus {
  let firstError: unknown;
  let firstAnswer: JobStatus | UniqueJobStatus | undefined;
  for (const answer of answers) {
    if (answer.status === 'rejected') {
      firstError ??= answer.reason;
      continue;
    }
    const status = toStatus(answer.value);
    if (status.known) return status;
    firstAnswer ??= status;
  }
  // A server that failed may be the one that knows the job: "unknown" would be a guess.
  if (firstError !== undefined) throw firstError;
  return firstAnswer as JobStatus | UniqueJobStatus;
}

function toStatus(packet: Packet): JobStatus | UniqueJobStatus {
  if (packet.type === 'STATUS_RES') {
    const { handle, known, running, numerator, denominator } = packet;
    return { handle, known, running, numerator, denominator };
  }
  if (packet.type === 'STATUS_RES_UNIQUE') {
    const { unique, known, running, numerator, denominator, waitingClients } = packet;
    return { unique, known, running, numerator, denominator, waitingClients };
  }
  throw new InvalidArgumentError('reply', `unexpected ${packet.type}`);
}
