// packages/protocol/README.md, "Encoding" (`encodePacketInto`).
import type { Socket } from 'node:net';
import { encodePacketInto } from '@gearmanode/protocol';

declare const socket: Socket;
declare const handle: string;
declare const result: Buffer;

export function encodingInto() {
  const outbox = Buffer.allocUnsafe(16 * 1024);
  let end = encodePacketInto({ type: 'WORK_COMPLETE', handle, payload: result }, outbox, 0);
  end = encodePacketInto({ type: 'GRAB_JOB' }, outbox, end); // -1 if it did not fit
  socket.write(outbox.subarray(0, end)); // one write; never write over this region again
}
