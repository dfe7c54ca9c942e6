import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { Deadlines, type Timed } from '../src/deadlines.js';

const entry = (timeout: number): Timed => ({ timeout, deadline: 0 });

describe('Deadlines', () => {
  test('expires entries in deadline order across limits, each once', () => {
    const deadlines = new Deadlines<Timed>();
    const short = entry(10);
    const long = entry(100);
    const later = entry(10);
    deadlines.add(long, 0);
    deadlines.add(short, 0);
    deadlines.add(later, 5);
    expect(deadlines.next()).toBe(10);
    expect(deadlines.expire(12)).toEqual([short]);
    expect(deadlines.next()).toBe(15);
    expect(deadlines.expire(99)).toEqual([later]);
    expect(deadlines.expire(100)).toEqual([long]);
    expect(deadlines.size).toBe(0);
    expect(deadlines.next()).toBeUndefined();
  });

  test('a deleted entry never expires, and clear() returns what was left', () => {
    const deadlines = new Deadlines<Timed>();
    const a = entry(10);
    const b = entry(20);
    deadlines.add(a, 0);
    deadlines.add(b, 0);
    deadlines.delete(a);
    deadlines.delete(a);
    expect(deadlines.size).toBe(1);
    expect(deadlines.expire(15)).toEqual([]);
    expect(deadlines.clear()).toEqual([b]);
    expect(deadlines.size).toBe(0);
  });

  test('matches a sorted list for any mix of adds, deletes and expiries', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            timeout: fc.integer({ min: 1, max: 5 }),
            step: fc.nat(3),
            drop: fc.boolean(),
          }),
          { maxLength: 60 },
        ),
        (ops) => {
          const deadlines = new Deadlines<Timed>();
          const live = new Set<Timed>();
          let now = 0;
          for (const op of ops) {
            now += op.step;
            const e = entry(op.timeout);
            deadlines.add(e, now);
            live.add(e);
            if (op.drop) {
              deadlines.delete(e);
              live.delete(e);
            }
            const expected = [...live].filter((x) => x.deadline <= now);
            const got = deadlines.expire(now);
            expect(new Set(got)).toEqual(new Set(expected));
            for (const x of got) live.delete(x);
            expect(deadlines.size).toBe(live.size);
          }
        },
      ),
    );
  });
});
