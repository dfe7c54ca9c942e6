/**
 * The Gearman packet table, as data
 * ([protocol.md section 3](https://github.com/gearmanode/gearmanode/blob/main/docs/protocol.md#3-packet-catalogue)).
 * Every other part of the codec derives from it: the type names, the field lists and the TypeScript
 * types of packets.
 *
 * `magic` says which magic a packet travels under: `REQ` towards the server, `RES` from it, and
 * `BOTH` for the WORK_* packets that a worker sends with `\0REQ` and the server relays to
 * clients with `\0RES`. The last field of each list is the unterminated one.
 */
export const PACKET_TYPES = {
  CAN_DO: { number: 1, magic: 'REQ', fields: ['functionName'] },
  CANT_DO: { number: 2, magic: 'REQ', fields: ['functionName'] },
  RESET_ABILITIES: { number: 3, magic: 'REQ', fields: [] },
  PRE_SLEEP: { number: 4, magic: 'REQ', fields: [] },
  NOOP: { number: 6, magic: 'RES', fields: [] },
  SUBMIT_JOB: { number: 7, magic: 'REQ', fields: ['functionName', 'unique', 'payload'] },
  JOB_CREATED: { number: 8, magic: 'RES', fields: ['handle'] },
  GRAB_JOB: { number: 9, magic: 'REQ', fields: [] },
  NO_JOB: { number: 10, magic: 'RES', fields: [] },
  JOB_ASSIGN: { number: 11, magic: 'RES', fields: ['handle', 'functionName', 'payload'] },
  WORK_STATUS: { number: 12, magic: 'BOTH', fields: ['handle', 'numerator', 'denominator'] },
  WORK_COMPLETE: { number: 13, magic: 'BOTH', fields: ['handle', 'payload'] },
  WORK_FAIL: { number: 14, magic: 'BOTH', fields: ['handle'] },
  GET_STATUS: { number: 15, magic: 'REQ', fields: ['handle'] },
  ECHO_REQ: { number: 16, magic: 'REQ', fields: ['payload'] },
  ECHO_RES: { number: 17, magic: 'RES', fields: ['payload'] },
  SUBMIT_JOB_BG: { number: 18, magic: 'REQ', fields: ['functionName', 'unique', 'payload'] },
  ERROR: { number: 19, magic: 'RES', fields: ['code', 'message'] },
  STATUS_RES: {
    number: 20,
    magic: 'RES',
    fields: ['handle', 'known', 'running', 'numerator', 'denominator'],
  },
  SUBMIT_JOB_HIGH: { number: 21, magic: 'REQ', fields: ['functionName', 'unique', 'payload'] },
  SET_CLIENT_ID: { number: 22, magic: 'REQ', fields: ['clientId'] },
  CAN_DO_TIMEOUT: { number: 23, magic: 'REQ', fields: ['functionName', 'timeout'] },
  ALL_YOURS: { number: 24, magic: 'REQ', fields: [] },
  WORK_EXCEPTION: { number: 25, magic: 'BOTH', fields: ['handle', 'payload'] },
  OPTION_REQ: { number: 26, magic: 'REQ', fields: ['option'] },
  OPTION_RES: { number: 27, magic: 'RES', fields: ['option'] },
  WORK_DATA: { number: 28, magic: 'BOTH', fields: ['handle', 'payload'] },
  WORK_WARNING: { number: 29, magic: 'BOTH', fields: ['handle', 'payload'] },
  GRAB_JOB_UNIQ: { number: 30, magic: 'REQ', fields: [] },
  JOB_ASSIGN_UNIQ: {
    number: 31,
    magic: 'RES',
    fields: ['handle', 'functionName', 'unique', 'payload'],
  },
  SUBMIT_JOB_HIGH_BG: { number: 32, magic: 'REQ', fields: ['functionName', 'unique', 'payload'] },
  SUBMIT_JOB_LOW: { number: 33, magic: 'REQ', fields: ['functionName', 'unique', 'payload'] },
  SUBMIT_JOB_LOW_BG: { number: 34, magic: 'REQ', fields: ['functionName', 'unique', 'payload'] },
  SUBMIT_JOB_SCHED: {
    number: 35,
    magic: 'REQ',
    fields: [
      'functionName',
      'unique',
      'minute',
      'hour',
      'dayOfMonth',
      'month',
      'dayOfWeek',
      'payload',
    ],
  },
  SUBMIT_JOB_EPOCH: {
    number: 36,
    magic: 'REQ',
    fields: ['functionName', 'unique', 'runAt', 'payload'],
  },
  // PROTOCOL section 3: five fields; the empty "aggregator" is required (section 11, item 18).
  SUBMIT_REDUCE_JOB: {
    number: 37,
    magic: 'REQ',
    fields: ['functionName', 'unique', 'reducer', 'aggregator', 'payload'],
  },
  SUBMIT_REDUCE_JOB_BACKGROUND: {
    number: 38,
    magic: 'REQ',
    fields: ['functionName', 'unique', 'reducer', 'aggregator', 'payload'],
  },
  GRAB_JOB_ALL: { number: 39, magic: 'REQ', fields: [] },
  JOB_ASSIGN_ALL: {
    number: 40,
    magic: 'RES',
    fields: ['handle', 'functionName', 'unique', 'reducer', 'payload'],
  },
  GET_STATUS_UNIQUE: { number: 41, magic: 'REQ', fields: ['unique'] },
  STATUS_RES_UNIQUE: {
    number: 42,
    magic: 'RES',
    fields: ['unique', 'known', 'running', 'numerator', 'denominator', 'waitingClients'],
  },
} as const;

/**
 * What each field holds, whatever packet it is in. Numbers travel as decimal text
 * ([protocol.md, "Conventions"](https://github.com/gearmanode/gearmanode/blob/main/docs/protocol.md)),
 * booleans as `0`/`1`, and `data` fields are the raw bytes of the last field.
 */
export const FIELD_KINDS = {
  functionName: 'string',
  unique: 'string',
  handle: 'string',
  clientId: 'string',
  option: 'string',
  code: 'string',
  message: 'string',
  reducer: 'string',
  aggregator: 'string',
  minute: 'string',
  hour: 'string',
  dayOfMonth: 'string',
  month: 'string',
  dayOfWeek: 'string',
  numerator: 'number',
  denominator: 'number',
  timeout: 'number',
  runAt: 'number',
  waitingClients: 'number',
  known: 'boolean',
  running: 'boolean',
  payload: 'data',
} as const;

/** A packet's name, e.g. `'SUBMIT_JOB'`. */
export type PacketType = keyof typeof PACKET_TYPES;
/** A field's name, e.g. `'functionName'`. */
export type FieldName = keyof typeof FIELD_KINDS;
/** The magic a packet travels under. */
export type Magic = 'REQ' | 'RES';

type FieldsOf<T extends PacketType> = (typeof PACKET_TYPES)[T]['fields'][number];
type KindValue = { string: string; number: number; boolean: boolean; data: Buffer };
type InitKindValue = {
  string: string;
  number: number;
  boolean: boolean;
  data: Uint8Array | string;
};

/** A decoded packet of type `T`: `data` fields are `Buffer` views (see PacketDecoder). */
export type PacketOf<T extends PacketType> = {
  type: T;
} & { [F in FieldsOf<T>]: KindValue[(typeof FIELD_KINDS)[F]] };

/** What `encodePacket` takes for type `T`: `data` fields may also be strings (UTF-8). */
export type PacketInitOf<T extends PacketType> = {
  type: T;
} & { [F in FieldsOf<T>]: InitKindValue[(typeof FIELD_KINDS)[F]] };

/** Any decoded packet: a union discriminated by `type`. */
export type Packet = { [T in PacketType]: PacketOf<T> }[PacketType];
/** Any packet to encode. */
export type PacketInit = { [T in PacketType]: PacketInitOf<T> }[PacketType];

/** Type number → name, with `undefined` for the unused numbers (5, and 0 or above 42). */
export const PACKET_NAMES: readonly (PacketType | undefined)[] = (() => {
  const names: (PacketType | undefined)[] = new Array(43).fill(undefined);
  for (const name of Object.keys(PACKET_TYPES) as PacketType[]) {
    names[PACKET_TYPES[name].number] = name;
  }
  return names;
})();

/** The name of type number `n`, or `undefined` when `n` is not a Gearman packet type. */
export function packetName(n: number): PacketType | undefined {
  return PACKET_NAMES[n];
}

/** Whether a packet of this type may travel under `magic` (the WORK_* packets go both ways). */
export function allowsMagic(type: PacketType, magic: Magic): boolean {
  const allowed = PACKET_TYPES[type].magic;
  return allowed === 'BOTH' || allowed === magic;
}
