import type { Magic, Packet } from '../src/index.js';

/**
 * One packet and its exact wire bytes. `packet` is the decoded form (`data` fields are Buffers),
 * which is also a valid `PacketInit`; `magic` is the magic the bytes carry.
 */
export interface Fixture {
  name: string;
  packet: Packet;
  magic: Magic;
  bytes: Buffer;
}

/** Bytes from hex written by hand; spaces are only for reading. */
export function hex(text: string): Buffer {
  const digits = text.replace(/\s+/g, '');
  if (!/^(?:[0-9a-f]{2})*$/i.test(digits)) throw new Error(`bad hex in fixture: ${text}`);
  return Buffer.from(digits, 'hex');
}

const b = (text: string) => Buffer.from(text, 'latin1');

// Recurring field bytes, to keep the rows readable:
//   "H:box:42" = 483a626f783a3432   "resize" = 726573697a65   "img1" = 696d6731
//   magic "\0REQ" = 00524551        magic "\0RES" = 00524553
// Each row: magic, type, size, then the body with NULs as separate `00`s.

/**
 * Every packet type of PACKET_TYPES at least once, the WORK_* packets under both magics, with
 * empty payloads, payloads holding NUL bytes, an empty function name, UTF-8 and a 63-byte unique.
 */
export const fixtures: readonly Fixture[] = [
  {
    name: 'CAN_DO',
    magic: 'REQ',
    packet: { type: 'CAN_DO', functionName: 'resize' },
    bytes: hex('00524551 00000001 00000006 726573697a65'),
  },
  {
    name: 'CAN_DO with a UTF-8 name',
    magic: 'REQ',
    packet: { type: 'CAN_DO', functionName: 'résumé' },
    bytes: hex('00524551 00000001 00000008 72c3a973756dc3a9'),
  },
  {
    // PROTOCOL section 11, item 30: an empty function name is legal.
    name: 'CAN_DO with an empty name',
    magic: 'REQ',
    packet: { type: 'CAN_DO', functionName: '' },
    bytes: hex('00524551 00000001 00000000'),
  },
  {
    name: 'CANT_DO',
    magic: 'REQ',
    packet: { type: 'CANT_DO', functionName: 'resize' },
    bytes: hex('00524551 00000002 00000006 726573697a65'),
  },
  {
    name: 'RESET_ABILITIES',
    magic: 'REQ',
    packet: { type: 'RESET_ABILITIES' },
    bytes: hex('00524551 00000003 00000000'),
  },
  {
    name: 'PRE_SLEEP',
    magic: 'REQ',
    packet: { type: 'PRE_SLEEP' },
    bytes: hex('00524551 00000004 00000000'),
  },
  {
    name: 'NOOP',
    magic: 'RES',
    packet: { type: 'NOOP' },
    bytes: hex('00524553 00000006 00000000'),
  },
  {
    // protocol.md section 2.3, the worked example.
    name: 'SUBMIT_JOB',
    magic: 'REQ',
    packet: { type: 'SUBMIT_JOB', functionName: 'resize', unique: '', payload: b('img1') },
    bytes: hex('00524551 00000007 0000000c 726573697a65 00 00 696d6731'),
  },
  {
    name: 'SUBMIT_JOB with a 63-byte unique',
    magic: 'REQ',
    packet: { type: 'SUBMIT_JOB', functionName: 'f', unique: 'u'.repeat(63), payload: b('') },
    // size 1 + 1 + 63 + 1 = 66 = 0x42; "u" = 75
    bytes: hex(`00524551 00000007 00000042 66 00 ${'75'.repeat(63)} 00`),
  },
  {
    // protocol.md section 2.3, the server's answer.
    name: 'JOB_CREATED',
    magic: 'RES',
    packet: { type: 'JOB_CREATED', handle: 'H:box:42' },
    bytes: hex('00524553 00000008 00000008 483a626f783a3432'),
  },
  {
    name: 'GRAB_JOB',
    magic: 'REQ',
    packet: { type: 'GRAB_JOB' },
    bytes: hex('00524551 00000009 00000000'),
  },
  {
    name: 'NO_JOB',
    magic: 'RES',
    packet: { type: 'NO_JOB' },
    bytes: hex('00524553 0000000a 00000000'),
  },
  {
    name: 'JOB_ASSIGN with NULs in the payload',
    magic: 'RES',
    packet: {
      type: 'JOB_ASSIGN',
      handle: 'H:box:42',
      functionName: 'resize',
      payload: hex('00 01 00 ff'),
    },
    bytes: hex('00524553 0000000b 00000014 483a626f783a3432 00 726573697a65 00 000100ff'),
  },
  {
    name: 'WORK_STATUS as REQ',
    magic: 'REQ',
    packet: { type: 'WORK_STATUS', handle: 'H:box:42', numerator: 1, denominator: 4 },
    bytes: hex('00524551 0000000c 0000000c 483a626f783a3432 00 31 00 34'),
  },
  {
    name: 'WORK_STATUS as RES with the largest numerator',
    magic: 'RES',
    packet: { type: 'WORK_STATUS', handle: 'H:box:42', numerator: 4294967295, denominator: 0 },
    // "4294967295" = 34323934393637323935
    bytes: hex('00524553 0000000c 00000015 483a626f783a3432 00 34323934393637323935 00 30'),
  },
  {
    name: 'WORK_COMPLETE as REQ',
    magic: 'REQ',
    packet: { type: 'WORK_COMPLETE', handle: 'H:box:42', payload: b('thumb') },
    bytes: hex('00524551 0000000d 0000000e 483a626f783a3432 00 7468756d62'),
  },
  {
    name: 'WORK_COMPLETE as RES with an empty payload',
    magic: 'RES',
    packet: { type: 'WORK_COMPLETE', handle: 'H:box:42', payload: b('') },
    bytes: hex('00524553 0000000d 00000009 483a626f783a3432 00'),
  },
  {
    name: 'WORK_FAIL as REQ',
    magic: 'REQ',
    packet: { type: 'WORK_FAIL', handle: 'H:box:42' },
    bytes: hex('00524551 0000000e 00000008 483a626f783a3432'),
  },
  {
    name: 'WORK_FAIL as RES',
    magic: 'RES',
    packet: { type: 'WORK_FAIL', handle: 'H:box:42' },
    bytes: hex('00524553 0000000e 00000008 483a626f783a3432'),
  },
  {
    name: 'GET_STATUS',
    magic: 'REQ',
    packet: { type: 'GET_STATUS', handle: 'H:box:42' },
    bytes: hex('00524551 0000000f 00000008 483a626f783a3432'),
  },
  {
    name: 'ECHO_REQ',
    magic: 'REQ',
    packet: { type: 'ECHO_REQ', payload: b('ping') },
    bytes: hex('00524551 00000010 00000004 70696e67'),
  },
  {
    name: 'ECHO_RES with leading and trailing NULs',
    magic: 'RES',
    packet: { type: 'ECHO_RES', payload: hex('00 70696e67 00') },
    bytes: hex('00524553 00000011 00000006 0070696e6700'),
  },
  {
    name: 'SUBMIT_JOB_BG',
    magic: 'REQ',
    packet: {
      type: 'SUBMIT_JOB_BG',
      functionName: 'reindex',
      unique: 'u-7',
      payload: b('{"id":7}'),
    },
    // "reindex" = 7265696e646578, "u-7" = 752d37, '{"id":7}' = 7b226964223a377d
    bytes: hex('00524551 00000012 00000014 7265696e646578 00 752d37 00 7b226964223a377d'),
  },
  {
    name: 'ERROR',
    magic: 'RES',
    packet: { type: 'ERROR', code: 'QUEUE_ERROR', message: 'Job queue is full' },
    // "QUEUE_ERROR" = 51554555455f4552524f52, "Job queue is full" = 4a6f62 20 7175657565 20 6973 20 66756c6c
    bytes: hex(
      '00524553 00000013 0000001d 51554555455f4552524f52 00 4a6f6220717565756520697320 66756c6c',
    ),
  },
  {
    name: 'STATUS_RES',
    magic: 'RES',
    packet: {
      type: 'STATUS_RES',
      handle: 'H:box:42',
      known: true,
      running: false,
      numerator: 3,
      denominator: 10,
    },
    bytes: hex('00524553 00000014 00000011 483a626f783a3432 00 31 00 30 00 33 00 3130'),
  },
  {
    name: 'SUBMIT_JOB_HIGH with an empty unique and payload',
    magic: 'REQ',
    packet: { type: 'SUBMIT_JOB_HIGH', functionName: 'resize', unique: '', payload: b('') },
    bytes: hex('00524551 00000015 00000008 726573697a65 00 00'),
  },
  {
    name: 'SET_CLIENT_ID',
    magic: 'REQ',
    packet: { type: 'SET_CLIENT_ID', clientId: 'worker-1' },
    bytes: hex('00524551 00000016 00000008 776f726b65722d31'),
  },
  {
    name: 'CAN_DO_TIMEOUT',
    magic: 'REQ',
    packet: { type: 'CAN_DO_TIMEOUT', functionName: 'resize', timeout: 30000 },
    bytes: hex('00524551 00000017 0000000c 726573697a65 00 3330303030'),
  },
  {
    name: 'ALL_YOURS',
    magic: 'REQ',
    packet: { type: 'ALL_YOURS' },
    bytes: hex('00524551 00000018 00000000'),
  },
  {
    name: 'WORK_EXCEPTION as REQ',
    magic: 'REQ',
    packet: { type: 'WORK_EXCEPTION', handle: 'H:box:42', payload: b('boom') },
    bytes: hex('00524551 00000019 0000000d 483a626f783a3432 00 626f6f6d'),
  },
  {
    name: 'WORK_EXCEPTION as RES',
    magic: 'RES',
    packet: { type: 'WORK_EXCEPTION', handle: 'H:box:42', payload: b('boom') },
    bytes: hex('00524553 00000019 0000000d 483a626f783a3432 00 626f6f6d'),
  },
  {
    name: 'OPTION_REQ',
    magic: 'REQ',
    packet: { type: 'OPTION_REQ', option: 'exceptions' },
    bytes: hex('00524551 0000001a 0000000a 657863657074696f6e73'),
  },
  {
    name: 'OPTION_RES',
    magic: 'RES',
    packet: { type: 'OPTION_RES', option: 'exceptions' },
    bytes: hex('00524553 0000001b 0000000a 657863657074696f6e73'),
  },
  {
    name: 'WORK_DATA as REQ with a payload of two NULs',
    magic: 'REQ',
    packet: { type: 'WORK_DATA', handle: 'H:box:42', payload: hex('00 00') },
    bytes: hex('00524551 0000001c 0000000b 483a626f783a3432 00 00 00'),
  },
  {
    name: 'WORK_DATA as RES',
    magic: 'RES',
    packet: { type: 'WORK_DATA', handle: 'H:box:42', payload: b('chunk') },
    bytes: hex('00524553 0000001c 0000000e 483a626f783a3432 00 6368756e6b'),
  },
  {
    name: 'WORK_WARNING as REQ',
    magic: 'REQ',
    packet: { type: 'WORK_WARNING', handle: 'H:box:42', payload: b('low disk') },
    bytes: hex('00524551 0000001d 00000011 483a626f783a3432 00 6c6f77206469736b'),
  },
  {
    name: 'WORK_WARNING as RES with an empty payload',
    magic: 'RES',
    packet: { type: 'WORK_WARNING', handle: 'H:box:42', payload: b('') },
    bytes: hex('00524553 0000001d 00000009 483a626f783a3432 00'),
  },
  {
    name: 'GRAB_JOB_UNIQ',
    magic: 'REQ',
    packet: { type: 'GRAB_JOB_UNIQ' },
    bytes: hex('00524551 0000001e 00000000'),
  },
  {
    // protocol.md section 2.3: "H:box:42\0resize\0\0img1", length 21.
    name: 'JOB_ASSIGN_UNIQ',
    magic: 'RES',
    packet: {
      type: 'JOB_ASSIGN_UNIQ',
      handle: 'H:box:42',
      functionName: 'resize',
      unique: '',
      payload: b('img1'),
    },
    bytes: hex('00524553 0000001f 00000015 483a626f783a3432 00 726573697a65 00 00 696d6731'),
  },
  {
    name: 'SUBMIT_JOB_HIGH_BG',
    magic: 'REQ',
    packet: { type: 'SUBMIT_JOB_HIGH_BG', functionName: 'resize', unique: 'a', payload: b('x') },
    bytes: hex('00524551 00000020 0000000a 726573697a65 00 61 00 78'),
  },
  {
    name: 'SUBMIT_JOB_LOW',
    magic: 'REQ',
    packet: { type: 'SUBMIT_JOB_LOW', functionName: 'resize', unique: 'job-1', payload: b('img1') },
    bytes: hex('00524551 00000021 00000011 726573697a65 00 6a6f622d31 00 696d6731'),
  },
  {
    name: 'SUBMIT_JOB_LOW_BG with a payload of one NUL',
    magic: 'REQ',
    packet: { type: 'SUBMIT_JOB_LOW_BG', functionName: 'f', unique: '', payload: hex('00') },
    bytes: hex('00524551 00000022 00000004 66 00 00 00'),
  },
  {
    name: 'SUBMIT_JOB_SCHED',
    magic: 'REQ',
    packet: {
      type: 'SUBMIT_JOB_SCHED',
      functionName: 'report',
      unique: '',
      minute: '30',
      hour: '2',
      dayOfMonth: '*',
      month: '*',
      dayOfWeek: '1',
      payload: b('x'),
    },
    bytes: hex('00524551 00000023 00000014 7265706f7274 00 00 3330 00 32 00 2a 00 2a 00 31 00 78'),
  },
  {
    name: 'SUBMIT_JOB_EPOCH',
    magic: 'REQ',
    packet: {
      type: 'SUBMIT_JOB_EPOCH',
      functionName: 'report',
      unique: 'daily',
      runAt: 1700000000,
      payload: b(''),
    },
    bytes: hex('00524551 00000024 00000018 7265706f7274 00 6461696c79 00 31373030303030303030 00'),
  },
  {
    // PROTOCOL section 3: five fields, the fourth (aggregator) sent empty.
    name: 'SUBMIT_REDUCE_JOB',
    magic: 'REQ',
    packet: {
      type: 'SUBMIT_REDUCE_JOB',
      functionName: 'count',
      unique: '',
      reducer: 'sum',
      aggregator: '',
      payload: b('a b'),
    },
    bytes: hex('00524551 00000025 0000000f 636f756e74 00 00 73756d 00 00 612062'),
  },
  {
    name: 'SUBMIT_REDUCE_JOB_BACKGROUND',
    magic: 'REQ',
    packet: {
      type: 'SUBMIT_REDUCE_JOB_BACKGROUND',
      functionName: 'count',
      unique: 'u',
      reducer: 'sum',
      aggregator: '',
      payload: b(''),
    },
    bytes: hex('00524551 00000026 0000000d 636f756e74 00 75 00 73756d 00 00'),
  },
  {
    name: 'GRAB_JOB_ALL',
    magic: 'REQ',
    packet: { type: 'GRAB_JOB_ALL' },
    bytes: hex('00524551 00000027 00000000'),
  },
  {
    name: 'JOB_ASSIGN_ALL',
    magic: 'RES',
    packet: {
      type: 'JOB_ASSIGN_ALL',
      handle: 'H:box:42',
      functionName: 'count',
      unique: 'u',
      reducer: 'sum',
      payload: hex('61 00 62'),
    },
    bytes: hex(
      '00524553 00000028 00000018 483a626f783a3432 00 636f756e74 00 75 00 73756d 00 610062',
    ),
  },
  {
    name: 'GET_STATUS_UNIQUE',
    magic: 'REQ',
    packet: { type: 'GET_STATUS_UNIQUE', unique: 'job-1' },
    bytes: hex('00524551 00000029 00000005 6a6f622d31'),
  },
  {
    name: 'STATUS_RES_UNIQUE',
    magic: 'RES',
    packet: {
      type: 'STATUS_RES_UNIQUE',
      unique: 'job-1',
      known: true,
      running: true,
      numerator: 0,
      denominator: 0,
      waitingClients: 2,
    },
    bytes: hex('00524553 0000002a 0000000f 6a6f622d31 00 31 00 31 00 30 00 30 00 32'),
  },
];
