/** An entry of a `DeadlineHeap`: its deadline (ms since the epoch) and its slot in the heap. */
export interface Deadline {
  deadline: number;
  /** Maintained by the heap: the entry's index, or -1 while it is not in a heap. */
  heapIndex: number;
}

/**
 * A min-heap of deadlines with O(log n) removal of any entry, so that a client checks all its
 * job timeouts with one timer instead of one `setTimeout` per job. Entries carry their own index,
 * so removal allocates nothing.
 */
export class DeadlineHeap<T extends Deadline> {
  #items: T[] = [];

  get size(): number {
    return this.#items.length;
  }

  /** The entry that expires first, if any. */
  peek(): T | undefined {
    return this.#items[0];
  }

  add(item: T): void {
    const items = this.#items;
    item.heapIndex = items.length;
    items.push(item);
    this.#up(item.heapIndex);
  }

  /** Removes `item` if it is in the heap; does nothing otherwise. */
  remove(item: T): void {
    const index = item.heapIndex;
    const items = this.#items;
    if (index < 0 || items[index] !== item) return;
    item.heapIndex = -1;
    const last = items.pop() as T;
    if (index === items.length) return;
    items[index] = last;
    last.heapIndex = index;
    this.#down(index);
    this.#up(last.heapIndex);
  }

  /** Removes and returns the first entry whose deadline is at or before `now`. */
  popExpired(now: number): T | undefined {
    const head = this.#items[0];
    if (head === undefined || head.deadline > now) return undefined;
    this.remove(head);
    return head;
  }

  /** Removes every entry and returns them. */
  clear(): T[] {
    const items = this.#items;
    this.#items = [];
    for (const item of items) item.heapIndex = -1;
    return items;
  }

  #up(index: number): void {
    const items = this.#items;
    const item = items[index] as T;
    while (index > 0) {
      const parentIndex = (index - 1) >> 1;
      const parent = items[parentIndex] as T;
      if (parent.deadline <= item.deadline) break;
      items[index] = parent;
      parent.heapIndex = index;
      index = parentIndex;
    }
    items[index] = item;
    item.heapIndex = index;
  }

  #down(index: number): void {
    const items = this.#items;
    const length = items.length;
    const item = items[index] as T;
    for (;;) {
      const left = 2 * index + 1;
      if (left >= length) break;
      const right = left + 1;
      let child = left;
      if (right < length && (items[right] as T).deadline < (items[left] as T).deadline) {
        child = right;
      }
      const smallest = items[child] as T;
      if (smallest.deadline >= item.deadline) break;
      items[index] = smallest;
      smallest.heapIndex = index;
      index = child;
    }
    items[index] = item;
    item.heapIndex = index;
  }
}
