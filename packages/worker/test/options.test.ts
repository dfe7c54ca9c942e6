import { describe, expect, test } from 'vitest';
import { createWorker } from '../src/index.js';
import { resolveOptions, type WorkerOptions } from '../src/options.js';

describe('resolveOptions', () => {
  test('applies the documented defaults', () => {
    expect(resolveOptions({})).toEqual({
      servers: undefined,
      concurrency: 1,
      functions: [],
      clientId: undefined,
      grabMode: 'uniq',
      pollInterval: 1000,
      timeout: 0,
      serverTimeout: false,
      tls: false,
      connectTimeout: 5000,
      requestTimeout: 10_000,
      suspectAfter: 500,
      heartbeatInterval: 15_000,
      keepAlive: true,
      noDelay: true,
      maxPacketSize: 64 * 1024 * 1024,
      reconnect: true,
    });
  });

  test('gives functions the worker timeout unless they name their own', () => {
    const resolved = resolveOptions({
      timeout: 5000,
      functions: ['a', { name: 'b' }, { name: 'c', timeout: 0 }, { name: 'd', timeout: 10 }],
    });
    expect(resolved.functions).toEqual([
      { name: 'a', timeout: 5000 },
      { name: 'b', timeout: 5000 },
      { name: 'c', timeout: 0 },
      { name: 'd', timeout: 10 },
    ]);
  });

  const bad: [string, WorkerOptions, string][] = [
    ['concurrency 0', { concurrency: 0 }, 'concurrency'],
    ['concurrency 1.5', { concurrency: 1.5 }, 'concurrency'],
    ['concurrency as text', { concurrency: '4' as unknown as number }, 'concurrency'],
    ['pollInterval below 10 ms', { pollInterval: 5 }, 'pollInterval'],
    ['a negative timeout', { timeout: -1 }, 'timeout'],
    ['a timeout past the timer range', { timeout: 2 ** 31 }, 'timeout'],
    ['an unknown grabMode', { grabMode: 'plain' as 'uniq' }, 'grabMode'],
    ['an empty clientId', { clientId: '' }, 'clientId'],
    ['a clientId with a space', { clientId: 'a b' }, 'clientId'],
    ['a clientId with a newline', { clientId: 'a\nb' }, 'clientId'],
    ['a clientId over 127 bytes', { clientId: 'x'.repeat(128) }, 'clientId'],
    ['an empty function name', { functions: [''] }, 'functions[0]'],
    ['a function name with NUL', { functions: ['ok', 'a\0b'] }, 'functions[1]'],
    ['a function name over 512 bytes', { functions: ['é'.repeat(257)] }, 'functions[0]'],
    ['a bad function timeout', { functions: [{ name: 'a', timeout: -5 }] }, 'functions[0].timeout'],
    ['functions not an array', { functions: 'a' as unknown as string[] }, 'functions'],
    ['a negative requestTimeout', { requestTimeout: -1 }, 'requestTimeout'],
    ['a fractional heartbeatInterval', { heartbeatInterval: 0.5 }, 'heartbeatInterval'],
    // The connection options are checked as the client checks them.
    ['a connectTimeout of 0', { connectTimeout: 0 }, 'connectTimeout'],
    ['tls as text', { tls: 'on' as unknown as boolean }, 'tls'],
    ['keepAlive as a number', { keepAlive: 1 as unknown as boolean }, 'keepAlive'],
    ['a maxPacketSize past 32 bits', { maxPacketSize: 2 ** 32 }, 'maxPacketSize'],
    ['a bad reconnect.factor', { reconnect: { factor: 0 } }, 'reconnect.factor'],
  ];
  for (const [what, options, field] of bad) {
    test(`rejects ${what} with ERR_INVALID_ARGUMENT naming ${field}`, () => {
      expect(() => resolveOptions(options)).toThrow(
        expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT', field }),
      );
    });
  }

  test('accepts a 127-byte client id and a 512-byte function name', () => {
    expect(resolveOptions({ clientId: 'x'.repeat(127) }).clientId).toHaveLength(127);
    expect(resolveOptions({ functions: ['f'.repeat(512)] }).functions[0]?.name).toHaveLength(512);
  });
});

describe('createWorker', () => {
  test('rejects bad options before connecting anywhere', async () => {
    await expect(createWorker({ concurrency: -1 })).rejects.toMatchObject({
      code: 'ERR_INVALID_ARGUMENT',
      field: 'concurrency',
    });
    await expect(createWorker({ servers: ['host:99999'] })).rejects.toMatchObject({
      code: 'ERR_INVALID_ARGUMENT',
    });
  });
});
