import type { PacketType } from './packet-types.js';

/** The SUBMIT_* requests that create a job. */
export type SubmitType =
  | 'SUBMIT_JOB'
  | 'SUBMIT_JOB_BG'
  | 'SUBMIT_JOB_HIGH'
  | 'SUBMIT_JOB_HIGH_BG'
  | 'SUBMIT_JOB_LOW'
  | 'SUBMIT_JOB_LOW_BG'
  | 'SUBMIT_JOB_EPOCH'
  | 'SUBMIT_REDUCE_JOB'
  | 'SUBMIT_REDUCE_JOB_BACKGROUND';

/**
 * What kind of job a SUBMIT_* request creates
 * ([protocol.md section 4.1](https://github.com/gearmanode/gearmanode/blob/main/docs/protocol.md#41-submitting)).
 */
export interface SubmitKind {
  readonly priority: 'low' | 'normal' | 'high';
  /** The client does not wait for the result: JOB_CREATED ends the request. */
  readonly background: boolean;
  /** Runs no earlier than its `epoch` (background, normal priority). */
  readonly epoch: boolean;
  /** Carries a reducer (normal priority). */
  readonly reduce: boolean;
}

const kind = (
  priority: SubmitKind['priority'],
  background: boolean,
  extra: Partial<SubmitKind> = {},
): SubmitKind => Object.freeze({ priority, background, epoch: false, reduce: false, ...extra });

/** Every SUBMIT_* request and the job it creates. */
export const SUBMIT_TYPES: Readonly<Record<SubmitType, SubmitKind>> = Object.freeze({
  SUBMIT_JOB: kind('normal', false),
  SUBMIT_JOB_BG: kind('normal', true),
  SUBMIT_JOB_HIGH: kind('high', false),
  SUBMIT_JOB_HIGH_BG: kind('high', true),
  SUBMIT_JOB_LOW: kind('low', false),
  SUBMIT_JOB_LOW_BG: kind('low', true),
  SUBMIT_JOB_EPOCH: kind('normal', true, { epoch: true }),
  SUBMIT_REDUCE_JOB: kind('normal', false, { reduce: true }),
  SUBMIT_REDUCE_JOB_BACKGROUND: kind('normal', true, { reduce: true }),
});

/** Whether `type` is a SUBMIT_* request that creates a job. */
export function isSubmitType(type: PacketType): type is SubmitType {
  return Object.hasOwn(SUBMIT_TYPES, type);
}

const PLAIN: Readonly<Record<SubmitKind['priority'], readonly [SubmitType, SubmitType]>> = {
  low: ['SUBMIT_JOB_LOW', 'SUBMIT_JOB_LOW_BG'],
  normal: ['SUBMIT_JOB', 'SUBMIT_JOB_BG'],
  high: ['SUBMIT_JOB_HIGH', 'SUBMIT_JOB_HIGH_BG'],
};

/** The plain SUBMIT_* request (no epoch, no reducer) for a priority, foreground or background. */
export function submitTypeFor(priority: SubmitKind['priority'], background: boolean): SubmitType {
  return PLAIN[priority][background ? 1 : 0];
}

const set = (...types: PacketType[]): ReadonlySet<PacketType> => new Set(types);
const created = set('JOB_CREATED');

/**
 * Which packets answer each request
 * ([protocol.md section 4.1](https://github.com/gearmanode/gearmanode/blob/main/docs/protocol.md#41-submitting);
 * ERROR answers any of them). A connection matches replies to requests in order, so a packet not
 * listed for the oldest pending request means the stream is out of step.
 */
export const REPLY_TYPES: Readonly<Partial<Record<PacketType, ReadonlySet<PacketType>>>> =
  Object.freeze({
    ...Object.fromEntries(Object.keys(SUBMIT_TYPES).map((type) => [type, created])),
    SUBMIT_JOB_SCHED: created,
    GET_STATUS: set('STATUS_RES'),
    GET_STATUS_UNIQUE: set('STATUS_RES_UNIQUE'),
    OPTION_REQ: set('OPTION_RES'),
    ECHO_REQ: set('ECHO_RES'),
    GRAB_JOB: set('JOB_ASSIGN', 'NO_JOB'),
    GRAB_JOB_UNIQ: set('JOB_ASSIGN_UNIQ', 'NO_JOB'),
    // Section 5.2: GRAB_JOB_ALL gets JOB_ASSIGN_UNIQ for jobs without a reducer.
    GRAB_JOB_ALL: set('JOB_ASSIGN_ALL', 'JOB_ASSIGN_UNIQ', 'NO_JOB'),
  });

/** Packets a server sends that answer no request: NOOP for workers, WORK_* for clients. */
export const UNSOLICITED_TYPES: ReadonlySet<PacketType> = set(
  'NOOP',
  'WORK_STATUS',
  'WORK_COMPLETE',
  'WORK_FAIL',
  'WORK_EXCEPTION',
  'WORK_DATA',
  'WORK_WARNING',
);
