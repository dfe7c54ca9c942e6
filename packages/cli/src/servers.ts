import { isIPv6 } from 'node:net';
import { parseServers } from '@gearmanode/core';
import { UsageError } from './errors.js';

/** The server used when neither `--servers` nor `GEARMAN_SERVERS` names one. */
const DEFAULT_SERVERS = '127.0.0.1:4730';

/** The environment variable with the default server list. */
export const SERVERS_ENV = 'GEARMAN_SERVERS';

/**
 * The job servers to talk to, as `host:port` strings (IPv6 hosts in brackets): from `--servers`,
 * else `GEARMAN_SERVERS`, else 127.0.0.1:4730. A host without a port gets 4730.
 * @throws UsageError naming the flag or variable for an empty list or a bad entry.
 */
export function resolveServers(
  flag: string | undefined,
  env: Readonly<Record<string, string | undefined>>,
): string[] {
  const fromEnv = env[SERVERS_ENV]?.trim();
  const [text, source] =
    flag !== undefined
      ? [flag, '--servers']
      : fromEnv !== undefined && fromEnv !== ''
        ? [fromEnv, SERVERS_ENV]
        : [DEFAULT_SERVERS, 'the default'];
  let addresses: ReturnType<typeof parseServers>;
  try {
    const entries = text.split(',').map((entry) => entry.trim());
    // A list of nothing but commas is the parser's "at least one server".
    if (entries.some((entry) => entry !== '')) for (const entry of entries) checkEntry(entry);
    addresses = parseServers(text);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new UsageError(`${source}: ${reason} (expected host:port,host:port,...)`);
  }
  return addresses.map((address) =>
    'path' in address ? address.path : formatHostPort(address.host, address.port),
  );
}

/**
 * Rejects what the address parser would read as something else: `host:4730:5` is not an IPv6
 * host with the default port, and `a,,b` has no server between its commas.
 */
function checkEntry(entry: string): void {
  if (entry === '') throw new Error('an empty entry between commas');
  if (entry.startsWith('/') || entry.startsWith('.')) return; // a Unix socket path
  const bracketed = /^\[([^\]]*)\](?::(.*))?$/.exec(entry);
  if (bracketed !== null) {
    if (!isIPv6(bracketed[1] as string)) {
      throw new Error(
        `${JSON.stringify(entry)}: ${bracketed[1]} in brackets is not an IPv6 address`,
      );
    }
    if (bracketed[2] === '')
      throw new Error(`${JSON.stringify(entry)} has no port after the colon`);
    return;
  }
  const colons = entry.split(':').length - 1;
  if (colons > 1 && !isIPv6(entry)) {
    throw new Error(
      `${JSON.stringify(entry)} is not host:port (an IPv6 address goes in brackets: [::1]:4730)`,
    );
  }
  if (colons === 1 && entry.endsWith(':')) {
    throw new Error(`${JSON.stringify(entry)} has no port after the colon`);
  }
}

/** `host:port`, with an IPv6 host in brackets so that the port stays unambiguous. */
export function formatHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
