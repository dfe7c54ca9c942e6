/**
 * Codec throughput: `pnpm --filter @gearmanode/protocol bench` (or `pnpm bench` at the root).
 *
 * For each case it warms up, runs several timed rounds of about a quarter second and prints the
 * median: packets per second, half the spread between the slowest and fastest round (as ±%,
 * large on a busy machine), and megabytes (10^6 bytes, on the wire) per second, on one core.
 * Decoding is measured the way a socket delivers data: a stream of packets cut into 64 KiB
 * chunks, packets split across chunk boundaries included.
 */
import {
  encodePacket,
  encodePacketParts,
  type Packet,
  PacketDecoder,
  type PacketInit,
} from '../src/index.js';

const ROUNDS = 9;
const WARMUP_ROUNDS = 3;
const ROUND_MS = 250;
const CHUNK = 64 * 1024;

interface Result {
  name: string;
  packetsPerSecond: number;
  bytesPerSecond: number;
}

let sink = 0; // consumed by every benchmark, so that no work can be optimised away

/** Runs `round` (which handles `packetsPerRound` packets) repeatedly; returns the median rate. */
function measure(
  name: string,
  packetsPerRound: number,
  bytesPerPacket: number,
  round: () => void,
  note?: string,
): Result {
  const rates: number[] = [];
  for (let r = 0; r < WARMUP_ROUNDS + ROUNDS; r++) {
    let iterations = 0;
    const start = performance.now();
    let elapsed = 0;
    do {
      round();
      iterations++;
      elapsed = performance.now() - start;
    } while (elapsed < ROUND_MS);
    if (r >= WARMUP_ROUNDS) rates.push((iterations * packetsPerRound * 1000) / elapsed);
  }
  rates.sort((a, b) => a - b);
  const packetsPerSecond = rates[Math.floor(rates.length / 2)] ?? 0;
  const spread = ((rates.at(-1) ?? 0) - (rates[0] ?? 0)) / packetsPerSecond;
  const result: Result = {
    name,
    packetsPerSecond,
    bytesPerSecond: packetsPerSecond * bytesPerPacket,
  };
  print(result, spread, note);
  return result;
}

/** One line: the median rate, its spread over the rounds (max - min, in % of it), bytes/s. */
function print(
  { name, packetsPerSecond, bytesPerSecond }: Result,
  spread: number,
  note?: string,
): void {
  const rate =
    packetsPerSecond >= 1e5
      ? `${(packetsPerSecond / 1e6).toFixed(2)} M packets/s`
      : `${Math.round(packetsPerSecond).toLocaleString('en')} packets/s`;
  // Where the payload is not copied, bytes per second says nothing about the codec.
  const bytes = note ?? `${(bytesPerSecond / 1e6).toFixed(0).padStart(7)} MB/s`;
  const noise = `±${Math.round((spread * 100) / 2)}%`.padStart(5);
  console.log(`  ${name.padEnd(36)} ${rate.padStart(18)} ${noise}  ${bytes}`);
}

/** `stream` cut into chunks of `size` bytes (views, no copies), as a socket would deliver it. */
function chunked(stream: Buffer, size: number): Buffer[] {
  const chunks: Buffer[] = [];
  for (let i = 0; i < stream.length; i += size) chunks.push(stream.subarray(i, i + size));
  return chunks;
}

function countingDecoder(): PacketDecoder {
  return new PacketDecoder((packet: Packet) => {
    sink += packet.type.length;
  });
}

function benchSmall(name: string, packet: PacketInit, magic: 'REQ' | 'RES'): Result[] {
  const bytes = encodePacket(packet, { magic });
  console.log(`\n${name}: ${bytes.length} bytes on the wire`);
  const encode = measure('encode (encodePacket)', 1000, bytes.length, () => {
    for (let i = 0; i < 1000; i++) sink += encodePacket(packet, { magic }).length;
  });
  // 10,000 packets back to back, delivered in 64 KiB chunks.
  const count = 10_000;
  const chunks = chunked(Buffer.concat(Array.from({ length: count }, () => bytes)), CHUNK);
  const decoder = countingDecoder();
  const decode = measure('decode (64 KiB chunks)', count, bytes.length, () => {
    for (const chunk of chunks) decoder.push(chunk);
  });
  const single = countingDecoder();
  measure('decode (one push per packet)', 1000, bytes.length, () => {
    for (let i = 0; i < 1000; i++) single.push(bytes);
  });
  return [encode, decode];
}

const handle = 'H:box:42';
const small = benchSmall(
  '(a) WORK_COMPLETE, 16-byte payload',
  { type: 'WORK_COMPLETE', handle, payload: Buffer.alloc(16, 0x61) },
  'RES',
);
benchSmall(
  '(b) JOB_ASSIGN_UNIQ, 100-byte payload',
  {
    type: 'JOB_ASSIGN_UNIQ',
    handle,
    functionName: 'resize',
    unique: 'c2a6b5a0-5d1e-4f43-9a35-4c1d2f3e4a5b',
    payload: Buffer.alloc(100, 0x62),
  },
  'RES',
);

// (c) A 1 MiB payload.
const MiB = 1024 * 1024;
const bigPayload = Buffer.alloc(MiB, 0x63);
const big: PacketInit = { type: 'WORK_COMPLETE', handle, payload: bigPayload };
const bigBytes = encodePacket(big, { magic: 'RES' });
console.log(`\n(c) WORK_COMPLETE, 1 MiB payload: ${bigBytes.length} bytes on the wire`);
measure(
  'encode (encodePacketParts)',
  1,
  bigBytes.length,
  () => {
    sink += encodePacketParts(big, { magic: 'RES' }).length;
  },
  '(payload not copied)',
);
measure('encode (encodePacket, one buffer)', 1, bigBytes.length, () => {
  sink += encodePacket(big, { magic: 'RES' }).length;
});
const bigChunks = chunked(bigBytes, CHUNK);
const bigDecoder = countingDecoder();
measure(`decode (${bigChunks.length} chunks of 64 KiB)`, 1, bigBytes.length, () => {
  for (const chunk of bigChunks) bigDecoder.push(chunk);
});
measure(
  'decode (one chunk)',
  1,
  bigBytes.length,
  () => bigDecoder.push(bigBytes),
  '(payload not copied)',
);

// No copy: a payload inside one chunk is a view of that chunk, and a large payload is sent as is.
let decoded: Buffer | undefined;
new PacketDecoder((packet) => {
  if (packet.type === 'WORK_COMPLETE') decoded = packet.payload;
}).push(bigBytes);
const [, sent] = encodePacketParts(big, { magic: 'RES' });
console.log(
  `\nno copy: decoded 1 MiB payload shares the chunk's ArrayBuffer: ${decoded?.buffer === bigBytes.buffer}; ` +
    `encodePacketParts returns the caller's ArrayBuffer: ${sent?.buffer === bigPayload.buffer}`,
);

const [smallEncode, smallDecode] = small;
const target = 2_000_000;
console.log(
  `\ntarget: decode of (a) >= ${target / 1e6} M packets/s: ` +
    `${(smallDecode?.packetsPerSecond ?? 0) >= target ? 'met' : 'NOT met'} ` +
    `(decode ${((smallDecode?.packetsPerSecond ?? 0) / 1e6).toFixed(2)} M/s, ` +
    `encode ${((smallEncode?.packetsPerSecond ?? 0) / 1e6).toFixed(2)} M/s; Node ${process.version}; sink ${sink > 0})`,
);
