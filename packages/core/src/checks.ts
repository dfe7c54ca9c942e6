import { checkInteger, describeValue, InvalidArgumentError } from '@gearmanode/protocol';

// Every check takes (value, field, ...) and throws InvalidArgumentError naming `field`, so that
// the client, the worker and the CLI report a bad option in the same words.

/** The longest delay Node's timers take. */
export const MAX_DELAY = 0x7fffffff;

/** A value as a message shows it (protocol's `describeValue`). */
export const describe = describeValue;

/**
 * Checks an options object: an object whose keys are all `known`.
 * @throws InvalidArgumentError for a non-object, or naming the first unknown key.
 */
export function checkOptions<T extends object>(
  value: T | undefined,
  known: ReadonlySet<string>,
  what: string,
): T | Record<string, never> {
  if (value === undefined) return {};
  if (value === null || typeof value !== 'object') {
    throw new InvalidArgumentError('options', 'must be an object');
  }
  for (const key of Object.keys(value)) {
    if (!known.has(key)) throw new InvalidArgumentError(key, `is not ${what}`);
  }
  return value;
}

// Integer options are checked by protocol's `checkInteger`, which the server uses too.
export { checkInteger };

/** @throws InvalidArgumentError unless `value` is a finite number of at least `min`. */
export function checkNumber(value: unknown, field: string, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min) {
    throw new InvalidArgumentError(field, `must be a number >= ${min}, got ${describe(value)}`);
  }
  return value;
}

/** @throws InvalidArgumentError unless `value` is a boolean. */
export function checkBoolean(value: unknown, field: string, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') {
    throw new InvalidArgumentError(field, `must be a boolean, got ${describe(value)}`);
  }
  return value;
}

/**
 * A duration in ms: 0 or Infinity mean none (returned as 0); longer than a timer can wait is
 * refused rather than silently cut short.
 * @throws InvalidArgumentError unless it is a number of ms from 0 to 2^31 - 1, or Infinity.
 */
export function checkTimeout(value: unknown, field: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (value === Number.POSITIVE_INFINITY) return 0;
  if (typeof value !== 'number' || Number.isNaN(value) || value < 0 || value > MAX_DELAY) {
    throw new InvalidArgumentError(
      field,
      `must be a number of ms from 0 to ${MAX_DELAY} (or Infinity), got ${describe(value)}`,
    );
  }
  return value;
}

/** @throws InvalidArgumentError unless `value` is a function. */
export function checkFunction<T>(value: unknown, field: string): T {
  if (typeof value !== 'function') throw new InvalidArgumentError(field, 'must be a function');
  return value as T;
}

/** @throws InvalidArgumentError unless `payload` is a string or a Uint8Array. */
export function checkPayload(payload: unknown, field = 'payload'): void {
  if (typeof payload !== 'string' && !(payload instanceof Uint8Array)) {
    throw new InvalidArgumentError(
      field,
      `must be a string or Uint8Array, got ${describe(payload)}`,
    );
  }
}
