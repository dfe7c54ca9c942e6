import { DeadlineHeap, EventChannel } from '@gearmanode/client/internal';
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';

describe('DeadlineHeap', () => {
  test('pops in deadline order after arbitrary adds and removes', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 1000 }), fc.boolean()), { maxLength: 200 }),
        (entries) => {
          const heap = new DeadlineHeap<{ deadline: number; heapIndex: number }>();
          const items = entries.map(([deadline]) => ({ deadline, heapIndex: -1 }));
          for (const item of items) heap.add(item);
          const kept = items.filter((_, i) => {
            if (entries[i]?.[1]) return true;
            heap.remove(items[i] as (typeof items)[number]);
            return false;
          });
          expect(heap.size).toBe(kept.length);
          const popped: number[] = [];
          for (let item = heap.popExpired(1000); item; item = heap.popExpired(1000)) {
            expect(item.heapIndex).toBe(-1);
            popped.push(item.deadline);
          }
          expect(popped).toEqual(kept.map((item) => item.deadline).sort((a, b) => a - b));
        },
      ),
    );
  });

  test('popExpired leaves entries that are not due', () => {
    const heap = new DeadlineHeap<{ deadline: number; heapIndex: number }>();
    heap.add({ deadline: 10, heapIndex: -1 });
    heap.add({ deadline: 5, heapIndex: -1 });
    expect(heap.popExpired(7)?.deadline).toBe(5);
    expect(heap.popExpired(7)).toBeUndefined();
    expect(heap.peek()?.deadline).toBe(10);
    heap.remove({ deadline: 10, heapIndex: 0 }); // not the same entry: ignored
    expect(heap.size).toBe(1);
    expect(heap.clear()).toHaveLength(1);
    expect(heap.size).toBe(0);
  });
});

describe('EventChannel', () => {
  test('each iterator gets every event, keeping the newest when it lags', async () => {
    const channel = new EventChannel<number>(3);
    const fast = channel.subscribe();
    const slow = channel.subscribe();
    const first = fast.next();
    channel.push(1);
    expect(await first).toEqual({ value: 1, done: false });
    for (let i = 2; i <= 6; i++) channel.push(i);
    channel.end();
    const rest: number[] = [];
    for await (const n of slow) rest.push(n);
    expect(rest).toEqual([4, 5, 6]);
    expect(channel.subscribers).toBe(0);
    expect(await channel.subscribe().next()).toEqual({ value: undefined, done: true });
  });

  test('return() unsubscribes', async () => {
    const channel = new EventChannel<number>();
    const iterator = channel.subscribe();
    expect(channel.subscribers).toBe(1);
    await iterator.return?.();
    expect(channel.subscribers).toBe(0);
  });
});
