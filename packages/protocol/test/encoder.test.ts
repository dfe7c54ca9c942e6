import { describe, expect, test } from 'vitest';
import {
  COPY_THRESHOLD,
  type EncodeOptions,
  encodePacket,
  encodePacketInto,
  encodePacketParts,
  FIELD_KINDS,
  type FieldName,
  InvalidArgumentError,
  MAX_REDUCER_SIZE,
  MAX_STATUS_NUMBER,
  MAX_UNIQUE_SIZE,
  PACKET_TYPES,
  type PacketInit,
  type PacketType,
} from '../src/index.js';
import { fixtures, hex } from './fixtures.js';
import { decodeChunks, expectBytes, thrown } from './helpers.js';

/** Encoding `packet` throws an InvalidArgumentError for `field`; returns it for more checks. */
function refused(packet: unknown, field: string, options?: EncodeOptions): InvalidArgumentError {
  const error = thrown(() => encodePacket(packet as PacketInit, options));
  expect(error).toBeInstanceOf(InvalidArgumentError);
  const invalid = error as InvalidArgumentError;
  expect(invalid.code).toBe('ERR_INVALID_ARGUMENT');
  expect(invalid.name).toBe('InvalidArgumentError');
  expect(invalid.field).toBe(field);
  expect(invalid.message.startsWith(`${field}: `)).toBe(true);
  // encodePacketParts validates the same way.
  expect(() => encodePacketParts(packet as PacketInit, options)).toThrow(invalid.message);
  return invalid;
}

const submit = (fields: Partial<Record<string, unknown>>): unknown => ({
  type: 'SUBMIT_JOB',
  functionName: 'resize',
  unique: '',
  payload: 'img1',
  ...fields,
});

const reduce = (reducer: string): PacketInit => ({
  type: 'SUBMIT_REDUCE_JOB',
  functionName: 'count',
  unique: '',
  reducer,
  aggregator: '',
  payload: '',
});

const status = (numerator: unknown, denominator: unknown = 1): unknown => ({
  type: 'WORK_STATUS',
  handle: 'H:box:42',
  numerator,
  denominator,
});

/** A valid packet of `type` with every field filled with a plain value of its kind. */
function sample(type: PacketType): Record<string, unknown> {
  const packet: Record<string, unknown> = { type };
  for (const field of PACKET_TYPES[type].fields as readonly FieldName[]) {
    const kind = FIELD_KINDS[field];
    packet[field] = kind === 'number' ? 1 : kind === 'boolean' ? true : kind === 'data' ? 'd' : 's';
  }
  return packet;
}

describe('encodePacket', () => {
  test('encodes the worked example of protocol.md section 2.3 from a string payload', () => {
    expect(
      encodePacket({ type: 'SUBMIT_JOB', functionName: 'resize', unique: '', payload: 'img1' }),
    ).toEqual(hex('00524551 00000007 0000000c 726573697a65 00 00 696d6731'));
  });

  test('uses the type’s own magic by default, and REQ for the WORK_* packets', () => {
    for (const { packet, magic } of fixtures) {
      const expected = PACKET_TYPES[packet.type].magic === 'BOTH' ? 'REQ' : magic;
      const bytes = encodePacket(packet);
      expect(bytes.readUInt32BE(0), packet.type).toBe(expected === 'REQ' ? 0x00524551 : 0x00524553);
    }
  });

  test('sizes the body in UTF-8 bytes, not characters', () => {
    const bytes = encodePacket({ type: 'ECHO_REQ', payload: '€ü' });
    expect(bytes.readUInt32BE(8)).toBe(5);
    expect(bytes.subarray(12)).toEqual(Buffer.from('€ü', 'utf8'));
  });

  test('copies the payload, so the result does not change with the caller’s bytes', () => {
    const payload = Buffer.from('abcd');
    const bytes = encodePacket({ type: 'ECHO_REQ', payload });
    payload.fill(0x7a);
    expect(bytes.subarray(12).toString()).toBe('abcd');
  });

  test('returns one buffer even for a payload over the copy threshold', () => {
    const payload = Buffer.alloc(COPY_THRESHOLD + 1, 7);
    const bytes = encodePacket({ type: 'WORK_COMPLETE', handle: 'H:1', payload });
    expect(bytes.length).toBe(12 + 4 + payload.length);
    expect(bytes.buffer).not.toBe(payload.buffer);
    expectBytes(bytes.subarray(16), payload);
  });

  test('accepts every data field as a Uint8Array that is not a Buffer', () => {
    const payload = new Uint8Array([0, 1, 2]);
    const bytes = encodePacket({ type: 'ECHO_REQ', payload });
    expect(bytes).toEqual(hex('00524551 00000010 00000003 000102'));
  });
});

describe('encodePacketParts', () => {
  const handle = 'H:box:42';

  test('returns the caller’s payload bytes uncopied at 64 KiB', () => {
    const payload = new Uint8Array(COPY_THRESHOLD).fill(0xab);
    const parts = encodePacketParts({ type: 'WORK_COMPLETE', handle, payload });
    expect(parts).toHaveLength(2);
    const [head, body] = parts;
    expect(body?.buffer).toBe(payload.buffer); // the same memory, not a copy
    expect(body?.byteOffset).toBe(0);
    expect(body?.length).toBe(COPY_THRESHOLD);
    expect(head).toEqual(
      Buffer.concat([hex('00524551 0000000d 00010009'), Buffer.from(handle), hex('00')]),
    );
    expectBytes(Buffer.concat(parts), encodePacket({ type: 'WORK_COMPLETE', handle, payload }));
  });

  test('keeps the offset of a payload that is a view into a larger buffer', () => {
    const backing = Buffer.alloc(COPY_THRESHOLD * 2);
    const payload = backing.subarray(100, 100 + COPY_THRESHOLD + 5);
    payload[0] = 1;
    const [, body] = encodePacketParts({ type: 'ECHO_RES', payload });
    expect(body?.buffer).toBe(backing.buffer);
    expect(body?.byteOffset).toBe(payload.byteOffset);
    expect(body?.length).toBe(payload.length);
    expect(body?.[0]).toBe(1);
  });

  test('returns one chunk for a payload one byte under 64 KiB', () => {
    const payload = new Uint8Array(COPY_THRESHOLD - 1).fill(0xcd);
    const parts = encodePacketParts({ type: 'WORK_COMPLETE', handle, payload });
    expect(parts).toHaveLength(1);
    expect(parts[0]?.buffer).not.toBe(payload.buffer);
    expectBytes(parts[0], encodePacket({ type: 'WORK_COMPLETE', handle, payload }));
  });

  test('copies a string payload of any size into one chunk', () => {
    const payload = 'x'.repeat(COPY_THRESHOLD * 2);
    const parts = encodePacketParts({ type: 'ECHO_REQ', payload });
    expect(parts).toHaveLength(1);
    expect(parts[0]?.length).toBe(12 + payload.length);
  });

  test('decodes back to the same packet when the two parts arrive as chunks', () => {
    const payload = Buffer.alloc(COPY_THRESHOLD, 0).fill(0x31, 10, 20);
    const parts = encodePacketParts({ type: 'WORK_DATA', handle, payload }, { magic: 'RES' });
    const [decoded, ...rest] = decodeChunks(parts);
    expect(rest).toEqual([]);
    if (decoded?.type !== 'WORK_DATA') throw new Error(`expected WORK_DATA, got ${decoded?.type}`);
    expect(decoded.handle).toBe(handle);
    expectBytes(decoded.payload, payload);
  });
});

describe('encodePacketInto', () => {
  test('writes the bytes encodePacket makes at the offset given, and returns where they end', () => {
    const packet: PacketInit = { type: 'WORK_COMPLETE', handle: 'H:hé:1', payload: 'résultat' };
    const bytes = encodePacket(packet);
    const target = Buffer.alloc(bytes.length + 10);
    expect(encodePacketInto(packet, target, 4)).toBe(4 + bytes.length);
    expect(target.subarray(4, 4 + bytes.length)).toEqual(bytes);
  });

  test('returns -1 and writes nothing when the packet does not fit', () => {
    const target = Buffer.alloc(20, 0xaa);
    expect(encodePacketInto({ type: 'CAN_DO', functionName: 'reverse' }, target, 2)).toBe(-1);
    expect(target.every((byte) => byte === 0xaa)).toBe(true);
  });

  test('checks the packet whether or not it fits', () => {
    const packet = { type: 'CAN_DO', functionName: 'a\0' } as PacketInit;
    expect(() => encodePacketInto(packet, Buffer.alloc(0), 0)).toThrow(InvalidArgumentError);
    expect(() =>
      encodePacketInto({ type: 'ECHO_REQ', payload: 'abc' }, Buffer.alloc(64), 0, {
        maxPacketSize: 2,
      }),
    ).toThrow(InvalidArgumentError);
  });

  test('writes a payload over the copy threshold whole', () => {
    const payload = Buffer.alloc(COPY_THRESHOLD, 3);
    const packet: PacketInit = { type: 'WORK_DATA', handle: 'H:1', payload };
    const target = Buffer.alloc(COPY_THRESHOLD + 100);
    const end = encodePacketInto(packet, target, 0);
    expect(target.subarray(0, end)).toEqual(encodePacket(packet));
  });
});

describe('encoder validation', () => {
  test('refuses a NUL byte in every string field of every packet type', () => {
    let checked = 0;
    for (const type of Object.keys(PACKET_TYPES) as PacketType[]) {
      for (const field of PACKET_TYPES[type].fields as readonly FieldName[]) {
        if (FIELD_KINDS[field] !== 'string') continue;
        const packet = { ...sample(type), [field]: 'a\0b' };
        expect(() => encodePacket(sample(type) as PacketInit)).not.toThrow();
        const error = refused(packet, field);
        expect(error.message).toContain('NUL');
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(40);
  });

  test('accepts NUL bytes in a data field', () => {
    const bytes = encodePacket({ type: 'ECHO_REQ', payload: 'a\0b' });
    expect(bytes.subarray(12)).toEqual(hex('61 00 62'));
  });

  test(`accepts a unique of ${MAX_UNIQUE_SIZE} bytes and refuses ${MAX_UNIQUE_SIZE + 1}`, () => {
    expect(MAX_UNIQUE_SIZE).toBe(63);
    expect(() => encodePacket(submit({ unique: 'u'.repeat(63) }) as PacketInit)).not.toThrow();
    const error = refused(submit({ unique: 'u'.repeat(64) }), 'unique');
    expect(error.message).toBe('unique: 64 bytes exceeds the limit of 63 bytes');
    refused({ type: 'GET_STATUS_UNIQUE', unique: 'u'.repeat(64) }, 'unique');
  });

  test('counts the unique in UTF-8 bytes', () => {
    // "é" is two bytes: 31 of them plus one "a" is 63 bytes, 32 of them are 64.
    expect(() =>
      encodePacket(submit({ unique: `${'é'.repeat(31)}a` }) as PacketInit),
    ).not.toThrow();
    refused(submit({ unique: 'é'.repeat(32) }), 'unique');
  });

  test(`accepts a reducer of ${MAX_REDUCER_SIZE} bytes and refuses 64`, () => {
    expect(() => encodePacket(reduce('r'.repeat(63)))).not.toThrow();
    refused(reduce('r'.repeat(64)), 'reducer');
  });

  test('does not limit function names, handles or payloads to 63 bytes', () => {
    const long = 'n'.repeat(1000);
    expect(() => encodePacket({ type: 'CAN_DO', functionName: long })).not.toThrow();
    expect(() => encodePacket({ type: 'GET_STATUS', handle: long })).not.toThrow();
  });

  test.each([
    ['negative', -1],
    ['fractional', 1.5],
    ['NaN', Number.NaN],
    ['infinite', Number.POSITIVE_INFINITY],
    ['over MAX_SAFE_INTEGER', 2 ** 53],
  ])('refuses a %s number', (_, value) => {
    refused({ type: 'CAN_DO_TIMEOUT', functionName: 'f', timeout: value }, 'timeout');
    refused(
      { type: 'SUBMIT_JOB_EPOCH', functionName: 'f', unique: '', runAt: value, payload: '' },
      'runAt',
    );
  });

  test('accepts 0 and Number.MAX_SAFE_INTEGER for numbers outside WORK_STATUS', () => {
    const max = encodePacket({ type: 'CAN_DO_TIMEOUT', functionName: 'f', timeout: 2 ** 53 - 1 });
    expect(max.subarray(14).toString()).toBe('9007199254740991');
    const zero = encodePacket({ type: 'CAN_DO_TIMEOUT', functionName: 'f', timeout: 0 });
    expect(zero.subarray(14).toString()).toBe('0');
  });

  test(`refuses status numbers over ${MAX_STATUS_NUMBER}`, () => {
    expect(() =>
      encodePacket(status(MAX_STATUS_NUMBER, MAX_STATUS_NUMBER) as PacketInit),
    ).not.toThrow();
    refused(status(MAX_STATUS_NUMBER + 1), 'numerator');
    refused(status(1, MAX_STATUS_NUMBER + 1), 'denominator');
    refused(status(-1), 'numerator');
    refused(
      {
        type: 'STATUS_RES',
        handle: 'H:1',
        known: true,
        running: true,
        numerator: 0,
        denominator: 2 ** 32,
      },
      'denominator',
    );
  });

  test('refuses a magic the packet type cannot travel under', () => {
    const job = submit({}) as PacketInit;
    expect(refused(job, 'magic', { magic: 'RES' }).message).toBe(
      'magic: SUBMIT_JOB cannot be sent as RES',
    );
    refused({ type: 'JOB_CREATED', handle: 'H:1' }, 'magic', { magic: 'REQ' });
    refused({ type: 'NOOP' }, 'magic', { magic: 'REQ' });
    expect(encodePacket({ type: 'NOOP' }, { magic: 'RES' }).readUInt32BE(0)).toBe(0x00524553);
  });

  test('refuses a magic that is neither REQ nor RES, even for the WORK_* packets', () => {
    const work = { type: 'WORK_COMPLETE', handle: 'H:1', payload: '' };
    refused(work, 'magic', { magic: 'FOO' as 'REQ' });
    refused({ type: 'CAN_DO', functionName: 'f' }, 'magic', { magic: 'req' as 'REQ' });
  });

  test('refuses a body over maxPacketSize and accepts one exactly at it', () => {
    // "resize" \0 "" \0 payload: 8 bytes before the payload.
    const at = submit({ payload: 'x'.repeat(92) }) as PacketInit;
    expect(encodePacket(at, { maxPacketSize: 100 }).length).toBe(112);
    const error = refused(submit({ payload: 'x'.repeat(93) }), 'payload', { maxPacketSize: 100 });
    expect(error.message).toBe('payload: packet size 101 exceeds maxPacketSize 100');
    // The limit counts every field, not just the payload.
    refused({ type: 'CAN_DO', functionName: 'f'.repeat(11) }, 'payload', { maxPacketSize: 10 });
    expect(() => encodePacket({ type: 'NOOP' }, { maxPacketSize: 0 })).not.toThrow();
  });

  test.each([
    ['a number as a string field', submit({ functionName: 42 }), 'functionName'],
    ['undefined as a string field', submit({ unique: undefined }), 'unique'],
    ['a missing string field', { type: 'CAN_DO' }, 'functionName'],
    ['a number as a data field', submit({ payload: 42 }), 'payload'],
    ['null as a data field', submit({ payload: null }), 'payload'],
    ['an array as a data field', submit({ payload: [1, 2] }), 'payload'],
    ['a Uint16Array as a data field', submit({ payload: new Uint16Array(2) }), 'payload'],
    ['a string as a number field', status('1'), 'numerator'],
    ['a bigint as a number field', status(1n), 'numerator'],
    [
      'a number as a boolean field',
      { type: 'STATUS_RES', handle: 'h', known: 1, running: false, numerator: 0, denominator: 0 },
      'known',
    ],
    ['an unknown packet type', { type: 'NOPE' }, 'type'],
    ['an inherited property name as the type', { type: 'toString' }, 'type'],
    ['a type number instead of a name', { type: 7 }, 'type'],
  ])('refuses %s', (_, packet, field) => {
    refused(packet, field);
  });

  test('describes the wrong value in the message', () => {
    expect(refused(submit({ payload: null }), 'payload').message).toContain('got null');
    expect(refused(submit({ payload: [] }), 'payload').message).toContain('got Array');
    expect(refused(status(-3), 'numerator').message).toContain('got -3');
  });

  test('encodes correctly after a refused packet', () => {
    refused(submit({ unique: 'u'.repeat(64) }), 'unique');
    refused(submit({ payload: 42 }), 'payload');
    for (const { packet, magic, bytes } of fixtures) {
      expect(encodePacket(packet, { magic })).toEqual(bytes);
    }
  });
});
