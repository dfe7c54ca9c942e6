import { hostname } from 'node:os';
import { describe, expect, test } from 'vitest';
import { resolveOptions } from '../src/options.js';

describe('resolveOptions', () => {
  test('applies the defaults', () => {
    expect(resolveOptions()).toEqual({
      host: '127.0.0.1',
      port: 4730,
      jobRetries: 0,
      handlePrefix: expect.stringMatching(/^H:/),
      maxPacketSize: 64 * 1024 * 1024,
      maxQueue: 0,
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
  ])('rejects a bad %s with ERR_INVALID_ARGUMENT', (field, options) => {
    expect(() => resolveOptions(options)).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT', field }),
    );
  });
});
