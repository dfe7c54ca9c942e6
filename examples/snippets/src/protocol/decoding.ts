// packages/protocol/README.md, "Decoding" (with "Large payloads in parts") and "Text lines
// (onText), for servers". Runnable: examples/codec-only.
// biome-ignore-all lint/correctness/noUnusedVariables: the snippet declares what the README shows
// biome-ignore-all lint/correctness/noUnusedFunctionParameters: as the README shows it
import type { Socket } from 'node:net';
import { type Packet, PacketDecoder, type PacketHandler } from '@gearmanode/protocol';

declare const socket: Socket;
declare const maxPacketSize: number;
declare const onPacket: PacketHandler;
declare function handle(packet: Packet): void;
declare function answerAdmin(line: string): string;
declare function headFor(packet: Packet, fields: Buffer, payload: readonly Buffer[]): Buffer;

export function decoding() {
  const decoder = new PacketDecoder((packet, magic) => handle(packet), { maxPacketSize });
  socket.on('data', (chunk) => decoder.push(chunk));
}

export function textLines() {
  const decoder = new PacketDecoder(onPacket, {
    onText: (line) => socket.write(answerAdmin(line)), // without its "\r\n" or "\n"
    maxLineLength: 8192, // the default: gearmand's buffer
  });
}

export function payloadParts() {
  const decoder = new PacketDecoder(onPacket, {
    onPayloadParts: (packet, magic, payload, fields) => {
      // payload: Buffer[], in order, none empty; fields: the body's bytes before the payload.
      // packet.payload still works: it joins the parts on first read (one copy).
      socket.cork();
      socket.write(headFor(packet, fields, payload));
      for (const part of payload) socket.write(part);
      socket.uncork(); // one writev
    },
  });
}
