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

/** Whether `packet` is a WORK_* packet for one of a client's jobs. */
export function isJobPacket(packet: Packet): packet is JobPacket {
  switch (packet.type) {
    case 'WORK_COMPLETE':
    case 'WORK_FAIL':
    case 'WORK_EXCEPTION':
    case 'WORK_DATA':
    case 'WORK_WARNING':
    case 'WORK_STATUS':
      return true;
    default:
      return false;
  }
}

/** Whether the packet ends its job's way back. */
function isTerminal(type: JobPacket['type']): boolean {
  return type === 'WORK_COMPLETE' || type === 'WORK_FAIL' || type === 'WORK_EXCEPTION';
}

/** Adds `submission` to the waiters of a slot; returns the slot that now holds them all. */
function join(slot: Slot, submission: Submission): Slot {
  if (!(slot instanceof WaiterGroup)) return new WaiterGroup(slot, submission);
  slot.list.push(submission);
  slot.cursor = 0;
  return slot;
}

/**
 * The created foreground jobs of one socket, by handle
 * ([protocol.md section 4.1](https://github.com/gearmanode/gearmanode/blob/main/docs/protocol.md#41-submitting)):
 * where each WORK_* packet goes. A submission whose caller gave up stays as a "ghost" until its
 * terminal packet, so that the packets of the others sharing its handle still reach the right
 * waiter.
 *
 * While it holds a single handle (one job at a time, the default use), that handle lives in two
 * fields and the Map stays empty: no hashing and no Map entry made and dropped per job. A second
 * handle moves the first one into the Map, which then holds every handle until it is empty
 * again, so that `takeAll()` keeps the order the jobs were created in.
 */
export class JobTable {
  readonly #slots = new Map<string, Slot>();
  /** The only handle, while the Map is empty. */
  #soleHandle: string | undefined;
  #sole: Slot | undefined;

  /** Handles with a job. */
  get size(): number {
    return this.#sole === undefined ? this.#slots.size : 1;
  }

  /** JOB_CREATED: `submission` now waits for the packets of `handle`. */
  add(handle: string, submission: Submission): void {
    const sole = this.#sole;
    if (sole !== undefined) {
      if (handle === this.#soleHandle) {
        this.#sole = join(sole, submission);
        return;
      }
      this.#slots.set(this.#soleHandle as string, sole);
      this.#soleHandle = undefined;
      this.#sole = undefined;
    } else if (this.#slots.size === 0) {
      this.#soleHandle = handle;
      this.#sole = submission;
      return;
    }
    const slot = this.#slots.get(handle);
    if (slot === undefined) this.#slots.set(handle, submission);
    else if (!(slot instanceof WaiterGroup)) this.#slots.set(handle, join(slot, submission));
    else join(slot, submission);
  }

  /**
   * The submission a WORK_* packet belongs to, or undefined for an unknown handle (PROTOCOL
   * section 4.2: packets for unknown handles, or after the terminal one, are ignored). A
   * terminal packet removes it.
   */
  route(packet: JobPacket): Submission | undefined {
    const handle = packet.handle;
    const sole = this.#sole !== undefined;
    const slot = sole
      ? handle === this.#soleHandle
        ? this.#sole
        : undefined
      : this.#slots.size === 0
        ? undefined
        : this.#slots.get(handle);
    if (slot === undefined) return undefined;
    const terminal = isTerminal(packet.type);
    if (!(slot instanceof WaiterGroup)) {
      if (terminal) this.#remove(handle, sole);
      return slot;
    }
    const list = slot.list;
    const index = slot.cursor;
    const submission = list[index] as Submission;
    if (terminal) {
      list.splice(index, 1);
      if (list.length === 0) this.#remove(handle, sole);
      else if (slot.cursor >= list.length) slot.cursor = 0;
    } else {
      slot.cursor = index + 1 === list.length ? 0 : index + 1;
    }
    return submission;
  }

  /** Empties the table and returns every submission in it, ghosts included. */
  takeAll(): Submission[] {
    const all: Submission[] = [];
    for (const slot of this.#all()) {
      if (slot instanceof WaiterGroup) all.push(...slot.list);
      else all.push(slot);
    }
    this.#remove(undefined, true);
    this.#slots.clear();
    return all;
  }

  /** Submissions whose caller gave up and that wait for their terminal packet. */
  ghosts(): number {
    let ghosts = 0;
    for (const slot of this.#all()) {
      const list = slot instanceof WaiterGroup ? slot.list : [slot];
      for (const submission of list) if (submission.done) ghosts++;
    }
    return ghosts;
  }

  #all(): Iterable<Slot> {
    return this.#sole === undefined ? this.#slots.values() : [this.#sole];
  }

  #remove(handle: string | undefined, sole: boolean): void {
    if (sole) {
      this.#soleHandle = undefined;
      this.#sole = undefined;
    } else {
      this.#slots.delete(handle as string);
    }
  }
}
