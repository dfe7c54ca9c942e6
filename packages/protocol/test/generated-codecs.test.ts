import { describe, expect, test } from 'vitest';
import { buildBodyDecoders } from '../src/body-decoders.js';
import { buildBodyEncoders, type Tail } from '../src/body-encoders.js';
import { HEADER_SIZE } from '../src/header.js';
import {
  decodeFunctionName,
  encodePacket,
  InvalidArgumentError,
  PACKET_TYPES,
  type PacketInit,
  type PacketType,
  writeHeader,
} from '../src/index.js';
import { fixtures } from './fixtures.js';
import { thrown } from './helpers.js';

// The codec generates one function per packet type from the table, and falls back to a generic
// loop over the same table where code generation is disallowed: both must agree byte for byte.
const generated = { decoders: buildBodyDecoders(true), encoders: buildBodyEncoders(true) };
const generic = { decoders: buildBodyDecoders(false), encoders: buildBodyEncoders(false) };
const types = Object.keys(PACKET_TYPES) as PacketType[];

const magicByte = (magic: 'REQ' | 'RES'): number => (magic === 'REQ' ? 0x51 : 0x53);

describe('generated and generic codecs', () => {
  test('both have a decoder and an encoder for every packet type', () => {
    for (const codecs of [generated, generic]) {
      expect([...codecs.decoders.keys()]).toEqual(types);
      expect([...codecs.encoders.keys()]).toEqual(types);
    }
  });

  test.each(fixtures)('$name: both encode to the fixture bytes and decode it back', (fixture) => {
    const { type } = fixture.packet;
    for (const codecs of [generated, generic]) {
      const tail: Tail = { buffer: undefined };
      const encode = codecs.encoders.get(type);
      const bytes = encode?.(fixture.packet, magicByte(fixture.magic), 0xffffffff, Infinity, tail);
      expect(bytes).toEqual(fixture.bytes);
      expect(tail.buffer).toBeUndefined();
      const decode = codecs.decoders.get(type);
      const packet = decode?.(fixture.bytes, HEADER_SIZE, fixture.bytes.length);
      expect(packet).toEqual(fixture.packet);
      // One shape per type: the fields in table order, after `type`.
      expect(Object.keys(packet ?? {})).toEqual(['type', ...PACKET_TYPES[type].fields]);
    }
  });

  test.each(fixtures)('$name: both write the fixture bytes into a given buffer', (fixture) => {
    const { type } = fixture.packet;
    const size = fixture.bytes.length;
    for (const codecs of [generated, generic]) {
      const encode = codecs.encoders.get(type);
      const out = Buffer.alloc(size + 7, 0xee);
      const tail: Tail = { buffer: undefined };
      const magic = magicByte(fixture.magic);
      expect(encode?.(fixture.packet, magic, 0xffffffff, Infinity, tail, out, 3)).toBe(out);
      expect(tail.end).toBe(3 + size);
      expect(out.subarray(3, 3 + size)).toEqual(fixture.bytes);
      expect([...out.subarray(0, 3), ...out.subarray(3 + size)]).toEqual(Array(7).fill(0xee));
      // One byte short: nothing written, and -1.
      const short = Buffer.alloc(size + 2, 0xee);
      encode?.(fixture.packet, magic, 0xffffffff, Infinity, tail, short, 3);
      expect(tail.end).toBe(-1);
      expect(short.every((byte) => byte === 0xee)).toBe(true);
    }
  });

  test('both leave a payload at the copy threshold out of the head, uncopied', () => {
    const payload = Buffer.alloc(32, 0x61);
    const packet: PacketInit = { type: 'WORK_COMPLETE', handle: 'H:1', payload };
    for (const codecs of [generated, generic]) {
      const tail: Tail = { buffer: undefined };
      const head = codecs.encoders.get('WORK_COMPLETE')?.(packet, 0x51, 0xffffffff, 32, tail);
      expect(head?.length).toBe(HEADER_SIZE + 4);
      expect(head?.readUInt32BE(8)).toBe(4 + 32);
      expect(tail.buffer?.buffer).toBe(payload.buffer);
    }
  });

  test.each([
    { type: 'SUBMIT_JOB', functionName: 'a\0b', unique: '', payload: '' },
    { type: 'SUBMIT_JOB', functionName: 7, unique: '', payload: '' },
    { type: 'SUBMIT_JOB', functionName: 'f', unique: 'u'.repeat(64), payload: '' },
    { type: 'SUBMIT_JOB', functionName: 'f', unique: '', payload: 12 },
    { type: 'WORK_STATUS', handle: 'H:1', numerator: -1, denominator: 2 },
    { type: 'WORK_STATUS', handle: 'H:1', numerator: 1, denominator: 2 ** 32 },
    { type: 'STATUS_RES', handle: 'H', known: 1, running: true, numerator: 0, denominator: 0 },
    { type: 'SUBMIT_JOB', functionName: 'f', unique: '', payload: 'x'.repeat(10) },
  ] as unknown as PacketInit[])('both throw the same error for %o', (packet) => {
    const errors = [generated, generic].map((codecs) =>
      thrown(() =>
        codecs.encoders.get(packet.type)?.(packet, 0x51, 8, Infinity, { buffer: undefined }),
      ),
    );
    const [first, second] = errors as InvalidArgumentError[];
    expect(first).toBeInstanceOf(InvalidArgumentError);
    expect(second).toBeInstanceOf(InvalidArgumentError);
    expect([first?.field, first?.message]).toEqual([second?.field, second?.message]);
  });

  test.each([
    ['an ASCII handle', 'H:host:1'],
    ['a handle of 64 ASCII characters', 'H'.repeat(64)],
    ['a handle of 65 ASCII characters', 'H'.repeat(65)],
    ['a handle with a DEL', 'H:\x7f'],
    ['a Latin-1 handle', 'H:\u00e9'],
    ['a handle beyond the BMP', 'H:\u{1f600}'],
    ['an empty handle', ''],
  ])('both encode %s to the same bytes', (_name, handle) => {
    const packet: PacketInit = { type: 'WORK_COMPLETE', handle, payload: Buffer.from('ok') };
    const [first, second] = [generated, generic].map((codecs) =>
      codecs.encoders.get('WORK_COMPLETE')?.(packet, 0x51, 0xffffffff, Infinity, {
        buffer: undefined,
      }),
    );
    expect(first).toEqual(second);
    expect(first?.subarray(HEADER_SIZE)).toEqual(Buffer.from(`${handle}\0ok`, 'utf8'));
  });

  test.each([0, 1, 4, 16, 64, 65])(
    'both copy a payload of %i bytes, from a view, the same',
    (size) => {
      // A view into a larger buffer, at an offset: only its own bytes may be copied.
      const backing = Uint8Array.from({ length: size + 8 }, (_, i) => (i * 7 + 3) & 0xff);
      const payload = backing.subarray(3, 3 + size);
      const packet: PacketInit = { type: 'SUBMIT_JOB', functionName: 'f', unique: 'u', payload };
      const [first, second] = [generated, generic].map((codecs) =>
        codecs.encoders.get('SUBMIT_JOB')?.(packet, 0x51, 0xffffffff, Infinity, {
          buffer: undefined,
        }),
      );
      expect(first).toEqual(second);
      expect(first?.subarray(HEADER_SIZE)).toEqual(Buffer.concat([Buffer.from('f\0u\0'), payload]));
    },
  );

  test('the generated decoder gives each function name its own bytes, however they alternate', () => {
    const decode = generated.decoders.get('JOB_ASSIGN');
    const names = ['ab', 'ac', 'ab', 'ab', 'é', 'x'.repeat(65), 'x'.repeat(65), 'ab', 'b', 'ab'];
    for (const name of names) {
      const body = Buffer.from(`H:1\0${name}\0data`, 'utf8');
      const packet = decode?.(body, 0, body.length);
      expect(packet).toEqual({
        type: 'JOB_ASSIGN',
        handle: 'H:1',
        functionName: name,
        payload: Buffer.from('data'),
      });
      // The bytes the name came from are not kept: changing them changes nothing.
      body.fill(0x7a);
      expect(packet).toMatchObject({ functionName: name });
    }
  });

  test('both refuse a body with too few fields with the same error', () => {
    const body = Buffer.from('H:1');
    const errors = [generated, generic].map((codecs) =>
      thrown(() => codecs.decoders.get('JOB_ASSIGN_UNIQ')?.(body, 0, body.length)),
    );
    expect(errors[0]).toMatchObject({ code: 'ERR_PROTOCOL', reason: 'TOO_FEW_FIELDS' });
    expect((errors[0] as Error).message).toBe((errors[1] as Error).message);
  });
});

describe('decodeFunctionName', () => {
  test('decodes UTF-8, and gives the last string again when the same bytes come again', () => {
    const body = Buffer.from('xxrésizé\0thumb\0résizé');
    const first = decodeFunctionName(body, 2, 10);
    expect(first).toBe('résizé');
    const other = decodeFunctionName(body, 11, 16);
    expect(other).toBe('thumb');
    const again = decodeFunctionName(body, 17, body.length);
    expect(again).toBe('résizé');
    // Same length, different bytes: not the remembered name.
    expect(decodeFunctionName(Buffer.from('thumc'), 0, 5)).toBe('thumc');
    expect(decodeFunctionName(Buffer.from(''), 0, 0)).toBe('');
  });
});

describe('writeHeader', () => {
  test("writes the encoder's header, under either magic, at any offset", () => {
    const packets: [PacketInit, 'REQ' | 'RES'][] = [
      [{ type: 'WORK_COMPLETE', handle: 'H:host:1', payload: Buffer.alloc(300, 1) }, 'REQ'],
      [
        { type: 'JOB_ASSIGN_UNIQ', handle: 'H:x:2', functionName: 'f', unique: 'u', payload: 'p' },
        'RES',
      ],
      [{ type: 'NOOP' }, 'RES'],
    ];
    for (const [packet, magic] of packets) {
      const encoded = encodePacket(packet, { magic });
      const target = Buffer.alloc(HEADER_SIZE + 5, 0xff);
      writeHeader(target, 5, magic, PACKET_TYPES[packet.type].number, encoded.length - HEADER_SIZE);
      expect(target.subarray(5)).toEqual(encoded.subarray(0, HEADER_SIZE));
      expect(target.subarray(0, 5)).toEqual(Buffer.alloc(5, 0xff));
    }
  });
});
