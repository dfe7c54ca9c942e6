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

  test('rejects a malformed list before anything connects', () => {
    expect(() => resolveServers('host:4730:5', {})).toThrow(
      /^--servers: "host:4730:5" is not host:port \(an IPv6 address goes in brackets/,
    );
    expect(() => resolveServers('a:1,,b:2', {})).toThrow(/an empty entry between commas/);
    expect(() => resolveServers('host:', {})).toThrow(/"host:" has no port after the colon/);
    expect(() => resolveServers('[::1]:', {})).toThrow(/has no port after the colon/);
    expect(() => resolveServers('[nope]:4730', {})).toThrow(/nope in brackets is not an IPv6/);
    expect(() => resolveServers(undefined, { GEARMAN_SERVERS: 'h:1:2' })).toThrow(
      /^GEARMAN_SERVERS: "h:1:2"/,
    );
  });

  test('still takes a bare IPv6 address, with the default port', () => {
    expect(resolveServers('::1', {})).toEqual(['[::1]:4730']);
    expect(resolveServers('fe80::1', {})).toEqual(['[fe80::1]:4730']);
  });
});
