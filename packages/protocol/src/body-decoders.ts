import { Buffer } from 'node:buffer';
import { parseDecimal, tooFewFields } from './body.js';
import { canGenerateCode, checkIdentifier } from './codegen.js';
import {
  FIELD_KINDS,
  type FieldName,
  PACKET_TYPES,
  type Packet,
  type PacketType,
} from './packet-types.js';

/** Splits the body `buf[start, end)` of one packet type into a packet of that type. */
export type BodyDecoder = (buf: Buffer, start: number, end: number) => Packet;

/**
 * One body decoder per packet type, generated from the packet table when the module loads.
 *
 * A single loop over the table's field lists made every property store and load on a packet a
 * megamorphic keyed access, shared by all types. Each generated function instead builds its
 * packet with one object literal, so packets of a type share one hidden class and every access
 * site is monomorphic. Where code generation is disallowed (`--disallow-code-generation-from-
 * strings`), the same table drives a generic loop instead: same packets, slower.
 */
export function buildBodyDecoders(generate = canGenerateCode()): Map<PacketType, BodyDecoder> {
  const decoders = new Map<PacketType, BodyDecoder>();
  for (const type of Object.keys(PACKET_TYPES) as PacketType[]) {
    const fields: readonly FieldName[] = PACKET_TYPES[type].fields;
    decoders.set(type, generate ? generatedDecoder(type, fields) : genericDecoder(type, fields));
  }
  return decoders;
}

/** The expression that reads field `name` from `buf[from, to)` in generated code. */
function fieldExpression(name: FieldName, to: string): string {
  switch (FIELD_KINDS[name]) {
    case 'string':
      if (name === 'functionName')
        return `from === ${to} ? '' : decodeFunctionName(buf, from, ${to})`;
      return `from === ${to} ? '' : buf.toString('utf8', from, ${to})`;
    case 'data':
      return `buf.subarray(from, ${to})`;
    case 'number':
      return `parseDecimal(buf, from, ${to})`;
    case 'boolean':
      return `${to} > from && buf[from] !== 0x30`;
  }
}

/** How far the generated decoders look for a field's NUL in a loop before calling `indexOf`. */
const SHORT_FIELD = 64;

function generatedDecoder(type: PacketType, fields: readonly FieldName[]): BodyDecoder {
  checkIdentifier(type);
  const last = fields.length - 1;
  const lines = ['let from = start;', 'let nul = 0;', 'let scanEnd = 0;'];
  for (let i = 0; i < last; i++) {
    const name = checkIdentifier(fields[i] as FieldName);
    lines.push(
      // A field before the last is a name, a handle or a number of a few dozen bytes at most:
      // its NUL is found in a loop here, cheaper than a call of `indexOf` into the runtime.
      // Past SHORT_FIELD bytes (a malformed body) the search goes on with `indexOf`.
      `scanEnd = end - from > ${SHORT_FIELD} ? from + ${SHORT_FIELD} : end;`,
      'for (nul = from; nul < scanEnd && buf[nul] !== 0; nul++);',
      'if (nul === scanEnd) nul = scanEnd === end ? -1 : buf.indexOf(0, scanEnd);',
      `if (nul === -1 || nul >= end) tooFewFields('${type}', ${last}, end - start, ${i});`,
      `const ${name} = ${fieldExpression(name, 'nul')};`,
      'from = nul + 1;',
    );
  }
  if (last >= 0) {
    const name = checkIdentifier(fields[last] as FieldName);
    let to = 'end';
    if (type === 'WORK_FAIL') {
      // PROTOCOL section 11, items 11-12: gearmand may append a NUL and more; the handle ends there.
      lines.push('nul = buf.indexOf(0, from);', 'const to = nul !== -1 && nul < end ? nul : end;');
      to = 'to';
    }
    lines.push(`const ${name} = ${fieldExpression(name, to)};`);
  }
  // PROTOCOL 2.1: a body on a field-less type is ignored.
  lines.push(`return { type: '${type}'${fields.map((name) => `, ${name}`).join('')} };`);
  const source = `return function decode_${type}(buf, start, end) {\n${lines.join('\n')}\n};`;
  return new Function('parseDecimal', 'tooFewFields', 'decodeFunctionName', source)(
    parseDecimal,
    tooFewFields,
    decodeFunctionName,
  );
}

/** The longest function name `decodeFunctionName` remembers. */
const NAME_CACHE_SIZE = 64;
const lastNameBytes = Buffer.alloc(NAME_CACHE_SIZE);
let lastNameLength = -1;
let lastName = '';

/**
 * Decodes the function name in `buf[from, to)` (UTF-8). A worker is handed the same few names
 * again and again: when the bytes are the last name's, that string is returned again, without a
 * call into the runtime to decode them or a new string to hash later. For decoders of one's own
 * (`bodyDecoders`), which then share the protocol decoders' memory of the last name.
 */
export function decodeFunctionName(buf: Buffer, from: number, to: number): string {
  const length = to - from;
  if (length === lastNameLength) {
    let i = 0;
    while (i < length && buf[from + i] === lastNameBytes[i]) i++;
    if (i === length) return lastName;
  }
  const name = buf.toString('utf8', from, to);
  if (length <= NAME_CACHE_SIZE) {
    buf.copy(lastNameBytes, 0, from, to);
    lastNameLength = length;
    lastName = name;
  }
  return name;
}

function genericDecoder(type: PacketType, fields: readonly FieldName[]): BodyDecoder {
  const last = fields.length - 1;
  return (buf, start, end) => {
    const packet: Record<string, unknown> = { type };
    if (last < 0) return packet as Packet;
    let from = start;
    for (let i = 0; i < last; i++) {
      const nul = buf.indexOf(0, from);
      if (nul === -1 || nul >= end) tooFewFields(type, last, end - start, i);
      const name = fields[i] as FieldName;
      packet[name] = fieldValue(name, buf, from, nul);
      from = nul + 1;
    }
    let to = end;
    if (type === 'WORK_FAIL') {
      const nul = buf.indexOf(0, from);
      if (nul !== -1 && nul < end) to = nul;
    }
    const name = fields[last] as FieldName;
    packet[name] = fieldValue(name, buf, from, to);
    return packet as Packet;
  };
}

function fieldValue(name: FieldName, buf: Buffer, from: number, to: number): unknown {
  switch (FIELD_KINDS[name]) {
    case 'string':
      return from === to ? '' : buf.toString('utf8', from, to);
    case 'data':
      return buf.subarray(from, to);
    case 'number':
      return parseDecimal(buf, from, to);
    case 'boolean':
      return to > from && buf[from] !== 0x30; // anything but "0" or empty counts as set
  }
}

const DECODERS = buildBodyDecoders();

/**
 * The body decoders by type number (`undefined` where no type has the number), for the
 * stream decoder: an array index, no string lookup per packet.
 */
export const BODY_DECODERS: readonly (BodyDecoder | undefined)[] = (() => {
  const byNumber: (BodyDecoder | undefined)[] = new Array(43).fill(undefined);
  for (const [type, decoder] of DECODERS) byNumber[PACKET_TYPES[type].number] = decoder;
  return byNumber;
})();

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
  const decode = DECODERS.get(type);
  if (decode === undefined) throw new TypeError(`unknown packet type ${String(type)}`);
  return decode(buf, start, end);
}
