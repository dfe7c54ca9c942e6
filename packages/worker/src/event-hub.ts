/** Events kept per subscriber that is not reading; older ones are dropped past this. */
const MAX_BACKLOG = 1000;

interface Subscriber<T> {
  queue: T[];
  wake: ((result: IteratorResult<T>) => void) | undefined;
}

/**
 * Fans events out to any number of async iterators, each seeing the events published after it
 * subscribed. A reader that falls more than 1000 events behind loses the oldest: status events
 * are diagnostics, and an unread iterator must not grow without bound.
 */
export class EventHub<T> {
  readonly #subscribers = new Set<Subscriber<T>>();
  #ended = false;

  publish(event: T): void {
    if (this.#ended) return;
    for (const subscriber of this.#subscribers) {
      const wake = subscriber.wake;
      if (wake !== undefined) {
        subscriber.wake = undefined;
        wake({ value: event, done: false });
      } else {
        if (subscriber.queue.length >= MAX_BACKLOG) subscriber.queue.shift();
        subscriber.queue.push(event);
      }
    }
  }

  /** Ends every iterator once it has read what is queued; later subscribers end at once. */
  end(): void {
    this.#ended = true;
    for (const subscriber of this.#subscribers) {
      if (subscriber.wake !== undefined) {
        const wake = subscriber.wake;
        subscriber.wake = undefined;
        this.#subscribers.delete(subscriber);
        wake({ value: undefined, done: true });
      }
    }
  }

  /** An iterator over the events published from now on. */
  subscribe(): AsyncIterableIterator<T> {
    const subscriber: Subscriber<T> = { queue: [], wake: undefined };
    if (!this.#ended) this.#subscribers.add(subscriber);
    const done = (): IteratorResult<T> => ({ value: undefined, done: true });
    const iterator: AsyncIterableIterator<T> = {
      next: () => {
        const event = subscriber.queue.shift();
        if (event !== undefined) return Promise.resolve({ value: event, done: false });
        if (this.#ended || !this.#subscribers.has(subscriber)) {
          this.#subscribers.delete(subscriber);
          return Promise.resolve(done());
        }
        return new Promise((resolve) => {
          subscriber.wake = resolve;
        });
      },
      return: () => {
        this.#subscribers.delete(subscriber);
        subscriber.queue.length = 0;
        const wake = subscriber.wake;
        subscriber.wake = undefined;
        wake?.(done());
        return Promise.resolve(done());
      },
      [Symbol.asyncIterator]: () => iterator,
    };
    return iterator;
  }
}
