import { describe, expect, test } from 'vitest';
import { formatAddress, parseServer } from '../src/address.js';

describe('formatAddress', () => {
  test.each([
    [{ host: '127.0.0.1', port: 4730 }, '127.0.0.1:4730'],
    [{ host: '::1', port: 4730 }, '[::1]:4730'],
    [{ host: 'fe80::1%eth0', port: 7003 }, '[fe80::1%eth0]:7003'],
    [{ host: 'gearman.example', port: 4731 }, 'gearman.example:4731'],
  ])('writes %o as %s, which parses back to the same address', (address, text) => {
    expect(formatAddress(address)).toBe(text);
    expect(parseServer(text)).toEqual(address);
  });

  test('writes a Unix socket as its path', () => {
    expect(formatAddress({ path: '/run/gearman.sock' })).toBe('/run/gearman.sock');
  });
});
