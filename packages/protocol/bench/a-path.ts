/**
 * The codec work of one scenario-A job, for counting instructions per job under callgrind:
 *
 *   valgrind --tool=callgrind --smc-check=all-non-file \
 *     node --import tsx packages/protocol/bench/a-path.ts client 300000
 *
 * and again with 100000: (Ir(300000) - Ir(100000)) / 200000 is the instructions per job (the
 * start-up and the 200,000 warm-up jobs cancel out). `client`: SUBMIT_JOB encoded, JOB_CREATED
 * and WORK_COMPLETE decoded; `worker`: NOOP, JOB_ASSIGN_UNIQ and NO_JOB decoded, GRAB_JOB_UNIQ
 * (twice), WORK_COMPLETE and PRE_SLEEP encoded. Each packet is pushed as a chunk of its own
 * and encoded with `encodePacketParts`, as the connection does.
 */
import { Buffer } from 'node:buffer';
import {
  encodePacket,
  encodePacketParts,
  type Packet,
  PacketDecoder,
  type PacketInit,
} from '../src/index.js';

const [side = 'client', count = '100000'] = process.argv.slice(2);
const WARMUP = 200_000;
const handle = 'H:box.example:123456';
const functionName = 'bench_A_1';
const payload = Buffer.from('0000000042abcdef');
const options = { maxPacketSize: 64 * 1024 * 1024 };

let sink = 0;
const decoder = new PacketDecoder((packet: Packet) => {
  sink += packet.type.length;
});
const encode = (packet: PacketInit): void => {
  sink += encodePacketParts(packet, options)[0].length;
};
// A fresh chunk per packet, as a socket delivers it.
const push = (frame: Buffer): void => decoder.push(Buffer.from(frame));

let job: () => void;
if (side === 'client') {
  const created = encodePacket({ type: 'JOB_CREATED', handle });
  const complete = encodePacket({ type: 'WORK_COMPLETE', handle, payload }, { magic: 'RES' });
  job = () => {
    encode({ type: 'SUBMIT_JOB', functionName, unique: '', payload });
    push(created);
    push(complete);
  };
} else {
  const noop = encodePacket({ type: 'NOOP' });
  const assign = encodePacket({
    type: 'JOB_ASSIGN_UNIQ',
    handle,
    functionName,
    unique: '',
    payload,
  });
  const noJob = encodePacket({ type: 'NO_JOB' });
  job = () => {
    push(noop);
    encode({ type: 'GRAB_JOB_UNIQ' });
    push(assign);
    encode({ type: 'WORK_COMPLETE', handle, payload });
    encode({ type: 'GRAB_JOB_UNIQ' });
    push(noJob);
    encode({ type: 'PRE_SLEEP' });
  };
}
for (let i = 0; i < WARMUP + Number(count); i++) job();
console.log(`${side}: ${count} jobs after ${WARMUP} warm-up ones (sink ${sink > 0})`);
