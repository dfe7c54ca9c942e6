/** An entry of `Deadlines`: its time limit and when it runs out. */
export interface Timed {
  /** The time limit, in ms: entries with the same limit expire in the order they were added. */
  readonly timeout: number;
  /** When it runs out, on the clock passed to `add()`. */
  deadline: number;
}

/**
 * Time limits of many entries (jobs), checked by one timer. Entries are kept in one set per
 * limit: with a clock that only moves forward, deadlines within a set only increase, so adding,
 * removing and finding the expired ones cost O(1) each, with no heap (Node's own timer lists
 * work the same way).
 */
export class Deadlines<T extends Timed> {
  readonly #sets = new Map<number, Set<T>>();
  #size = 0;

  get size(): number {
    return this.#size;
  }

  /** Starts `entry`'s clock at `now`. */
  add(entry: T, now: number): void {
    entry.deadline = now + entry.timeout;
    let set = this.#sets.get(entry.timeout);
    if (set === undefined) {
      set = new Set();
      this.#sets.set(entry.timeout, set);
    }
    if (!set.has(entry)) this.#size++;
    set.add(entry);
  }

  /** Forgets an entry: it will not expire. Entries not held are ignored. */
  delete(entry: T): void {
    if (this.#sets.get(entry.timeout)?.delete(entry)) this.#size--;
  }

  /** The earliest deadline, or undefined when there is none. */
  next(): number | undefined {
    let earliest: number | undefined;
    for (const set of this.#sets.values()) {
      for (const entry of set) {
        if (earliest === undefined || entry.deadline < earliest) earliest = entry.deadline;
        break;
      }
    }
    return earliest;
  }

  /** Removes and returns every entry whose deadline is at or before `now`. */
  expire(now: number): T[] {
    const expired: T[] = [];
    for (const set of this.#sets.values()) {
      for (const entry of set) {
        if (entry.deadline > now) break;
        set.delete(entry);
        expired.push(entry);
      }
    }
    this.#size -= expired.length;
    return expired;
  }

  /** Removes every entry and returns them. */
  clear(): T[] {
    const all: T[] = [];
    for (const set of this.#sets.values()) all.push(...set);
    this.#sets.clear();
    this.#size = 0;
    return all;
  }
}
