import { hostname } from 'node:os';
import { describe, expect, test } from 'vitest';
import { resolveOptions, type ServerOptions } from '../src/options.js';

describe('resolveOptions', () => {
  test('applies the defaults', () => {
    expect(resolveOptions()).toEqual({
      host: '127.0.0.1',
      port: 4730,
      jobRetries: 0,
      handlePrefix: expect.stringMatching(/^H:/),
      maxPacketSize: 64 * 1024 * 1024,
      maxQueue: 0,
      store: undefined,
      tls: undefined,
      logger: undefined,
    });
    expect(resolveOptions().handlePrefix).toBe(`H:${hostname()}`.slice(0, 40));
  });

  test.each([
    ['port', { port: 65536 }],
    ['port', { port: -1 }],
    ['port', { port: 1.5 }],
    ['jobRetries', { jobRetries: -1 }],
    ['maxPacketSize', { maxPacketSize: 2 ** 32 }],
    ['maxQueue', { maxQueue: Number.NaN }],
    ['handlePrefix', { handlePrefix: 'has space' }],
    ['handlePrefix', { handlePrefix: 'x'.repeat(41) }],
    ['handlePrefix', { handlePrefix: '' }],
    ['host', { host: '' }],
    ['port', { port: null }],
    ['host', { host: null }],
    ['store', { store: 'sqlite:' }],
    ['store', { store: '/var/lib/queue.db' }],
    ['storeTable', { store: 'sqlite:q.db', storeTable: 'bad name' }],
    ['tls', { tls: 'cert.pem' }],
    ['tls.cert', { tls: { cert: '', key: 'k' } }],
    ['tls.key', { tls: { cert: 'c' } }],
    ['tls.ca', { tls: { cert: 'c', key: 'k', ca: 7 } }],
    ['tls.requestCert', { tls: { cert: 'c', key: 'k', requestCert: 'yes' } }],
  ])('rejects a bad %s with ERR_INVALID_ARGUMENT', (field, options) => {
    // Wrong types on purpose: the checks are for JavaScript callers too.
    expect(() => resolveOptions(options as ServerOptions)).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT', field }),
    );
  });

  test("store: sqlite:PATH with gearmand's table by default", () => {
    expect(resolveOptions({ store: 'sqlite:/var/lib/q.db' }).store).toEqual({
      spec: 'sqlite:/var/lib/q.db',
      kind: 'sqlite',
      path: '/var/lib/q.db',
      table: 'gearman_queue',
    });
    expect(resolveOptions({ store: 'sqlite:q.db', storeTable: 'jobs_2' }).store?.table).toBe(
      'jobs_2',
    );
  });

  test('tls: a ca asks for client certificates unless requestCert says otherwise', () => {
    expect(resolveOptions({ tls: { cert: 'c', key: 'k' } }).tls).toEqual({
      cert: 'c',
      key: 'k',
      requestCert: false,
    });
    expect(resolveOptions({ tls: { cert: 'c', key: 'k', ca: 'a' } }).tls?.requestCert).toBe(true);
    expect(
      resolveOptions({ tls: { cert: 'c', key: 'k', ca: 'a', requestCert: false } }).tls
        ?.requestCert,
    ).toBe(false);
  });
});
