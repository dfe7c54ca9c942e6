import { Buffer } from 'node:buffer';
import { describe, expect, test } from 'vitest';
import { copyBytes } from '../src/bytes.js';

describe('copyBytes', () => {
  test.each([0, 1, 12, 64, 65, 300])(
    'copies all %i bytes at the offset, nothing around them',
    (size) => {
      const source = Buffer.from(Array.from({ length: size }, (_, i) => (i * 7 + 1) & 0xff));
      const target = Buffer.alloc(size + 10, 0xee);

      copyBytes(source, target, 4);

      expect(target.subarray(4, 4 + size)).toEqual(source);
      expect([...target.subarray(0, 4), ...target.subarray(4 + size)]).toEqual(
        Array(10).fill(0xee),
      );
    },
  );

  test.each([0, 1, 36, 64, 65, 300])(
    'copies a range of %i bytes from inside the source',
    (size) => {
      const source = Buffer.from(Array.from({ length: size + 9 }, (_, i) => (i * 5 + 3) & 0xff));
      const target = Buffer.alloc(size + 10, 0xee);

      copyBytes(source, target, 4, 6, 6 + size);

      expect(target.subarray(4, 4 + size)).toEqual(source.subarray(6, 6 + size));
      expect([...target.subarray(0, 4), ...target.subarray(4 + size)]).toEqual(
        Array(10).fill(0xee),
      );
    },
  );
});
