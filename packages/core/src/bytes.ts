/** Up to this many bytes, `copyBytes` copies in a loop: cheaper than a call of `set`. */
const LOOP_COPY_MAX = 64;

/**
 * Copies `source[from, to)` (all of it by default) into `target` at `at`. A few bytes (a GRAB's
 * 12, a job's handle, a short result) are copied in a loop; `TypedArray.prototype.set` is a call
 * into a builtin that costs more than the loop for them, and less for anything longer.
 */
export function copyBytes(
  source: Uint8Array,
  target: Uint8Array,
  at: number,
  from = 0,
  to: number = source.length,
): void {
  const length = to - from;
  if (length <= LOOP_COPY_MAX) {
    for (let i = 0; i < length; i++) target[at + i] = source[from + i] as number;
  } else target.set(length === source.length ? source : source.subarray(from, to), at);
}
