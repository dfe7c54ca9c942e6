/**
 * Fans events out to any number of async iterators, each with its own bounded buffer: an
 * iterator that is not read keeps the newest `limit` events and drops older ones, so a
 * forgotten `status()` iterator cannot grow without bound. `end()` finishes every iterator once
 * its buffered events are read.
 */
export class EventChannel<T> {
  readonly #limit: number;
  readonly #subscribers = new Set<Subscriber<T>>();
  #ended = false;

  constructor(limit = 1000) {
    this.#limit = limit;
  }

  /** Live iterators. */
  get subscribers(): number {
    return this.#subscribers.size;
  }

  /** Hands an event to every live iterator (each keeps at most `limit` unread). */
  push(event: T): void {
    for (const subscriber of this.#subscribers) subscriber.push(event);
  }

  /** Finishes every iterator; later `subscribe()` calls get finished iterators. */
  end(): void {
    this.#ended = true;
    for (const subscriber of this.#subscribers) subscriber.end();
    this.#subscribers.clear();
  }

  /** A new iterator of the events pushed from now on, until it returns or the channel ends. */
  subscribe(): AsyncIterableIterator<T> {
    const subscriber = new Subscriber<T>(this.#limit, () => this.#subscribers.delete(subscriber));
    if (this.#ended) subscriber.end();
    else this.#subscribers.add(subscriber);
    return subscriber;
  }
}

class Subscriber<T> implements AsyncIterableIterator<T> {
  readonly #limit: number;
  readonly #onReturn: () => void;
  #buffer: T[] = [];
  #done = false;
  #wake: ((result: IteratorResult<T>) => void) | undefined;

  constructor(limit: number, onReturn: () => void) {
    this.#limit = limit;
    this.#onReturn = onReturn;
  }

  push(event: T): void {
    if (this.#done) return;
    const wake = this.#wake;
    if (wake !== undefined) {
      this.#wake = undefined;
      wake({ value: event, done: false });
      return;
    }
    this.#buffer.push(event);
    if (this.#buffer.length > this.#limit) this.#buffer.shift();
  }

  end(): void {
    this.#done = true;
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.({ value: undefined, done: true });
  }

  next(): Promise<IteratorResult<T>> {
    if (this.#buffer.length > 0) {
      return Promise.resolve({ value: this.#buffer.shift() as T, done: false });
    }
    if (this.#done) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => {
      this.#wake = resolve;
    });
  }

  return(): Promise<IteratorResult<T>> {
    this.#buffer = [];
    this.end();
    this.#onReturn();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    return this;
  }
}
