import { ProtocolError } from './errors.js';
import {
  FIELD_KINDS,
  type FieldName,
  PACKET_TYPES,
  type Packet,
  type PacketType,
} from './packet-types.js';

/**
 * Splits a packet body `buf[start, end)` into the named fields of its type.
 *
 * String fields are decoded now, so that a short handle does not keep a large chunk alive; the
 * `data` field stays a view into `buf` (no copy). Never looks past `end` for a separator, which
 * is where gearmand 1.1.20 loses sync
 * ([protocol.md section 11](https://github.com/gearmanode/gearmanode/blob/main/docs/protocol.md#11-gearmand-1120-as-observed),
 * item 6).
 *
 * @throws ProtocolError (`TOO_FEW_FIELDS`) when the body has fewer NULs than the type needs.
 */
export function parseBody(type: PacketType, buf: Buffer, start: number, end: number): Packet {
  const fields: readonly FieldName[] = PACKET_TYPES[type].fields;
  const packet: Record<string, unknown> = { type };
  const last = fields.length - 1;
  if (last < 0) return packet as Packet; // PROTOCOL 2.1: a body on a field-less type is ignored

  let from = start;
  for (let i = 0; i < last; i++) {
    const nul = buf.indexOf(0, from);
    if (nul === -1 || nul >= end) {
      throw new ProtocolError(
        'TOO_FEW_FIELDS',
        `${type} needs ${last} NUL separators in its ${end - start}-byte body, found ${i}`,
      );
    }
    const name = fields[i] as FieldName;
    packet[name] = fieldValue(name, buf, from, nul);
    from = nul + 1;
  }

  const name = fields[last] as FieldName;
  let to = end;
  if (type === 'WORK_FAIL') {
    // PROTOCOL section 11, items 11-12: gearmand may append a NUL and more; the handle ends there.
    const nul = buf.indexOf(0, from);
    if (nul !== -1 && nul < end) to = nul;
  }
  packet[name] = fieldValue(name, buf, from, to);
  return packet as Packet;
}

function fieldValue(name: FieldName, buf: Buffer, start: number, end: number): unknown {
  switch (FIELD_KINDS[name]) {
    case 'string':
      return start === end ? '' : buf.toString('utf8', start, end);
    case 'data':
      return buf.subarray(start, end);
    case 'number':
      return parseDecimal(buf, start, end);
    case 'boolean':
      return end > start && buf[start] !== 0x30; // anything but "0" or empty counts as set
  }
}

/**
 * Reads decimal text the way gearmand does (strtol): an optional sign, digits up to the first
 * other byte, and 0 when there are none. Workers may send any text (section 11, item 13).
 */
export function parseDecimal(buf: Buffer, start: number, end: number): number {
  let i = start;
  let sign = 1;
  if (i < end && (buf[i] === 0x2d || buf[i] === 0x2b)) {
    if (buf[i] === 0x2d) sign = -1;
    i++;
  }
  let value = 0;
  for (; i < end; i++) {
    const digit = (buf[i] as number) - 0x30;
    if (digit < 0 || digit > 9) break;
    value = value * 10 + digit;
  }
  return sign * value || 0; // || 0 turns -0 into 0
}
