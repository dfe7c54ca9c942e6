import { Buffer } from 'node:buffer';
import { InvalidArgumentError } from './errors.js';
import { MAX_CLIENT_ID_SIZE, MAX_FUNCTION_NAME_SIZE, MAX_UNIQUE_SIZE } from './limits.js';

// The names a packet carries, checked before anything is sent, so that a bad one is the
// caller's InvalidArgumentError and never a server's silence or a cut-off name.

/**
 * Checks a function name: 1 to 512 bytes (libgearman's range,
 * [protocol.md section 10](https://github.com/gearmanode/gearmanode/blob/main/docs/protocol.md#10-limits)),
 * no NUL.
 * @throws InvalidArgumentError naming `field`.
 */
export function checkFunctionName(value: unknown, field = 'name'): string {
  if (typeof value !== 'string' || value.length === 0) {
    throw new InvalidArgumentError(field, 'must be a non-empty string');
  }
  // At most 3 UTF-8 bytes per UTF-16 unit: 170 units cannot exceed 512 bytes.
  if (value.length > 170 && Buffer.byteLength(value) > MAX_FUNCTION_NAME_SIZE) {
    throw new InvalidArgumentError(field, `must be at most ${MAX_FUNCTION_NAME_SIZE} bytes`);
  }
  if (value.includes('\0')) throw new InvalidArgumentError(field, 'must not contain a NUL byte');
  return value;
}

/**
 * Checks a unique: gearmand mishandles 64 bytes and refuses more
 * ([protocol.md section 11](https://github.com/gearmanode/gearmanode/blob/main/docs/protocol.md#11-gearmand-1120-as-observed),
 * item 16).
 * @throws InvalidArgumentError unless it is a string of at most 63 bytes without NUL.
 */
export function checkUnique(value: unknown, field = 'unique'): string {
  if (typeof value !== 'string') {
    throw new InvalidArgumentError(field, `must be a string, got ${typeof value}`);
  }
  if (value.length > 21 && Buffer.byteLength(value) > MAX_UNIQUE_SIZE) {
    throw new InvalidArgumentError(
      field,
      `${Buffer.byteLength(value)} bytes exceeds the limit of ${MAX_UNIQUE_SIZE} bytes`,
    );
  }
  if (value.includes('\0')) throw new InvalidArgumentError(field, 'must not contain a NUL byte');
  return value;
}

// gearmand keeps 127 bytes of a client id, and the `workers` listing is split on spaces
// (protocol.md sections 9.2 and 10): printable ASCII without spaces round-trips.
const CLIENT_ID = new RegExp(`^[\\x21-\\x7e]{1,${MAX_CLIENT_ID_SIZE}}$`);

/** @throws InvalidArgumentError unless `value` is 1–127 printable ASCII characters, no spaces. */
export function checkClientId(value: unknown, field = 'clientId'): string {
  if (typeof value !== 'string' || !CLIENT_ID.test(value)) {
    throw new InvalidArgumentError(
      field,
      `must be 1 to ${MAX_CLIENT_ID_SIZE} printable ASCII characters, no spaces`,
    );
  }
  return value;
}

/** A value as an error message shows it: short, and without dumping objects. */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (typeof value === 'string') return JSON.stringify(value.slice(0, 40));
  return typeof value === 'object' ? (value.constructor?.name ?? 'object') : typeof value;
}

/**
 * Checks an integer option, such as a size limit or a port: `fallback` when undefined.
 * @throws InvalidArgumentError naming `field` unless `value` is an integer from `min` to `max`.
 */
export function checkInteger(
  value: unknown,
  field: string,
  fallback: number,
  min: number,
  max: number,
): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new InvalidArgumentError(
      field,
      `must be an integer from ${min} to ${max}, got ${describeValue(value)}`,
    );
  }
  return value;
}
