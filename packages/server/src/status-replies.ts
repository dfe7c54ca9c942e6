import { encodePacket, MAX_UNIQUE_SIZE, type PacketOf } from '@gearmanode/protocol';
import { type JobStore, longerThan } from './job-store.js';
import type { Job, Peer } from './model.js';
import { ERRORS, optionResponse } from './replies.js';

// The requests a peer asks about a job or its own connection, answered at once
// (protocol.md 4.4): GET_STATUS, GET_STATUS_UNIQUE and OPTION_REQ.

/** GET_STATUS: what the store knows of `handle`. */
export function answerStatus(store: JobStore, peer: Peer, handle: string): void {
  const job = store.find(handle);
  peer.send(encodePacket({ type: 'STATUS_RES', handle, ...statusOf(job) }));
}

/** GET_STATUS_UNIQUE: the same for a unique, with how many clients wait on its job. */
export function answerStatusUnique(store: JobStore, peer: Peer, unique: string): void {
  // gearmand 1.1.20 does not answer at all here (section 11, item 8); an ERROR is better.
  if (longerThan(unique, MAX_UNIQUE_SIZE)) {
    peer.send(ERRORS.UNIQUE_TOO_LARGE);
    return;
  }
  const job = store.findUnique(unique);
  peer.send(
    encodePacket({
      type: 'STATUS_RES_UNIQUE',
      unique,
      ...statusOf(job),
      waitingClients: job?.waiters.length ?? 0,
    }),
  );
}

/** OPTION_REQ: `exceptions`, in any case, is the only option; the answer echoes the body. */
export function answerOption(peer: Peer, option: string): void {
  if (option.replace(/\0+$/, '').toLowerCase() !== 'exceptions') {
    peer.send(ERRORS.UNKNOWN_OPTION);
    return;
  }
  peer.exceptions = true;
  peer.send(optionResponse(option));
}

/** The fields STATUS_RES and STATUS_RES_UNIQUE share. */
function statusOf(job: Job | undefined): Omit<PacketOf<'STATUS_RES'>, 'type' | 'handle'> {
  return {
    known: job !== undefined,
    running: job !== undefined && job.worker !== null,
    numerator: job?.numerator ?? 0,
    denominator: job?.denominator ?? 0,
  };
}
