import diagnostics from 'node:diagnostics_channel';
import { describe, expect, test } from 'vitest';
import { recordTrace } from '../../../test/diagnostics.js';
import {
  anySubscribed,
  byteLength,
  DIAGNOSTICS_CHANNELS,
  isTraced,
  publishConnectionEvent,
  settleTrace,
  startTrace,
} from '../src/index.js';

describe('diagnostics', () => {
  test('the subscriber check sees a subscriber on any one of the five channels', () => {
    const channel = diagnostics.tracingChannel<unknown, object>('gearmanode:test:check');
    expect(isTraced(channel)).toBe(false);
    expect(anySubscribed(channel)).toBe(false);
    for (const phase of ['start', 'end', 'asyncStart', 'asyncEnd', 'error'] as const) {
      const listener = () => {};
      channel[phase].subscribe(listener);
      expect(isTraced(channel), phase).toBe(true);
      // The fallback for Node before 20.13, which has no TracingChannel#hasSubscribers.
      expect(anySubscribed(channel), phase).toBe(true);
      channel[phase].unsubscribe(listener);
      expect(anySubscribed(channel), phase).toBe(false);
    }
  });

  test('startTrace and settleTrace publish in the order of tracePromise', () => {
    const channel = diagnostics.tracingChannel<unknown, { n: number }>('gearmanode:test:order');
    const seen: string[] = [];
    {
      using recorder = recordTrace<{ n: number }>('gearmanode:test:order');
      startTrace(channel, { n: 1 });
      settleTrace(channel, { n: 1 }, false);
      startTrace(channel, { n: 2 });
      settleTrace(channel, { n: 2 }, true);
      for (const { phase, context } of recorder.events) seen.push(`${phase}${context.n}`);
    }
    expect(seen).toEqual([
      'start1',
      'end1',
      'asyncStart1',
      'asyncEnd1',
      'start2',
      'end2',
      'error2',
      'asyncStart2',
      'asyncEnd2',
    ]);
  });

  test('connection events go to their channel; give-up has none', () => {
    const seen: [string, unknown][] = [];
    const names = [
      DIAGNOSTICS_CHANNELS.connect,
      DIAGNOSTICS_CHANNELS.disconnect,
      DIAGNOSTICS_CHANNELS.reconnecting,
    ];
    const listeners = names.map((name) => {
      const listener = (message: unknown): void => {
        seen.push([name, message]);
      };
      diagnostics.subscribe(name, listener);
      return [name, listener] as const;
    });
    const error = new Error('refused');
    const connect = { type: 'connect', server: 'a:1', generation: 1 } as const;
    const disconnect = { type: 'disconnect', server: 'a:1', error: undefined } as const;
    const reconnecting = { type: 'reconnecting', server: 'a:1', attempt: 2, error } as const;
    for (const event of [connect, disconnect, reconnecting]) publishConnectionEvent(event);
    publishConnectionEvent({ type: 'give-up', server: 'a:1', error });
    for (const [name, listener] of listeners) diagnostics.unsubscribe(name, listener);
    expect(seen).toEqual([
      ['gearmanode:connection:connect', connect],
      ['gearmanode:connection:disconnect', disconnect],
      ['gearmanode:connection:reconnecting', reconnecting],
    ]);
  });

  test('byteLength counts strings as UTF-8 and bytes as they are', () => {
    expect(byteLength('héllo')).toBe(6);
    expect(byteLength(new Uint8Array(7))).toBe(7);
    expect(byteLength(Buffer.alloc(3).subarray(1))).toBe(2);
  });
});
