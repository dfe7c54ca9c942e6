import { describe, expect, test } from 'vitest';
import { EventChannel } from '../src/event-channel.js';

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
