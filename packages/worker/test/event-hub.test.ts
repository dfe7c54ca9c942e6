import { describe, expect, test } from 'vitest';
import { EventHub } from '../src/event-hub.js';

async function take<T>(iterator: AsyncIterator<T>, count: number): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < count; i++) {
    const { value, done } = await iterator.next();
    if (done) break;
    out.push(value);
  }
  return out;
}

describe('EventHub', () => {
  test('each subscriber sees the events published after it subscribed, in order', async () => {
    const hub = new EventHub<number>();
    hub.publish(0);
    const a = hub.subscribe();
    hub.publish(1);
    const b = hub.subscribe();
    hub.publish(2);
    expect(await take(a, 2)).toEqual([1, 2]);
    expect(await take(b, 1)).toEqual([2]);
  });

  test('a waiting reader is woken by the next event, and every reader ends with end()', async () => {
    const hub = new EventHub<string>();
    const a = hub.subscribe();
    const pending = a.next();
    hub.publish('x');
    expect(await pending).toEqual({ value: 'x', done: false });
    hub.publish('queued');
    const waiting = hub.subscribe();
    const next = waiting.next();
    hub.end();
    hub.publish('after end');
    expect(await next).toEqual({ value: undefined, done: true });
    expect(await take(a, 5)).toEqual(['queued']);
    expect(await hub.subscribe().next()).toEqual({ value: undefined, done: true });
  });

  test('keeps at most 1000 events for a reader that does not read', async () => {
    const hub = new EventHub<number>();
    const lazy = hub.subscribe();
    for (let i = 0; i < 1500; i++) hub.publish(i);
    const events = await take(lazy, 1000);
    expect(events[0]).toBe(500);
    expect(events.at(-1)).toBe(1499);
  });

  test('return() unsubscribes', async () => {
    const hub = new EventHub<number>();
    const iterator = hub.subscribe();
    const pending = iterator.next();
    await iterator.return?.();
    expect(await pending).toEqual({ value: undefined, done: true });
    hub.publish(1);
    expect(await iterator.next()).toEqual({ value: undefined, done: true });
  });
});
