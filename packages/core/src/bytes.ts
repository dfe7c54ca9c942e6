/** Up to this many bytes, `copyBytes` copies in a loop: cheaper than a call of `set`. */
const LOOP_COPY_MAX = 64;

/**
 * Copies all of `source` into `target` at `at`. A few bytes (a GRAB's 12, a short result) are
 * copied in a loop; `TypedArray.prototype.set` is a call into a builtin that costs more than the
 * loop for them, and less for anything longer.
 */
export function copyBytes(source: Uint8Array, target: Uint8Array, at: number): void {
  const length = source.length;
  if (length > LOOP_COPY_MAX) target.set(source, at);
  else for (let i = 0; i < length; i++) target[at + i] = source[i] as number;
}
