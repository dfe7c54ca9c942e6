import { describe, expect, test } from 'vitest';
import { encodePacket, encodePacketParts, PACKET_TYPES, type PacketType } from '../src/index.js';
import { fixtures, hex } from './fixtures.js';
import { decodeAll, everyByte, splitAt } from './helpers.js';

// style.md section 5: one fixture table, five tests per fixture.
for (const { name, packet, magic, bytes } of fixtures) {
  describe(name, () => {
    test('encodes to its bytes', () => {
      expect(encodePacket(packet, { magic })).toEqual(bytes);
      expect(encodePacketParts(packet, { magic })).toEqual([bytes]);
    });

    test('decodes whole', () => {
      expect(decodeAll([bytes])).toEqual([{ packet, magic }]);
    });

    test('decodes byte by byte', () => {
      expect(decodeAll(everyByte(bytes))).toEqual([{ packet, magic }]);
    });

    test('decodes at every split point', () => {
      for (let i = 1; i < bytes.length; i++) {
        expect(decodeAll(splitAt(bytes, [i]))).toEqual([{ packet, magic }]);
      }
      // The same between two other packets, so the cut also falls inside their bytes and the
      // fixture starts mid-chunk.
      const noop = hex('00524553 00000006 00000000');
      const stream = Buffer.concat([noop, bytes, noop]);
      const expected = [
        { packet: { type: 'NOOP' }, magic: 'RES' },
        { packet, magic },
      ];
      expected.push(expected[0]!);
      for (let i = 1; i < stream.length; i++) {
        expect(decodeAll(splitAt(stream, [i]))).toEqual(expected);
      }
    });

    test('round-trips', () => {
      const [decoded] = decodeAll([encodePacket(packet, { magic })]);
      expect(decoded).toEqual({ packet, magic });
      expect(encodePacket(decoded!.packet, { magic: decoded!.magic })).toEqual(bytes);
    });
  });
}

describe('the fixture table', () => {
  test('covers every packet type', () => {
    const covered = new Set(fixtures.map((fixture) => fixture.packet.type));
    const all = Object.keys(PACKET_TYPES) as PacketType[];
    expect(all).toHaveLength(41);
    expect(all.filter((type) => !covered.has(type))).toEqual([]);
  });

  test('covers the WORK_* packets under both magics', () => {
    const both = (Object.keys(PACKET_TYPES) as PacketType[]).filter(
      (type) => PACKET_TYPES[type].magic === 'BOTH',
    );
    expect(both).toHaveLength(6);
    for (const type of both) {
      const magics = fixtures.filter((f) => f.packet.type === type).map((f) => f.magic);
      expect(new Set(magics), type).toEqual(new Set(['REQ', 'RES']));
    }
  });

  test('has unique names and header sizes that match the bodies', () => {
    expect(new Set(fixtures.map((f) => f.name)).size).toBe(fixtures.length);
    for (const { name, packet, bytes } of fixtures) {
      expect(bytes.readUInt32BE(4), name).toBe(PACKET_TYPES[packet.type].number);
      expect(bytes.readUInt32BE(8), name).toBe(bytes.length - 12);
    }
  });

  test('decodes all fixtures as one stream, byte by byte', () => {
    const stream = Buffer.concat(fixtures.map((f) => f.bytes));
    const expected = fixtures.map(({ packet, magic }) => ({ packet, magic }));
    expect(decodeAll([stream])).toEqual(expected);
    expect(decodeAll(everyByte(stream))).toEqual(expected);
  });
});
