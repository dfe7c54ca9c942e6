import { InvalidArgumentError } from '@gearmanode/protocol';

// Every check takes (value, field, ...) and throws InvalidArgumentError naming `field`, so that
// the client, the worker and the CLI report a bad option in the same words.

/** The longest delay Node's timers take. */
export const MAX_DELAY = 0x7fffffff;

/** A value as a message shows it: short, and without dumping objects. */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (typeof value === 'string') return JSON.stringify(value.slice(0, 40));
  return typeof value === 'object' ? (value.constructor?.name ?? 'object') : typeof value;
}

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

/** @throws InvalidArgumentError unless `value` is an integer from `min` to `max`. */
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
      `must be an integer from ${min} to ${max}, got ${describe(value)}`,
    );
  }
  return value;
}

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
