/**
 * Job payloads, the same in every driver (drivers/c/driver.c and drivers/perl/driver.pl have
 * copies of `payload`).
 *
 * ASCII payloads start with the job index, zero-padded to 10 digits, then letters a-z in a
 * cycle that starts at `(index + 10) % 26`: unique per job, checkable by a worker that only sees
 * the payload, and safe for peers that echo text. Byte payloads (scenario X) hold every byte
 * value, cycling from `index % 256`. Both are copied out of a precomputed cycle, so that a 1 MiB
 * payload costs a memcpy and not a loop in the measured phase.
 */
const INDEX_DIGITS = 10;

const LETTERS = 26;
const BYTES = 256;
const cycles = new Map<string, Buffer>();

/** `period` values repeated to cover `size` bytes from any starting phase. */
function cycle(kind: 'ascii' | 'bytes', size: number): Buffer {
  const key = `${kind}:${size}`;
  let buffer = cycles.get(key);
  if (buffer === undefined) {
    const period = kind === 'ascii' ? LETTERS : BYTES;
    buffer = Buffer.allocUnsafe(size + period);
    for (let k = 0; k < buffer.length; k++) {
      buffer[k] = kind === 'ascii' ? 97 + (k % LETTERS) : k % BYTES; // 97: 'a'
    }
    cycles.set(key, buffer);
  }
  return buffer;
}

/** The payload of job `index`. */
export function payload(index: number, size: number, kind: 'ascii' | 'bytes'): Buffer {
  const out = Buffer.allocUnsafe(size);
  if (kind === 'bytes') {
    const start = index % BYTES;
    cycle(kind, size).copy(out, 0, start, start + size);
    return out;
  }
  const head = Math.min(INDEX_DIGITS, size);
  out.write(String(index).padStart(INDEX_DIGITS, '0').slice(0, head), 0, 'latin1');
  const start = (index + INDEX_DIGITS) % LETTERS;
  cycle(kind, size).copy(out, head, start, start + size - head);
  return out;
}

/** The index an ASCII payload starts with, or -1 when it does not start with one. */
export function indexOf(data: Buffer): number {
  if (data.length < INDEX_DIGITS) return -1;
  const digits = data.toString('latin1', 0, INDEX_DIGITS);
  return /^\d+$/.test(digits) ? Number(digits) : -1;
}
