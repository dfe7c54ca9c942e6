// packages/protocol/README.md, "Quick start". Runnable: examples/codec-only builds a proxy
// on the same two calls.
import { connect } from 'node:net';
import { encodePacket, PacketDecoder } from '@gearmanode/protocol';

const socket = connect(4730, '127.0.0.1');
const decoder = new PacketDecoder((packet) => {
  if (packet.type === 'JOB_CREATED') console.log('queued as', packet.handle);
  if (packet.type === 'WORK_COMPLETE') console.log('result:', packet.payload.toString());
  if (packet.type === 'WORK_COMPLETE' || packet.type === 'WORK_FAIL') socket.end();
});
socket.on('data', (chunk) => {
  try {
    decoder.push(chunk);
  } catch (error) {
    socket.destroy(error as Error); // ProtocolError: the stream cannot be trusted any more
  }
});
socket.write(
  encodePacket({ type: 'SUBMIT_JOB', functionName: 'reverse', unique: '', payload: 'hello' }),
);
