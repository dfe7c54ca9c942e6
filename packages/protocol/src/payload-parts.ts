import { Buffer } from 'node:buffer';
import type { BodyDecoder } from './body-decoders.js';
import { type Magic, PACKET_TYPES, type Packet, type PacketType } from './packet-types.js';

/**
 * Called instead of `PacketHandler` for a packet whose payload arrived in several chunks (see
 * `DecoderOptions.onPayloadParts`). `payload` is the payload as the views of those chunks it
 * lies in, in order, none empty; `fields` holds the body's bytes before the payload (the other
 * fields with their NUL separators, empty for a packet whose only field is the payload). Reading
 * `packet.payload` joins the parts into one buffer, once: code that can use the parts avoids
 * that copy. The parts are views of the chunks passed to `push()`, not copies: they stay valid
 * as long as those chunks' memory is not reused (Node's `'data'` chunks never are).
 */
export type PayloadPartsHandler = (
  packet: Packet,
  magic: Magic,
  payload: readonly Buffer[],
  fields: Buffer,
) => void;

/**
 * By type number: how many NUL-terminated fields come before a type's payload field, or -1 for
 * types without one (payload is always the last field).
 */
const FIELDS_BEFORE_PAYLOAD: readonly number[] = (() => {
  const byNumber = new Array<number>(43).fill(-1);
  for (const type of Object.keys(PACKET_TYPES) as PacketType[]) {
    const { number, fields } = PACKET_TYPES[type];
    if (fields[fields.length - 1] === 'payload') byNumber[number] = fields.length - 1;
  }
  return byNumber;
})();

/**
 * Hands the body of a packet of type `number` and `size` bytes, which arrived as `parts`, to
 * `onParts` with its payload unjoined; false when it is not for that handler (no payload field,
 * a payload under `min` bytes, or too few fields, which the ordinary decoding then reports).
 * `decode` is the type's body decoder, given the fields before the payload only.
 */
export function emitPayloadParts(
  parts: Buffer[],
  number: number,
  size: number,
  min: number,
  decode: BodyDecoder,
  magic: Magic,
  onParts: PayloadPartsHandler,
): boolean {
  const separators = FIELDS_BEFORE_PAYLOAD[number] ?? -1;
  if (separators < 0) return false;
  // Find the end of the fields before the payload: the part and offset just past the last NUL.
  let index = 0;
  let from = 0;
  let fieldsSize = 0;
  for (let found = 0; found < separators; ) {
    const part = parts[index];
    if (part === undefined) return false;
    const nul = part.indexOf(0, from);
    if (nul === -1) {
      fieldsSize += part.length - from;
      index++;
      from = 0;
      continue;
    }
    fieldsSize += nul + 1 - from;
    from = nul + 1;
    found++;
  }
  const payloadSize = size - fieldsSize;
  if (payloadSize < min) return false;
  // The fields are small and usually lie in the first part; only they are ever joined.
  let fields: Buffer;
  if (index === 0) fields = (parts[0] as Buffer).subarray(0, from);
  else {
    fields = Buffer.allocUnsafe(fieldsSize);
    let at = 0;
    for (let i = 0; i < index; i++) at += (parts[i] as Buffer).copy(fields, at);
    (parts[index] as Buffer).copy(fields, at, 0, from);
  }
  // `from` may be the end of a part: the payload then starts with the next one.
  const first = parts[index] as Buffer;
  const payload = from < first.length ? parts.slice(index) : parts.slice(index + 1);
  if (from < first.length && from > 0) payload[0] = first.subarray(from);
  const packet = decode(fields, 0, fields.length);
  let joined: Buffer | undefined;
  Object.defineProperty(packet, 'payload', {
    configurable: true,
    enumerable: true,
    get: () => {
      joined ??= Buffer.concat(payload, payloadSize);
      return joined;
    },
    set: (value: Buffer) => {
      joined = value;
    },
  });
  onParts(packet, magic, payload, fields);
  return true;
}
