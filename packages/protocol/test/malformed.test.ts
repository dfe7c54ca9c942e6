import { describe, expect, test } from 'vitest';
import {
  encodePacket,
  FIELD_KINDS,
  type FieldName,
  PACKET_TYPES,
  type Packet,
  PacketDecoder,
  type PacketInit,
  type PacketType,
  ProtocolError,
  type ProtocolErrorReason,
} from '../src/index.js';
import { fixtures } from './fixtures.js';

/*
 * Malformed input: random and mutated frames pushed through reused decoders. The decoder may
 * accept or refuse each one, but it must never throw anything other than a ProtocolError from
 * the set below, and never hold more than maxPacketSize + 12 bytes.
 *
 * GEARMANODE_FUZZ_FRAMES sets the number of frames (default 1,000,000; `pnpm fuzz:long` runs
 * 10,000,000), GEARMANODE_FUZZ_SEED replays a run: a failure prints the seed to use.
 */

const frames = Number(process.env.GEARMANODE_FUZZ_FRAMES ?? 1_000_000);
const seed = Number(process.env.GEARMANODE_FUZZ_SEED ?? Date.now() >>> 0);
const maxPacketSize = 4096; // small, so that random sizes often land on both sides of it
const maxLineLength = 1024; // within maxPacketSize + 12, so the bound below holds in text mode too
const bufferLimit = maxPacketSize + 12;

/** The reasons PacketDecoder may give; BAD_RESPONSE and UNEXPECTED_PACKET belong to others. */
const decoderReasons: ReadonlySet<ProtocolErrorReason> = new Set<ProtocolErrorReason>([
  'BAD_MAGIC',
  'UNKNOWN_TYPE',
  'TOO_LARGE',
  'TOO_FEW_FIELDS',
  'LINE_TOO_LONG',
]);

/** mulberry32: a small, fast, seeded PRNG, so every run can be replayed from its seed. */
function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

class Random {
  readonly next: () => number;
  constructor(seed: number) {
    this.next = prng(seed);
  }
  /** An integer in [0, n). */
  below(n: number): number {
    return this.next() % n;
  }
  chance(oneIn: number): boolean {
    return this.next() % oneIn === 0;
  }
  bytes(length: number): Buffer {
    const buf = Buffer.allocUnsafe(length);
    for (let i = 0; i < length; i++) buf[i] = this.next() & 0xff;
    return buf;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.below(items.length)] as T;
  }
}

const types = Object.keys(PACKET_TYPES) as PacketType[];

/** A random valid packet: short names, numbers in range, payloads of 0 to ~5000 bytes. */
function randomPacket(random: Random): { init: PacketInit; magic: 'REQ' | 'RES' } {
  const type = random.pick(types);
  const init: Record<string, unknown> = { type };
  for (const field of PACKET_TYPES[type].fields as readonly FieldName[]) {
    switch (FIELD_KINDS[field]) {
      case 'string':
        init[field] = random.bytes(random.below(12)).toString('hex');
        break;
      case 'number':
        init[field] = random.below(100_000);
        break;
      case 'boolean':
        init[field] = random.chance(2);
        break;
      case 'data': {
        const size = random.chance(8) ? maxPacketSize - 64 + random.below(128) : random.below(64);
        init[field] = random.bytes(size);
        break;
      }
    }
  }
  const allowed = PACKET_TYPES[type].magic;
  const magic = allowed === 'BOTH' ? (random.chance(2) ? 'REQ' : 'RES') : allowed;
  return { init: init as PacketInit, magic };
}

/** Sizes that matter: zero, tiny, at and around the limit, the 4 GiB maximum, anything. */
function randomSize(random: Random, actual: number): number {
  switch (random.below(8)) {
    case 0:
      return 0;
    case 1:
      return random.below(16);
    case 2:
      return Math.max(0, actual + random.below(9) - 4);
    case 3:
      return maxPacketSize + random.below(3) - 1;
    case 4:
      return 0xffffffff - random.below(2);
    case 5:
      return 0x80000000 + random.below(16);
    default:
      return random.next();
  }
}

function randomType(random: Random): number {
  switch (random.below(4)) {
    case 0:
      return random.below(50); // around the table, including 0, 5 and 43..
    case 1:
      return random.pick([0, 5, 43, 255, 0x7fffffff, 0x80000000, 0xffffffff]);
    default:
      return PACKET_TYPES[random.pick(types)].number;
  }
}

/** One frame: a valid encoding, mutated in one of several ways, or plain garbage. */
function randomFrame(random: Random, corpus: readonly Buffer[]): Buffer {
  const valid = random.pick(corpus);
  switch (random.below(12)) {
    case 0:
      return valid; // unchanged, so that the decoder also gets streams it must accept
    case 1: {
      // Flip one to four bytes.
      const frame = Buffer.from(valid);
      for (let n = 1 + random.below(4); n > 0; n--) {
        const at = random.below(frame.length);
        frame[at] = (frame[at] as number) ^ (1 + random.below(255));
      }
      return frame;
    }
    case 2: {
      // Flip a byte in the header only.
      const frame = Buffer.from(valid);
      const at = random.below(12);
      frame[at] = (frame[at] as number) ^ (1 << random.below(8));
      return frame;
    }
    case 3:
      return valid.subarray(0, random.below(valid.length + 1)); // truncated
    case 4: {
      const frame = Buffer.from(valid);
      frame.writeUInt32BE(randomSize(random, valid.length - 12), 8);
      return frame;
    }
    case 5: {
      const frame = Buffer.from(valid);
      frame.writeUInt32BE(randomType(random), 4);
      return frame;
    }
    case 6: {
      // Remove the NUL separators: too few fields for most types.
      const frame = Buffer.from(valid);
      for (let i = 12; i < frame.length; i++) if (frame[i] === 0) frame[i] = 0x41;
      return frame;
    }
    case 7: {
      // A valid magic, then anything.
      const frame = random.bytes(12 + random.below(80));
      frame.writeUInt32BE(random.chance(2) ? 0x00524551 : 0x00524553, 0);
      frame.writeUInt32BE(randomType(random), 4);
      frame.writeUInt32BE(randomSize(random, frame.length - 12), 8);
      return frame;
    }
    case 8: {
      // Garbage, often starting with a zero byte so the header checks are reached.
      const frame = random.bytes(random.below(64));
      if (frame.length > 0 && random.chance(2)) frame[0] = 0;
      return frame;
    }
    case 9: {
      // Text lines, some too long, some without their newline.
      const length = random.chance(4) ? maxLineLength - 2 + random.below(5) : random.below(40);
      const frame = Buffer.alloc(length + 2, 0x61 + random.below(26));
      if (random.chance(4)) frame.fill(0x20, 0, 1);
      frame.write(random.chance(2) ? '\r\n' : 'x\n', length);
      return random.chance(8) ? frame.subarray(0, length) : frame;
    }
    case 10: {
      // Magic variants one byte away from valid.
      const frame = Buffer.from(valid);
      frame[random.below(4)] = random.pick([0x00, 0x52, 0x45, 0x51, 0x53, 0x54, 0xff]);
      return frame;
    }
    default: {
      // Several frames back to back, one of them possibly mutated.
      const parts = [valid, random.pick(corpus)];
      if (random.chance(2)) parts.push(randomFrame(random, corpus));
      return Buffer.concat(parts);
    }
  }
}

/** Cuts a frame into chunks: whole, at a few random points, or byte by byte. */
function chunksOf(random: Random, frame: Buffer): Buffer[] {
  const mode = random.below(8);
  if (mode < 4 || frame.length < 2) return [frame];
  if (mode === 7 && frame.length <= 64) {
    const chunks: Buffer[] = [];
    for (let i = 0; i < frame.length; i++) chunks.push(frame.subarray(i, i + 1));
    return chunks;
  }
  const cuts: number[] = [];
  for (let n = 1 + random.below(4); n > 0; n--) cuts.push(random.below(frame.length + 1));
  cuts.sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let from = 0;
  for (const cut of cuts) {
    chunks.push(frame.subarray(from, cut));
    from = cut;
  }
  chunks.push(frame.subarray(from));
  return chunks;
}

interface Failure {
  frame: number;
  problem: string;
  bytes: string;
}

describe('malformed input', () => {
  test(
    `${frames} random or mutated frames throw only ProtocolErrors and stay within the buffer bound`,
    ({ onTestFailed }) => {
      onTestFailed(() => {
        console.error(`malformed.test.ts: replay with GEARMANODE_FUZZ_SEED=${seed}`);
      });
      const random = new Random(seed);
      const corpus: Buffer[] = fixtures.map((fixture) => fixture.bytes);
      for (let i = 0; i < 200; i++) {
        const { init, magic } = randomPacket(random);
        corpus.push(encodePacket(init, { magic }));
      }

      const failures: Failure[] = [];
      const fail = (frame: number, problem: string, bytes: Buffer) => {
        if (failures.length < 5) {
          failures.push({ frame, problem, bytes: bytes.subarray(0, 96).toString('hex') });
        }
      };
      let packets = 0;
      let lines = 0;
      let strangePackets = 0;
      const onPacket = (packet: Packet) => {
        packets++;
        if (!Object.hasOwn(PACKET_TYPES, packet.type)) strangePackets++;
      };
      const onText = (line: string) => {
        lines++;
        if (line.length > maxLineLength) strangePackets++;
      };
      const binary = new PacketDecoder(onPacket, { maxPacketSize });
      const text = new PacketDecoder(onPacket, { maxPacketSize, onText, maxLineLength });
      const reasons = new Map<string, number>();

      for (let n = 0; n < frames; n++) {
        const frame = randomFrame(random, corpus);
        // One stream in four carries text lines; a fresh stream one frame in eight.
        const decoder = random.chance(4) ? text : binary;
        if (random.chance(8)) decoder.reset();
        let refused: unknown;
        try {
          for (const chunk of chunksOf(random, frame)) {
            decoder.push(chunk);
            if (decoder.bufferedBytes > bufferLimit) {
              fail(n, `bufferedBytes ${decoder.bufferedBytes} > ${bufferLimit}`, frame);
            }
          }
        } catch (error) {
          refused = error;
        }
        if (refused === undefined) continue;
        if (!(refused instanceof ProtocolError)) {
          fail(n, `threw ${String((refused as Error)?.stack ?? refused)}`, frame);
        } else if (refused.code !== 'ERR_PROTOCOL' || !decoderReasons.has(refused.reason)) {
          fail(n, `code ${refused.code}, reason ${refused.reason}`, frame);
        } else {
          reasons.set(refused.reason, (reasons.get(refused.reason) ?? 0) + 1);
        }
        if (decoder.bufferedBytes > bufferLimit) {
          fail(n, `bufferedBytes ${decoder.bufferedBytes} after a failure`, frame);
        }
        // A failed decoder stays failed with the same error until reset.
        if (random.chance(16)) {
          try {
            decoder.push(frame);
            fail(n, 'push after a failure did not throw', frame);
          } catch (again) {
            if (again !== refused) fail(n, 'push after a failure threw another error', frame);
          }
        }
        decoder.reset();
      }

      if (process.env.GEARMANODE_FUZZ_FRAMES !== undefined) {
        const refusals = JSON.stringify(Object.fromEntries(reasons));
        console.log(`seed ${seed}: ${packets} packets, ${lines} lines, refused ${refusals}`);
      }
      expect(failures, `replay with GEARMANODE_FUZZ_SEED=${seed}`).toEqual([]);
      expect(strangePackets, `seed ${seed}`).toBe(0);
      // The generator reaches every check of the decoder, and valid data still gets through.
      if (frames >= 100_000) {
        expect([...reasons.keys()].sort(), `seed ${seed}`).toEqual([...decoderReasons].sort());
        expect(packets).toBeGreaterThan(frames / 10);
        expect(lines).toBeGreaterThan(frames / 1000);
      }
    },
    Math.max(60_000, (frames / 1_000_000) * 60_000),
  );
});
