import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import {
  encodePacket,
  encodePacketParts,
  FIELD_KINDS,
  type FieldName,
  MAX_REDUCER_SIZE,
  MAX_STATUS_NUMBER,
  MAX_UNIQUE_SIZE,
  type Magic,
  PACKET_TYPES,
  type Packet,
  PacketDecoder,
  type PacketInit,
  type PacketType,
} from '../src/index.js';
import { type Decoded, decodeAll, splitAt } from './helpers.js';

// Arbitraries derived from the packet table, so a new packet type or field is covered at once.

/** Any string without NUL: ASCII control bytes, full Unicode code points, multi-point graphemes. */
const text = fc
  .oneof(
    fc.string({ unit: 'binary-ascii', maxLength: 24 }),
    fc.string({ unit: 'binary', maxLength: 12 }),
    fc.string({ unit: 'grapheme', maxLength: 6 }),
  )
  .filter((value) => !value.includes('\0'));

const limited = (max: number) => text.filter((value) => Buffer.byteLength(value) <= max);

const bytes = fc.oneof(
  { weight: 4, arbitrary: fc.uint8Array({ maxLength: 64 }) },
  { weight: 1, arbitrary: fc.uint8Array({ minLength: 200, maxLength: 2000 }) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 8, max: 1 }) }, // mostly NULs
);

function fieldArbitrary(field: FieldName): fc.Arbitrary<unknown> {
  switch (FIELD_KINDS[field]) {
    case 'string':
      if (field === 'unique') return limited(MAX_UNIQUE_SIZE);
      if (field === 'reducer') return limited(MAX_REDUCER_SIZE);
      return text;
    case 'number':
      return field === 'numerator' || field === 'denominator'
        ? fc.integer({ min: 0, max: MAX_STATUS_NUMBER })
        : fc.oneof(fc.nat(1000), fc.maxSafeNat());
    case 'boolean':
      return fc.boolean();
    case 'data':
      // Encoders take strings too (UTF-8); the decoder always gives Buffers.
      return fc.oneof({ weight: 3, arbitrary: bytes }, { weight: 1, arbitrary: text });
  }
}

interface Sample {
  init: PacketInit;
  magic: Magic;
}

const types = Object.keys(PACKET_TYPES) as PacketType[];

function packetArbitrary(type: PacketType): fc.Arbitrary<Sample> {
  const shape: Record<string, fc.Arbitrary<unknown>> = {};
  for (const field of PACKET_TYPES[type].fields as readonly FieldName[]) {
    shape[field] = fieldArbitrary(field);
  }
  const allowed = PACKET_TYPES[type].magic;
  const magic: fc.Arbitrary<Magic> =
    allowed === 'BOTH' ? fc.constantFrom('REQ', 'RES') : fc.constant(allowed);
  return fc
    .record({ fields: fc.record(shape), magic })
    .map(({ fields, magic }) => ({ init: { type, ...fields } as PacketInit, magic }));
}

/** Any valid packet of any type, with a magic it may travel under. */
const anyPacket: fc.Arbitrary<Sample> = fc.oneof(...types.map(packetArbitrary));

/** What the decoder should give back for `init`: the same fields, `data` as Buffer. */
function expected({ init, magic }: Sample): Decoded {
  const packet: Record<string, unknown> = { type: init.type };
  const record = init as unknown as Record<string, unknown>;
  for (const field of PACKET_TYPES[init.type].fields as readonly FieldName[]) {
    const value = record[field];
    packet[field] =
      FIELD_KINDS[field] === 'data' ? Buffer.from(value as string | Uint8Array) : value;
  }
  return { packet: packet as Packet, magic };
}

/**
 * `expect(actual).toStrictEqual(wanted)`, but checked with Node's much faster comparison first:
 * vitest's matcher would take most of the run time, and is only needed for its diff.
 */
function expectSame(actual: unknown, wanted: unknown): void {
  if (!isDeepStrictEqual(actual, wanted)) expect(actual).toStrictEqual(wanted);
}

const runs = 10_000;
const timeout = 60_000; // normally a few seconds; generous for a loaded CI machine

describe('property: any valid packet', () => {
  test(
    `encodes and decodes back to itself (${runs} runs)`,
    () => {
      fc.assert(
        fc.property(anyPacket, (sample) => {
          const bytes = encodePacket(sample.init, { magic: sample.magic });
          expectSame(bytes.readUInt32BE(8), bytes.length - 12);
          expectSame(decodeAll([bytes]), [expected(sample)]);
          expectSame(encodePacketParts(sample.init, { magic: sample.magic }), [bytes]);
        }),
        { numRuns: runs },
      );
    },
    timeout,
  );
});

describe('property: a stream of valid packets', () => {
  const stream = fc.record({
    samples: fc.array(anyPacket, { minLength: 1, maxLength: 8 }),
    // Cut points as fractions of the stream's length; repeats make empty chunks, also valid.
    cuts: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 12 }),
  });

  test(
    `split at random offsets decodes to the same packets (${runs} runs)`,
    () => {
      fc.assert(
        fc.property(stream, ({ samples, cuts }) => {
          const bytes = Buffer.concat(samples.map((s) => encodePacket(s.init, { magic: s.magic })));
          const offsets = cuts.map((cut) => Math.floor(cut * bytes.length)).sort((a, b) => a - b);
          const chunks = splitAt(bytes, offsets);
          expectSame(decodeAll(chunks), samples.map(expected));
        }),
        { numRuns: runs },
      );
    },
    timeout,
  );

  test(
    'mixed with admin text lines decodes to the same packets and lines (1000 runs)',
    () => {
      // A line: no NUL (that would start a packet), no LF, no CR at its end (stripped with CRLF).
      const line = text
        .filter((value) => !value.includes('\n') && !value.endsWith('\r'))
        .chain((value) =>
          fc.constantFrom('\n', '\r\n').map((end) => ({ value, bytes: Buffer.from(value + end) })),
        );
      const unit = fc.oneof(
        anyPacket.map((sample) => ({ sample })),
        line.map((text) => ({ text })),
      );
      fc.assert(
        fc.property(
          fc.array(unit, { minLength: 1, maxLength: 8 }),
          fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 12 }),
          (units, cuts) => {
            const parts: Buffer[] = [];
            const want: unknown[] = [];
            for (const unit of units) {
              if ('sample' in unit) {
                parts.push(encodePacket(unit.sample.init, { magic: unit.sample.magic }));
                want.push(expected(unit.sample));
              } else {
                parts.push(unit.text.bytes);
                want.push(unit.text.value);
              }
            }
            const bytes = Buffer.concat(parts);
            const offsets = cuts.map((cut) => Math.floor(cut * bytes.length)).sort((a, b) => a - b);
            const got: unknown[] = [];
            const decoder = new PacketDecoder((packet, magic) => got.push({ packet, magic }), {
              onText: (value) => got.push(value),
            });
            for (const chunk of splitAt(bytes, offsets)) decoder.push(chunk);
            expectSame(got, want);
            expectSame(decoder.bufferedBytes, 0);
          },
        ),
        { numRuns: 1000 },
      );
    },
    timeout,
  );
});
