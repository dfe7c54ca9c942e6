import type { Packet } from '@gearmanode/protocol';
import type { Submission } from './submission.js';

/**
 * Several submissions of one connection that share a handle: coalesced submits of the same
 * unique. gearmand sends every WORK_* packet once per submission
 * ([protocol.md section 11](https://github.com/gearmanode/gearmanode/blob/main/docs/protocol.md#11-gearmand-1120-as-observed),
 * item 10), all copies of one packet in a row, so copy `k` of a packet belongs to waiter `k`.
 */
class WaiterGroup {
  readonly list: Submission[];
  /** The waiter the next copy belongs to. */
  cursor = 0;

  constructor(first: Submission, second: Submission) {
    this.list = [first, second];
  }
}

type Slot = Submission | WaiterGroup;

/** The WORK_* packets a client receives: the terminal ones end the job's way back. */
export type JobPacket = Extract<
  Packet,
  {
    type:
      | 'WORK_COMPLETE'
      | 'WORK_FAIL'
      | 'WORK_EXCEPTION'
      | 'WORK_DATA'
      | 'WORK_WARNING'
      | 'WORK_STATUS';
  }
>;

const TERMINAL: ReadonlySet<string> = new Set(['WORK_COMPLETE', 'WORK_FAIL', 'WORK_EXCEPTION']);
const JOB_PACKETS: ReadonlySet<string> = new Set([
  ...TERMINAL,
  'WORK_DATA',
  'WORK_WARNING',
  'WORK_STATUS',
]);

/** Whether `packet` is a WORK_* packet for one of a client's jobs. */
export function isJobPacket(packet: Packet): packet is JobPacket {
  return JOB_PACKETS.has(packet.type);
}

/**
 * The created foreground jobs of one socket, by handle
 * ([protocol.md section 4.1](https://github.com/gearmanode/gearmanode/blob/main/docs/protocol.md#41-submitting)):
 * where each WORK_* packet goes. A submission whose caller gave up stays as a "ghost" until its
 * terminal packet, so that the packets of the others sharing its handle still reach the right
 * waiter.
 */
export class JobTable {
  readonly #slots = new Map<string, Slot>();

  /** Handles with a job. */
  get size(): number {
    return this.#slots.size;
  }

  /** JOB_CREATED: `submission` now waits for the packets of `handle`. */
  add(handle: string, submission: Submission): void {
    const slot = this.#slots.get(handle);
    if (slot === undefined) {
      this.#slots.set(handle, submission);
    } else if (slot instanceof WaiterGroup) {
      slot.list.push(submission);
      slot.cursor = 0;
    } else {
      this.#slots.set(handle, new WaiterGroup(slot, submission));
    }
  }

  /**
   * The submission a WORK_* packet belongs to, or undefined for an unknown handle (PROTOCOL
   * section 4.2: packets for unknown handles, or after the terminal one, are ignored). A
   * terminal packet removes it.
   */
  route(packet: JobPacket): Submission | undefined {
    const handle = packet.handle;
    const slot = this.#slots.get(handle);
    if (slot === undefined) return undefined;
    const terminal = TERMINAL.has(packet.type);
    if (!(slot instanceof WaiterGroup)) {
      if (terminal) this.#slots.delete(handle);
      return slot;
    }
    const list = slot.list;
    const index = slot.cursor;
    const submission = list[index] as Submission;
    if (terminal) {
      list.splice(index, 1);
      if (list.length === 0) this.#slots.delete(handle);
      else if (slot.cursor >= list.length) slot.cursor = 0;
    } else {
      slot.cursor = index + 1 === list.length ? 0 : index + 1;
    }
    return submission;
  }

  /** Empties the table and returns every submission in it, ghosts included. */
  takeAll(): Submission[] {
    const all: Submission[] = [];
    for (const slot of this.#slots.values()) {
      if (slot instanceof WaiterGroup) all.push(...slot.list);
      else all.push(slot);
    }
    this.#slots.clear();
    return all;
  }

  /** Submissions whose caller gave up and that wait for their terminal packet. */
  ghosts(): number {
    let ghosts = 0;
    for (const slot of this.#slots.values()) {
      const list = slot instanceof WaiterGroup ? slot.list : [slot];
      for (const submission of list) if (submission.done) ghosts++;
    }
    return ghosts;
  }
}
