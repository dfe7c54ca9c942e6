import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { MinHeap } from '../src/min-heap.js';

interface Item {
  value: number;
  id: number;
  heapIndex: number;
}

const before = (a: Item, b: Item): boolean =>
  a.value < b.value || (a.value === b.value && a.id < b.id);

describe('MinHeap', () => {
  test('takes items in order after arbitrary removals, and keeps heapIndex current', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 30 }), { maxLength: 60 }),
        fc.array(fc.nat(), { maxLength: 20 }),
        (values, picks) => {
          const heap = new MinHeap<Item>(before);
          const items = values.map((value, id) => ({ value, id, heapIndex: -1 }));
          for (const item of items) heap.push(item);
          const removed = new Set<Item>();
          for (const pick of picks) {
            if (items.length === 0) break;
            const item = items[pick % items.length] as Item;
            expect(heap.remove(item)).toBe(!removed.has(item));
            expect(item.heapIndex).toBe(-1);
            removed.add(item);
          }
          expect(heap.size).toBe(items.length - removed.size);
          const out: Item[] = [];
          for (let item = heap.shift(); item !== undefined; item = heap.shift()) out.push(item);
          expect(out).toEqual(
            items.filter((item) => !removed.has(item)).sort((a, b) => (before(a, b) ? -1 : 1)),
          );
        },
      ),
    );
  });

  test('peek shows the smallest without taking it', () => {
    const heap = new MinHeap<Item>(before);
    expect(heap.peek()).toBeUndefined();
    const item = { value: 1, id: 0, heapIndex: -1 };
    heap.push({ value: 5, id: 1, heapIndex: -1 });
    heap.push(item);
    expect(heap.peek()).toBe(item);
    expect(heap.size).toBe(2);
  });
});
