import { PACKET_TYPES, type PacketType } from '@gearmanode/protocol';

/**
 * Builds a packet by hand, bypassing the encoder's checks: for sending what a well-behaved
 * client never would (long uniques, NULs in names, odd magic, unknown types, short bodies).
 */
export function rawFrame(
  type: PacketType | number,
  fields: readonly (string | Uint8Array)[] = [],
  { magic = 'REQ', size }: { magic?: 'REQ' | 'RES' | string; size?: number } = {},
): Buffer {
  const parts: Buffer[] = [];
  fields.forEach((field, i) => {
    if (i > 0) parts.push(Buffer.from([0]));
    parts.push(typeof field === 'string' ? Buffer.from(field, 'utf8') : Buffer.from(field));
  });
  const body = Buffer.concat(parts);
  const header = Buffer.alloc(12);
  header.write(magic === 'REQ' ? '\0REQ' : magic === 'RES' ? '\0RES' : magic, 0, 4, 'latin1');
  header.writeUInt32BE(typeof type === 'number' ? type : PACKET_TYPES[type].number, 4);
  header.writeUInt32BE(size ?? body.length, 8);
  return Buffer.concat([header, body]);
}
