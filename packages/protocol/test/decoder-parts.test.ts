import { describe, expect, test } from 'vitest';
import {
  type DecoderOptions,
  encodePacket,
  InvalidArgumentError,
  type Magic,
  type Packet,
  PacketDecoder,
  type PacketInit,
  ProtocolError,
} from '../src/index.js';
import { everyByte, splitAt, thrown } from './helpers.js';

/** What the decoder emitted, from either handler, in order. */
interface Emitted {
  via: 'packet' | 'parts';
  packet: Packet;
  magic: Magic;
  /** The payload's parts (`parts` only). */
  parts: readonly Buffer[];
  /** The body before the payload (`parts` only). */
  fields: Buffer;
}

function collector(options: DecoderOptions = {}) {
  const out: Emitted[] = [];
  const decoder = new PacketDecoder(
    (packet, magic) => out.push({ via: 'packet', packet, magic, parts: [], fields: EMPTY }),
    {
      onPayloadParts: (packet, magic, parts, fields) =>
        out.push({ via: 'parts', packet, magic, parts, fields }),
      ...options,
    },
  );
  return { decoder, out };
}

const EMPTY = Buffer.alloc(0);

/** A payload whose bytes all differ from their neighbours', NULs included. */
function payloadOf(size: number, seed = 1): Buffer {
  const buf = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i++) buf[i] = (i * 31 + seed * 7) & 0xff;
  return buf;
}

/** A pseudo-random generator, so that failures repeat. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

function sortedCuts(length: number, count: number, next: () => number): number[] {
  const cuts = new Set<number>();
  while (cuts.size < count) cuts.add(Math.floor(next() * (length + 1)));
  return [...cuts].sort((a, b) => a - b);
}

/** The packet without its payload, for comparing the other fields. */
function withoutPayload(packet: Packet): Record<string, unknown> {
  const { payload: _payload, ...rest } = packet as Packet & { payload?: Buffer };
  return rest;
}

/** Checks one emitted parts packet against what the plain decoder makes of the same bytes. */
function expectSameAsJoined(emitted: Emitted, frame: Buffer, chunks: readonly Buffer[]): void {
  const plain: Packet[] = [];
  const decoder = new PacketDecoder((packet) => plain.push(packet));
  decoder.push(frame);
  const expected = plain[0] as Packet & { payload: Buffer };
  expect(emitted.via).toBe('parts');
  expect(withoutPayload(emitted.packet)).toEqual(withoutPayload(expected));
  for (const part of emitted.parts) {
    expect(part.length).toBeGreaterThan(0);
    // A view of a pushed chunk, not a copy.
    expect(chunks.some((chunk) => chunk.buffer === part.buffer)).toBe(true);
  }
  expect(Buffer.concat(emitted.parts).equals(expected.payload)).toBe(true);
  const body = frame.subarray(12);
  expect(emitted.fields.equals(body.subarray(0, body.length - expected.payload.length))).toBe(true);
}

/** Pushes each chunk as a buffer of its own, as a socket delivers them. */
function own(chunks: readonly Buffer[]): Buffer[] {
  return chunks.map((chunk) => Buffer.from(chunk));
}

describe('payloads in parts (onPayloadParts)', () => {
  const small = { payloadPartsMin: 8 };

  test('every cut of a WORK_COMPLETE, and every pair of cuts, gives the same packet', () => {
    const frame = encodePacket(
      { type: 'WORK_COMPLETE', handle: 'H:box:7', payload: payloadOf(24) },
      { magic: 'RES' },
    );
    for (let a = 1; a < frame.length; a++) {
      for (let b = a; b < frame.length; b++) {
        const chunks = own(splitAt(frame, a === b ? [a] : [a, b]));
        const { decoder, out } = collector(small);
        for (const chunk of chunks) decoder.push(chunk);
        expect(out).toHaveLength(1);
        const emitted = out[0] as Emitted;
        // With the body in one chunk there is no join to avoid: it goes the ordinary way.
        const bodySplit = [a, b].some((cut) => cut > 12 && cut < frame.length);
        expect(emitted.via).toBe(bodySplit ? 'parts' : 'packet');
        if (!bodySplit) continue;
        expect(emitted.magic).toBe('RES');
        expectSameAsJoined(emitted, frame, chunks);
      }
    }
  });

  test('a header split byte by byte, then a body split across many chunks', () => {
    const payload = payloadOf(300_000, 3);
    const frame = encodePacket({
      type: 'SUBMIT_JOB_EPOCH',
      functionName: 'resize',
      unique: 'u-1',
      runAt: 1_700_000_000,
      payload,
    });
    const fieldsEnd = frame.length - payload.length;
    const chunks = own([
      ...everyByte(frame.subarray(0, fieldsEnd + 5)),
      ...splitAt(frame.subarray(fieldsEnd + 5), [1, 2, 1000, 65_536, 65_537, 200_000]),
    ]);
    const { decoder, out } = collector();
    for (const chunk of chunks) decoder.push(chunk);
    expect(out).toHaveLength(1);
    const emitted = out[0] as Emitted;
    expectSameAsJoined(emitted, frame, chunks);
    // The fields spanned one-byte chunks: they alone were joined. The payload's first five
    // bytes came one a chunk, the rest in seven chunks.
    expect(emitted.fields.toString('latin1')).toBe('resize\0u-1\x001700000000\0');
    expect(emitted.parts.map((part) => part.length).slice(0, 6)).toEqual([1, 1, 1, 1, 1, 1]);
    expect(emitted.parts).toHaveLength(12);
  });

  test('random cuts of every packet type with a payload match the joined decoding', () => {
    const next = random(42);
    const packets: PacketInit[] = [
      { type: 'SUBMIT_JOB', functionName: 'f', unique: '', payload: payloadOf(70_000) },
      { type: 'SUBMIT_JOB_BG', functionName: 'f', unique: 'u', payload: payloadOf(70_000, 2) },
      {
        type: 'SUBMIT_REDUCE_JOB',
        functionName: 'f',
        unique: 'u',
        reducer: 'r',
        aggregator: '',
        payload: payloadOf(90_000, 3),
      },
      {
        type: 'JOB_ASSIGN_ALL',
        handle: 'H:x:1',
        functionName: 'f',
        unique: 'u',
        reducer: 'r',
        payload: payloadOf(80_000, 4),
      },
      { type: 'WORK_DATA', handle: 'H:x:2', payload: payloadOf(65_536, 5) },
      { type: 'WORK_EXCEPTION', handle: 'H:x:3', payload: payloadOf(66_000, 6) },
      { type: 'ECHO_REQ', payload: payloadOf(100_000, 7) },
    ];
    for (const init of packets) {
      const frame = encodePacket(init);
      for (let round = 0; round < 20; round++) {
        const cuts = sortedCuts(frame.length, 1 + Math.floor(next() * 12), next);
        const chunks = own(splitAt(frame, cuts).filter((chunk) => chunk.length > 0));
        const { decoder, out } = collector();
        for (const chunk of chunks) decoder.push(chunk);
        expect(out).toHaveLength(1);
        const emitted = out[0] as Emitted;
        if (emitted.via === 'parts') expectSameAsJoined(emitted, frame, chunks);
        else expect(chunks.some((chunk) => chunk.length >= frame.length - 12)).toBe(true);
      }
    }
  });

  test('packet.payload joins the parts once, on first read', () => {
    const payload = payloadOf(100_000);
    const frame = encodePacket({ type: 'WORK_COMPLETE', handle: 'H:1', payload });
    const { decoder, out } = collector();
    decoder.push(frame.subarray(0, 50_000));
    decoder.push(frame.subarray(50_000));
    const packet = (out[0] as Emitted).packet as Packet & { payload: Buffer };
    const first = packet.payload;
    expect(first.equals(payload)).toBe(true);
    expect(packet.payload).toBe(first);
    expect(Object.keys(packet)).toContain('payload');
  });

  test('packets around a parted one keep their order and their handler', () => {
    const noop = encodePacket({ type: 'NOOP' });
    const big = encodePacket({ type: 'WORK_DATA', handle: 'H:2', payload: payloadOf(70_000) });
    const created = encodePacket({ type: 'JOB_CREATED', handle: 'H:3' });
    const stream = Buffer.concat([noop, big, created, noop]);
    const chunks = own(splitAt(stream, [20, 40_000, stream.length - 14]));
    const { decoder, out } = collector();
    for (const chunk of chunks) decoder.push(chunk);
    expect(out.map((emitted) => `${emitted.via} ${emitted.packet.type}`)).toEqual([
      'packet NOOP',
      'parts WORK_DATA',
      'packet JOB_CREATED',
      'packet NOOP',
    ]);
  });

  test('the ordinary handler gets what is not for parts', () => {
    const { decoder, out } = collector();
    // Below the threshold, though split.
    const smallJob = encodePacket({ type: 'WORK_DATA', handle: 'H:1', payload: payloadOf(1000) });
    decoder.push(smallJob.subarray(0, 500));
    decoder.push(smallJob.subarray(500));
    // A large body without a payload field.
    const error = encodePacket({ type: 'ERROR', code: 'E', message: 'm'.repeat(70_000) });
    decoder.push(error.subarray(0, 30_000));
    decoder.push(error.subarray(30_000));
    // A large body whose payload is small: the other fields are what is large.
    const longName = encodePacket({
      type: 'JOB_ASSIGN',
      handle: 'H:2',
      functionName: 'f'.repeat(70_000),
      payload: payloadOf(10),
    });
    decoder.push(longName.subarray(0, 30_000));
    decoder.push(longName.subarray(30_000));
    // A large payload in one chunk.
    decoder.push(encodePacket({ type: 'WORK_DATA', handle: 'H:3', payload: payloadOf(70_000) }));
    expect(out.map((emitted) => emitted.via)).toEqual(['packet', 'packet', 'packet', 'packet']);
    const assign = out[2]?.packet as (Packet & { functionName: string }) | undefined;
    expect(assign?.functionName).toHaveLength(70_000);
  });

  test('a body read in place (readTarget) goes to onPacket', () => {
    const payload = payloadOf(100_000);
    const frame = encodePacket({ type: 'WORK_COMPLETE', handle: 'H:1', payload });
    const { decoder, out } = collector();
    decoder.push(Buffer.from(frame.subarray(0, 30_000)));
    const target = decoder.readTarget(1);
    if (target === undefined) throw new Error('no target');
    const read = frame.copy(target, 0, 30_000);
    decoder.push(target.subarray(0, read));
    expect(out.map((emitted) => emitted.via)).toEqual(['packet']);
    const packet = out[0]?.packet as (Packet & { payload: Buffer }) | undefined;
    expect(packet?.payload.equals(payload)).toBe(true);
  });

  test('without onPayloadParts, every packet has one Buffer payload', () => {
    const payload = payloadOf(200_000);
    const frame = encodePacket({ type: 'WORK_COMPLETE', handle: 'H:1', payload });
    const packets: Packet[] = [];
    const decoder = new PacketDecoder((packet) => packets.push(packet));
    for (const chunk of splitAt(frame, [10, 65_536, 131_072])) decoder.push(chunk);
    const packet = packets[0] as Packet & { payload: Buffer };
    expect(Buffer.isBuffer(packet.payload)).toBe(true);
    expect(packet.payload.equals(payload)).toBe(true);
  });
});

describe('payloads in parts: limits', () => {
  test('a header over maxPacketSize is refused before anything is held', () => {
    const { decoder, out } = collector({ maxPacketSize: 100_000 });
    const frame = encodePacket({ type: 'WORK_DATA', handle: 'H', payload: payloadOf(100_010) });
    const error = thrown(() => decoder.push(frame.subarray(0, 12)));
    expect(error).toBeInstanceOf(ProtocolError);
    expect((error as ProtocolError).reason).toBe('TOO_LARGE');
    expect(out).toHaveLength(0);
    expect(() => decoder.push(frame.subarray(12))).toThrow(error as Error);
  });

  test('a header claiming 4 GiB costs only what has arrived', () => {
    const { decoder, out } = collector({ maxPacketSize: 0xffffffff });
    const header = Buffer.from('0052455100000007ffffffff', 'hex');
    decoder.push(header);
    expect(decoder.bufferedBytes).toBe(12);
    decoder.push(Buffer.from('f\0u\0abc'));
    expect(decoder.bufferedBytes).toBe(19);
    expect(out).toHaveLength(0);
  });

  test('a body with too few fields is a typed error, as without parts', () => {
    const body = Buffer.alloc(100_000, 0x61); // no NUL: SUBMIT_JOB needs two
    const frame = Buffer.concat([Buffer.from('0052455100000007', 'hex'), Buffer.alloc(4), body]);
    frame.writeUInt32BE(body.length, 8);
    const { decoder, out } = collector();
    decoder.push(frame.subarray(0, 40_000));
    const error = thrown(() => decoder.push(frame.subarray(40_000)));
    expect(error).toBeInstanceOf(ProtocolError);
    expect((error as ProtocolError).reason).toBe('TOO_FEW_FIELDS');
    expect(out).toHaveLength(0);
  });

  test('a throw from onPayloadParts ends the decoder like one from onPacket', () => {
    const boom = new Error('boom');
    const decoder = new PacketDecoder(() => {}, {
      onPayloadParts: () => {
        throw boom;
      },
    });
    const frame = encodePacket({ type: 'ECHO_REQ', payload: payloadOf(70_000) });
    decoder.push(frame.subarray(0, 100));
    expect(() => decoder.push(frame.subarray(100))).toThrow(boom);
    expect(() => decoder.push(encodePacket({ type: 'NOOP' }))).toThrow(boom);
  });

  test('payloadPartsMin must be a positive integer', () => {
    for (const payloadPartsMin of [0, -1, 1.5, Number.NaN]) {
      const error = thrown(() => new PacketDecoder(() => {}, { payloadPartsMin }));
      expect(error).toBeInstanceOf(InvalidArgumentError);
    }
  });
});
