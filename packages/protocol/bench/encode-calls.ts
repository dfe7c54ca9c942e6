/**
 * The generated encoders alone, for choosing between ways of copying a field under callgrind:
 *
 *   valgrind --tool=callgrind --smc-check=all-non-file --separate-threads=yes \
 *     node --import tsx packages/protocol/bench/encode-calls.ts 420000 WORK_COMPLETE 16
 *
 * and again with 20000: (Ir(420000) - Ir(20000)) / 400000 on the main thread is the
 * instructions per call. Each call encodes a packet of one of 64 handles and 64 payloads of the
 * given size with `encodePacketParts`, as the connection does.
 */
import { Buffer } from 'node:buffer';
import { encodePacketParts } from '../src/index.js';

const [count = '20000', type = 'WORK_COMPLETE', size = '16'] = process.argv.slice(2);
const handles = Array.from({ length: 64 }, (_, i) => `H:hostname:${12345 + i}`);
const payloads = Array.from({ length: 64 }, (_, i) => Buffer.alloc(Number(size), 97 + (i % 26)));

let sink = 0;
for (let i = 0; i < Number(count); i++) {
  const payload = payloads[i & 63] as Buffer;
  const parts =
    type === 'SUBMIT_JOB'
      ? encodePacketParts({ type: 'SUBMIT_JOB', functionName: 'f', unique: '', payload })
      : encodePacketParts({ type: 'WORK_COMPLETE', handle: handles[i & 63] as string, payload });
  sink += parts[0].length;
}
// Printed so that the loop's work is not optimised away.
console.log(sink);
