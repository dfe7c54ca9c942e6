import { Buffer } from 'node:buffer';
import type { Packet } from '@gearmanode/protocol';
import { describe, expect, test } from 'vitest';
import { isAssignment, jobPayload, reducerOf, uniqueOf } from '../src/grab-replies.js';

describe('grab replies', () => {
  const payload = Buffer.from('data');
  const base = { handle: 'H:x:1', functionName: 'fn', payload };

  test('the three JOB_ASSIGN types assign a job with their unique and reducer; NO_JOB does not', () => {
    const all: Packet = { type: 'JOB_ASSIGN_ALL', ...base, unique: 'u', reducer: 'r' };
    const uniq: Packet = { type: 'JOB_ASSIGN_UNIQ', ...base, unique: 'u' };
    const plain: Packet = { type: 'JOB_ASSIGN', ...base };
    const noJob: Packet = { type: 'NO_JOB' };
    expect(isAssignment(noJob)).toBe(false);
    const fields = [all, uniq, plain].map((packet) =>
      isAssignment(packet) ? [uniqueOf(packet), reducerOf(packet)] : undefined,
    );
    expect(fields).toEqual([
      ['u', 'r'],
      ['u', ''],
      ['', ''],
    ]);
  });

  test('a small payload is copied out of the buffer it views; a large one that owns its buffer is not', () => {
    const slab = Buffer.alloc(64 * 1024, 0x61);
    const view = slab.subarray(100, 116);
    const small = jobPayload(view);
    expect(small).toEqual(view);
    expect(small.buffer).not.toBe(slab.buffer);
    slab[100] = 0x62; // the copy does not follow the read buffer
    expect(small[0]).toBe(0x61);

    const large = Buffer.alloc(8192, 0x63);
    expect(jobPayload(large)).toBe(large);
    const largeView = slab.subarray(0, 62 * 1024);
    expect(jobPayload(largeView)).toBe(largeView); // a view of most of its buffer pins little
  });
});
