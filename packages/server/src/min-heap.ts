/** What a heap item carries: its position in the heap, so that it can be removed in O(log n). */
export interface HeapItem {
  /** Its index in the heap, or -1 when it is in none. */
  heapIndex: number;
}

/**
 * A binary min-heap of items that know their own position, ordered by `before`. Removing any
 * item and taking the smallest are O(log n).
 */
export class MinHeap<T extends HeapItem> {
  readonly #items: T[] = [];
  readonly #before: (a: T, b: T) => boolean;

  /** `before(a, b)` is true when `a` must come out ahead of `b`. */
  constructor(before: (a: T, b: T) => boolean) {
    this.#before = before;
  }

  get size(): number {
    return this.#items.length;
  }

  /** The smallest item, without taking it. */
  peek(): T | undefined {
    return this.#items[0];
  }

  push(item: T): void {
    this.#items.push(item);
    this.#up(this.#items.length - 1);
  }

  /** Takes `item` out; false when it is not in this heap. */
  remove(item: T): boolean {
    const index = item.heapIndex;
    const items = this.#items;
    if (index < 0 || items[index] !== item) return false;
    const last = items.pop() as T;
    item.heapIndex = -1;
    if (index < items.length) {
      this.#place(last, index);
      this.#down(index);
      this.#up(last.heapIndex);
    }
    return true;
  }

  /** Takes the smallest item. */
  shift(): T | undefined {
    const first = this.#items[0];
    if (first !== undefined) this.remove(first);
    return first;
  }

  #place(item: T, index: number): void {
    this.#items[index] = item;
    item.heapIndex = index;
  }

  /** Moves the item at `index` towards the root while it comes before its parent. */
  #up(index: number): void {
    const items = this.#items;
    const item = items[index] as T;
    while (index > 0) {
      const parent = (index - 1) >> 1;
      if (!this.#before(item, items[parent] as T)) break;
      this.#place(items[parent] as T, index);
      index = parent;
    }
    this.#place(item, index);
  }

  /** Moves the item at `index` towards the leaves while a child comes before it. */
  #down(index: number): void {
    const items = this.#items;
    const item = items[index] as T;
    for (;;) {
      let child = 2 * index + 1;
      if (child >= items.length) break;
      const right = items[child + 1];
      if (right !== undefined && this.#before(right, items[child] as T)) child++;
      if (!this.#before(items[child] as T, item)) break;
      this.#place(items[child] as T, index);
      index = child;
    }
    this.#place(item, index);
  }
}
