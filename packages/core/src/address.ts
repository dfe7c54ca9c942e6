import { DEFAULT_PORT, InvalidArgumentError } from '@gearmanode/protocol';

/** Where a job server listens: TCP `host:port`, or a Unix socket `path`. */
export type ServerAddress = { host: string; port: number } | { path: string };

/** A job server as users write it: `'host:port'`, `'host'`, `{ host, port }` or `{ path }`. */
export type ServerSpec = string | { host?: string; port?: number } | { path: string };

/** Where to connect when no server is given. */
export const DEFAULT_SERVER: ServerAddress = { host: '127.0.0.1', port: DEFAULT_PORT };

/**
 * Turns one user-written server into an address.
 * @throws InvalidArgumentError naming `field` for an empty host or a port outside 1–65535.
 */
export function parseServer(spec: ServerSpec, field = 'server'): ServerAddress {
  if (typeof spec === 'string') {
    const text = spec.trim();
    // [::1]:4730 for IPv6 literals; otherwise the last colon separates the port.
    const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(text);
    if (bracketed) return checked(bracketed[1] ?? '', portOf(bracketed[2], field), field);
    const colon = text.lastIndexOf(':');
    if (colon === -1 || text.indexOf(':') !== colon) return checked(text, DEFAULT_PORT, field);
    return checked(text.slice(0, colon), portOf(text.slice(colon + 1), field), field);
  }
  if (spec === null || typeof spec !== 'object') {
    throw new InvalidArgumentError(field, `expected 'host:port' or an object, got ${typeof spec}`);
  }
  if ('path' in spec) {
    if (typeof spec.path !== 'string' || spec.path === '') {
      throw new InvalidArgumentError(`${field}.path`, 'must be a non-empty string');
    }
    return { path: spec.path };
  }
  return checked(spec.host ?? '127.0.0.1', spec.port ?? DEFAULT_PORT, field);
}

/**
 * Parses a list of servers, or `GEARMAN_SERVERS`-style text (`host:port,host:port`).
 * @throws InvalidArgumentError for an empty list or a bad entry.
 */
export function parseServers(specs: readonly ServerSpec[] | string | undefined): ServerAddress[] {
  if (specs === undefined) return [DEFAULT_SERVER];
  const list = typeof specs === 'string' ? specs.split(',').filter((s) => s.trim() !== '') : specs;
  if (list.length === 0) throw new InvalidArgumentError('servers', 'must name at least one server');
  return list.map((spec, i) => parseServer(spec, `servers[${i}]`));
}

function portOf(text: string | undefined, field: string): number {
  if (text === undefined || text === '') return DEFAULT_PORT;
  if (!/^\d+$/.test(text))
    throw new InvalidArgumentError(`${field}.port`, `'${text}' is not a port`);
  return Number(text);
}

function checked(host: string, port: number, field: string): ServerAddress {
  if (host === '') throw new InvalidArgumentError(`${field}.host`, 'must not be empty');
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new InvalidArgumentError(`${field}.port`, `${port} is not a port from 1 to 65535`);
  }
  return { host, port };
}

/**
 * `host:port`, `[v6]:port` or the socket path, for messages and events; `parseServer` reads it
 * back to the same address.
 */
export function formatAddress(address: ServerAddress): string {
  if ('path' in address) return address.path;
  const host = address.host.includes(':') ? `[${address.host}]` : address.host;
  return `${host}:${address.port}`;
}
