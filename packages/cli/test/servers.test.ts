import { describe, expect, test } from 'vitest';
import { UsageError } from '../src/errors.js';
import { formatHostPort, resolveServers } from '../src/servers.js';

describe('resolveServers', () => {
  test('defaults to 127.0.0.1:4730', () => {
    expect(resolveServers(undefined, {})).toEqual(['127.0.0.1:4730']);
    expect(resolveServers(undefined, { GEARMAN_SERVERS: '  ' })).toEqual(['127.0.0.1:4730']);
  });

  test('takes GEARMAN_SERVERS, and --servers over it', () => {
    const env = { GEARMAN_SERVERS: 'a:1,b' };
    expect(resolveServers(undefined, env)).toEqual(['a:1', 'b:4730']);
    expect(resolveServers('c:3', env)).toEqual(['c:3']);
  });

  test('keeps IPv6 hosts in brackets', () => {
    expect(resolveServers('[::1]:4731', {})).toEqual(['[::1]:4731']);
    expect(formatHostPort('::1', 4730)).toBe('[::1]:4730');
  });

  test('names the source of a bad entry', () => {
    expect(() => resolveServers('a:notaport', {})).toThrow(UsageError);
    expect(() => resolveServers('a:notaport', {})).toThrow(/^--servers: /);
    expect(() => resolveServers(undefined, { GEARMAN_SERVERS: 'a:99999' })).toThrow(
      /^GEARMAN_SERVERS: /,
    );
    expect(() => resolveServers(',', {})).toThrow(/at least one server/);
  });
});
