import { Buffer } from 'node:buffer';
import { canGenerateCode, checkIdentifier } from './codegen.js';
import { InvalidArgumentError } from './errors.js';
import { HEADER_SIZE } from './header.js';
import { MAX_REDUCER_SIZE, MAX_STATUS_NUMBER, MAX_UNIQUE_SIZE } from './limits.js';
import {
  FIELD_KINDS,
  type FieldName,
  PACKET_TYPES,
  type PacketInit,
  type PacketType,
} from './packet-types.js';

/**
 * Encodes a packet of one type: its header (with the magic's last byte, `Q` or `S`) and its
 * body. A `data` last field of at least `copyThreshold` bytes is left out of the returned
 * buffer and put in `tail.buffer` (as a Buffer view of the caller's bytes), to be sent after it.
 *
 * With `out`, the packet is written into `out` at `at` instead of a new buffer, and `out` is
 * returned; `tail.end` is then where it ends, or -1 when it does not fit (nothing written). The
 * packet is checked either way. Pass an infinite `copyThreshold` with `out`.
 */
export type BodyEncoder = (
  packet: PacketInit,
  magicByte: number,
  maxSize: number,
  copyThreshold: number,
  tail: Tail,
  out?: Buffer,
  at?: number,
) => Buffer;

/** Where a body encoder puts a payload it did not copy, and where a packet written ends. */
export interface Tail {
  buffer: Buffer | undefined;
  /** The offset just past the packet written (into `out`, or the new buffer); -1: no room. */
  end?: number;
}

const MAX_FIELD_SIZE: Partial<Record<FieldName, number>> = {
  unique: MAX_UNIQUE_SIZE,
  reducer: MAX_REDUCER_SIZE,
};
const STATUS_FIELDS: ReadonlySet<FieldName> = new Set(['numerator', 'denominator']);

/**
 * One encoder per packet type, generated from the packet table when the module loads, for the
 * same reason as the body decoders (body-decoders.ts): each reads its packet's fields by name,
 * so every access site sees one shape. Where code generation is disallowed, the same table
 * drives a generic loop. Both check the fields in table order and throw the same errors.
 */
export function buildBodyEncoders(generate = canGenerateCode()): Map<PacketType, BodyEncoder> {
  const encoders = new Map<PacketType, BodyEncoder>();
  for (const type of Object.keys(PACKET_TYPES) as PacketType[]) {
    const { number, fields } = PACKET_TYPES[type];
    encoders.set(
      type,
      generate ? generatedEncoder(type, number, fields) : genericEncoder(number, fields),
    );
  }
  return encoders;
}

/** The longest string field written byte by byte by the generated encoders. */
const SHORT_ASCII = 64;

const helpers = {
  Buffer,
  HEADER_SIZE,
  isShortAscii,
  badValue,
  tooLong,
  tooLarge,
};

function generatedEncoder(
  type: PacketType,
  number: number,
  fields: readonly FieldName[],
): BodyEncoder {
  checkIdentifier(type);
  const last = fields.length - 1;
  const lines: string[] = [];
  const sizes: string[] = [String(Math.max(last, 0))];
  fields.forEach((field, i) => {
    const name = checkIdentifier(field);
    const v = `v${i}`;
    const s = `s${i}`;
    lines.push(`const ${v} = packet.${name};`);
    switch (FIELD_KINDS[name]) {
      case 'string':
        // PROTOCOL section 2.1: only the last field may hold NUL bytes, and names never do.
        // A short ASCII name (a handle, a function name) is measured and checked for NULs in
        // one loop here, and later written byte by byte (`a${i}`): three calls into the runtime
        // (includes, byteLength, write) cost more than the loops on a name of a few dozen bytes.
        lines.push(
          `if (typeof ${v} !== 'string') badValue('${name}', ${v});`,
          `const a${i} = isShortAscii(${v});`,
          `if (!a${i} && ${v}.includes('\\0')) badValue('${name}', ${v});`,
          `const ${s} = a${i} ? ${v}.length : ${v}.length === 0 ? 0 : Buffer.byteLength(${v});`,
        );
        break;
      case 'number': {
        const max = STATUS_FIELDS.has(name) ? MAX_STATUS_NUMBER : Number.MAX_SAFE_INTEGER;
        lines.push(
          `if (typeof ${v} !== 'number' || !Number.isInteger(${v}) || ${v} < 0 || ${v} > ${max}) badValue('${name}', ${v});`,
          `const w${i} = String(${v});`,
          `const ${s} = w${i}.length;`,
        );
        break;
      }
      case 'boolean':
        lines.push(
          `if (typeof ${v} !== 'boolean') badValue('${name}', ${v});`,
          `const w${i} = ${v} ? '1' : '0';`,
          `const ${s} = 1;`,
        );
        break;
      case 'data':
        lines.push(
          `const ${s} = typeof ${v} === 'string' ? Buffer.byteLength(${v}) : ${v} instanceof Uint8Array ? ${v}.byteLength : badValue('${name}', ${v});`,
        );
        break;
    }
    const max = MAX_FIELD_SIZE[name];
    if (max !== undefined) lines.push(`if (${s} > ${max}) tooLong('${name}', ${s}, ${max});`);
    sizes.push(s);
  });
  lines.push(
    `const bodySize = ${sizes.join(' + ')};`,
    'if (bodySize > maxSize) tooLarge(bodySize, maxSize);',
  );
  const lastName = fields[last];
  const splits = lastName !== undefined && FIELD_KINDS[lastName] === 'data';
  lines.push(
    splits
      ? `const split = typeof v${last} !== 'string' && s${last} >= copyThreshold;`
      : 'const split = false;',
    `const size = HEADER_SIZE + bodySize - (split ? s${last} : 0);`,
    'let head = out;',
    'let offset = 0;',
    'if (head === undefined) head = Buffer.allocUnsafe(size);',
    // Checked already: a packet that does not fit is not written at all.
    'else if (at + size > head.length) { tail.end = -1; return head; }',
    'else offset = at;',
    'head[offset] = 0; head[offset + 1] = 0x52; head[offset + 2] = 0x45; head[offset + 3] = magicByte;',
    `head[offset + 4] = 0; head[offset + 5] = 0; head[offset + 6] = 0; head[offset + 7] = ${number};`,
    // The size in four stores: `writeUInt32BE` checks its arguments on every call.
    'head[offset + 8] = bodySize >>> 24; head[offset + 9] = (bodySize >>> 16) & 0xff;',
    'head[offset + 10] = (bodySize >>> 8) & 0xff; head[offset + 11] = bodySize & 0xff;',
    'offset += HEADER_SIZE;',
  );
  fields.forEach((name, i) => {
    const v = `v${i}`;
    switch (FIELD_KINDS[name]) {
      case 'string':
        lines.push(
          `if (a${i}) { for (let k = 0; k < s${i}; k++) head[offset + k] = ${v}.charCodeAt(k); offset += s${i}; }`,
          `else if (s${i} !== 0) offset += head.write(${v}, offset, 'utf8');`,
        );
        break;
      case 'number':
      case 'boolean':
        lines.push(`offset += head.write(w${i}, offset, 'latin1');`);
        break;
      case 'data':
        if (i === last)
          lines.push(
            'if (split) {',
            `tail.buffer = Buffer.from(${v}.buffer, ${v}.byteOffset, ${v}.byteLength);`,
            '} else ',
          );
        lines.push(
          `if (typeof ${v} === 'string') offset += head.write(${v}, offset, 'utf8');`,
          // `set` even for a few bytes: a loop costs as much at 4 bytes and more from there
          // (counted: bench/README.md, "B1, counted").
          `else { head.set(${v}, offset); offset += s${i}; }`,
        );
        break;
    }
    if (i < last) lines.push('head[offset++] = 0;');
  });
  lines.push('tail.end = offset;', 'return head;');
  const source = `return function encode_${type}(packet, magicByte, maxSize, copyThreshold, tail, out, at) {\n${lines.join('\n')}\n};`;
  const names = Object.keys(helpers);
  return new Function(...names, source)(...Object.values(helpers));
}

/**
 * Whether `value` is at most SHORT_ASCII characters, each in 1..0x7f: its UTF-8 bytes are then
 * its char codes, one each, and it holds no NUL.
 */
function isShortAscii(value: string): boolean {
  const length = value.length;
  if (length > SHORT_ASCII) return false;
  for (let i = 0; i < length; i++) {
    const code = value.charCodeAt(i);
    if (code === 0 || code > 0x7f) return false;
  }
  return true;
}

function genericEncoder(number: number, fields: readonly FieldName[]): BodyEncoder {
  const last = fields.length - 1;
  return (packet, magicByte, maxSize, copyThreshold, tail, out, at = 0) => {
    const record = packet as unknown as Record<string, unknown>;
    const values: (string | Uint8Array)[] = [];
    let bodySize = Math.max(last, 0); // one NUL after every field but the last
    for (let i = 0; i <= last; i++) {
      const name = fields[i] as FieldName;
      const value = toWire(name, record[name]);
      const size = typeof value === 'string' ? Buffer.byteLength(value) : value.byteLength;
      const max = MAX_FIELD_SIZE[name];
      if (max !== undefined && size > max) tooLong(name, size, max);
      values.push(value);
      bodySize += size;
    }
    if (bodySize > maxSize) tooLarge(bodySize, maxSize);
    const lastValue = values[last];
    const split = lastValue instanceof Uint8Array && lastValue.byteLength >= copyThreshold;
    const size = HEADER_SIZE + bodySize - (split ? lastValue.byteLength : 0);
    let head = out;
    let offset = 0;
    if (head === undefined) head = Buffer.allocUnsafe(size);
    else if (at + size > head.length) {
      tail.end = -1;
      return head;
    } else offset = at;
    head.writeUInt32BE(0x00524500 | magicByte, offset);
    head.writeUInt32BE(number, offset + 4);
    head.writeUInt32BE(bodySize, offset + 8);
    offset += HEADER_SIZE;
    for (let i = 0; i <= last; i++) {
      const value = values[i] as string | Uint8Array;
      if (i === last && split) {
        const payload = value as Uint8Array;
        tail.buffer = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
        break;
      }
      if (typeof value === 'string') {
        offset += head.write(value, offset, 'utf8');
      } else {
        head.set(value, offset);
        offset += value.byteLength;
      }
      if (i < last) head[offset++] = 0;
    }
    tail.end = offset;
    return head;
  };
}

/** Turns a field's value into what goes on the wire, checking it on the way. */
function toWire(name: FieldName, value: unknown): string | Uint8Array {
  switch (FIELD_KINDS[name]) {
    case 'string':
      if (typeof value !== 'string' || value.includes('\0')) return badValue(name, value);
      return value;
    case 'number': {
      const max = STATUS_FIELDS.has(name) ? MAX_STATUS_NUMBER : Number.MAX_SAFE_INTEGER;
      if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > max) {
        return badValue(name, value);
      }
      return String(value);
    }
    case 'boolean':
      if (typeof value !== 'boolean') return badValue(name, value);
      return value ? '1' : '0';
    case 'data':
      if (typeof value === 'string' || value instanceof Uint8Array) return value;
      return badValue(name, value);
  }
}

/** Throws the error for a field value of the wrong kind (kept out of the generated code). */
function badValue(name: FieldName, value: unknown): never {
  switch (FIELD_KINDS[name]) {
    case 'string':
      if (typeof value === 'string') {
        throw new InvalidArgumentError(name, 'must not contain a NUL byte');
      }
      throw new InvalidArgumentError(name, `expected a string, got ${describe(value)}`);
    case 'number': {
      const max = STATUS_FIELDS.has(name) ? MAX_STATUS_NUMBER : Number.MAX_SAFE_INTEGER;
      throw new InvalidArgumentError(
        name,
        `expected an integer from 0 to ${max}, got ${describe(value)}`,
      );
    }
    case 'boolean':
      throw new InvalidArgumentError(name, `expected a boolean, got ${describe(value)}`);
    case 'data':
      throw new InvalidArgumentError(
        name,
        `expected a string or Uint8Array, got ${describe(value)}`,
      );
  }
}

function tooLong(name: FieldName, size: number, max: number): never {
  throw new InvalidArgumentError(name, `${size} bytes exceeds the limit of ${max} bytes`);
}

function tooLarge(bodySize: number, maxSize: number): never {
  throw new InvalidArgumentError(
    'payload',
    `packet size ${bodySize} exceeds maxPacketSize ${maxSize}`,
  );
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'number') return String(value);
  return typeof value === 'object' ? (value.constructor?.name ?? 'object') : typeof value;
}
