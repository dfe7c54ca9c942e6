import { ProtocolError } from './errors.js';
import type { PacketType } from './packet-types.js';

/**
 * Throws the error for a body with fewer NUL separators than its type needs.
 * @throws ProtocolError (`TOO_FEW_FIELDS`), always.
 */
export function tooFewFields(type: PacketType, needed: number, size: number, found: number): never {
  throw new ProtocolError(
    'TOO_FEW_FIELDS',
    `${type} needs ${needed} NUL separators in its ${size}-byte body, found ${found}`,
  );
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
