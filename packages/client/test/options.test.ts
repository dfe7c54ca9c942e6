import { createAdmin, createClient } from '@gearmanode/client';
import { describe, expect, test } from 'vitest';
import { resolveClientOptions } from '../src/options.js';

describe('resolveClientOptions', () => {
  test('fills in every default', () => {
    expect(resolveClientOptions({})).toEqual({
      servers: [{ host: '127.0.0.1', port: 4730 }],
      strategy: 'round-robin',
      recoverTime: 5000,
      lazy: false,
      tls: false,
      connectTimeout: 5000,
      requestTimeout: 10_000,
      suspectAfter: 500,
      heartbeatInterval: 15_000,
      keepAlive: true,
      noDelay: true,
      maxPacketSize: 64 * 1024 * 1024,
      reconnect: true,
      maxInFlight: 1000,
      retry: { retries: 0, minTimeout: 100, maxTimeout: 5000, factor: 2, randomize: true },
      clientId: undefined,
      timeout: 0,
    });
  });

  test('parses servers of every form', () => {
    expect(
      resolveClientOptions({
        servers: ['a:1', 'b', { host: 'c', port: 3 }, { path: '/tmp/g.sock' }, '[::1]:5'],
      }).servers,
    ).toEqual([
      { host: 'a', port: 1 },
      { host: 'b', port: 4730 },
      { host: 'c', port: 3 },
      { path: '/tmp/g.sock' },
      { host: '::1', port: 5 },
    ]);
    expect(resolveClientOptions({ servers: 'x:1,y:2' }).servers).toEqual([
      { host: 'x', port: 1 },
      { host: 'y', port: 2 },
    ]);
  });

  test('takes retry as a count or as options', () => {
    expect(resolveClientOptions({ retry: 2 }).retry.retries).toBe(2);
    expect(resolveClientOptions({ retry: { minTimeout: 5 } }).retry).toMatchObject({
      retries: 3,
      minTimeout: 5,
    });
  });

  test('treats timeout Infinity as none', () => {
    expect(resolveClientOptions({ timeout: Number.POSITIVE_INFINITY }).timeout).toBe(0);
  });

  const bad: [string, Record<string, unknown>][] = [
    ['servers', { servers: [] }],
    ['servers[0].port', { servers: ['a:99999'] }],
    ['servers[0].port', { servers: ['a:x'] }],
    ['servers[0].host', { servers: [':1'] }],
    ['servers[1].path', { servers: ['a', { path: '' }] }],
    ['strategy', { strategy: 'random' }],
    ['recoverTime', { recoverTime: -1 }],
    ['lazy', { lazy: 'yes' }],
    ['tls', { tls: 'on' }],
    ['connectTimeout', { connectTimeout: 0 }],
    ['requestTimeout', { requestTimeout: 1.5 }],
    ['heartbeatInterval', { heartbeatInterval: -5 }],
    ['keepAlive', { keepAlive: 1 }],
    ['noDelay', { noDelay: null }],
    ['maxPacketSize', { maxPacketSize: 2 ** 32 }],
    ['reconnect', { reconnect: 'always' }],
    ['reconnect.retries', { reconnect: { retries: -1 } }],
    ['reconnect.minTimeout', { reconnect: { minTimeout: 'x' } }],
    ['reconnect.factor', { reconnect: { factor: 0 } }],
    ['reconnect.shouldRetry', { reconnect: { shouldRetry: true } }],
    ['maxInFlight', { maxInFlight: 0 }],
    ['retry', { retry: -1 }],
    ['retry', { retry: 'twice' }],
    ['retry.retries', { retry: { retries: 1.5 } }],
    ['retry.maxTimeout', { retry: { maxTimeout: -1 } }],
    ['clientId', { clientId: 'has space' }],
    ['clientId', { clientId: 'x'.repeat(128) }],
    ['timeout', { timeout: -1 }],
    ['timeout', { timeout: Number.NaN }],
    ['colour', { colour: 'blue' }],
  ];
  for (const [field, options] of bad) {
    test(`throws InvalidArgumentError naming ${field} for ${JSON.stringify(options)}`, () => {
      expect(() => resolveClientOptions(options)).toThrow(
        expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT', field }),
      );
    });
  }

  test('createClient rejects bad options before connecting', async () => {
    await expect(createClient({ maxInFlight: -1 })).rejects.toMatchObject({
      name: 'InvalidArgumentError',
      field: 'maxInFlight',
    });
  });

  test('createAdmin rejects bad options', async () => {
    await expect(createAdmin({ timeout: 0 })).rejects.toMatchObject({ field: 'timeout' });
    await expect(createAdmin({ server: 'a:0' })).rejects.toMatchObject({ field: 'server.port' });
  });
});

describe('job options', () => {
  const cases: [string, (c: Awaited<ReturnType<typeof createClient>>) => Promise<unknown>][] = [
    ['name', (c) => c.submit('', 'x')],
    ['name', (c) => c.submit('a\0b', 'x')],
    ['name', (c) => c.submit('x'.repeat(513), 'x')],
    ['payload', (c) => c.submit('f', 42 as unknown as string)],
    ['unique', (c) => c.submit('f', 'x', { unique: 'é'.repeat(32) })],
    ['unique', (c) => c.submit('f', 'x', { unique: 'a\0' })],
    ['priority', (c) => c.submit('f', 'x', { priority: 'urgent' as 'high' })],
    ['timeout', (c) => c.submit('f', 'x', { timeout: -1 })],
    ['signal', (c) => c.submit('f', 'x', { signal: {} as AbortSignal })],
    ['encoding', (c) => c.submit('f', 'x', { encoding: 'klingon' as 'utf8' })],
    ['idempotent', (c) => c.submit('f', 'x', { idempotent: 'yes' as unknown as boolean })],
    ['reducer', (c) => c.submit('f', 'x', { reducer: '' })],
    ['reducer', (c) => c.submit('f', 'x', { reducer: 'r'.repeat(64) })],
    ['priority', (c) => c.submitBackground('f', 'x', { reducer: 'r', priority: 'low' })],
    ['at', (c) => c.submit('f', 'x', { at: new Date() } as object)],
    ['at', (c) => c.submitBackground('f', 'x', { at: new Date(Number.NaN) })],
    ['at', (c) => c.submitBackground('f', 'x', { at: new Date(), priority: 'high' })],
    ['maxBufferedEvents', (c) => c.start('f', 'x', { maxBufferedEvents: -1 }).result()],
    ['handle', (c) => c.getStatus('')],
    ['unique', (c) => c.getStatus({ unique: 'x'.repeat(64) })],
    ['server', (c) => c.echo('x', { server: 'elsewhere:1' })],
    ['payload', (c) => c.echo(7 as unknown as string)],
  ];
  for (const [index, [field, call]] of cases.entries()) {
    test(`rejects with InvalidArgumentError naming ${field} (case ${index})`, async () => {
      const client = await createClient({ lazy: true });
      try {
        await expect(call(client)).rejects.toMatchObject({ code: 'ERR_INVALID_ARGUMENT', field });
        expect(client.stats().submitted).toBe(0);
      } finally {
        client.destroy();
      }
    });
  }

  test('an already aborted signal rejects with its reason, as is', async () => {
    const client = await createClient({ lazy: true });
    const reason = { why: 'not an Error' };
    await expect(client.submit('f', 'x', { signal: AbortSignal.abort(reason) })).rejects.toBe(
      reason,
    );
    client.destroy();
  });
});
