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
    addresses = parseServers(text);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new UsageError(`${source}: ${reason} (expected host:port,host:port,...)`);
  }
  return addresses.map((address) =>
    'path' in address ? address.path : formatHostPort(address.host, address.port),
  );
}

/** `host:port`, with an IPv6 host in brackets so that the port stays unambiguous. */
export function formatHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
