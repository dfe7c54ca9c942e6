import { isIP } from 'node:net';
import { UsageError } from '../errors.js';

/** Where an HTTP endpoint listens. */
export interface ListenAddress {
  readonly host: string;
  readonly port: number;
}

/**
 * Parses `--listen`: `host:port`, `[v6]:port`, or a bare port (on 127.0.0.1). The host must be
 * an IP address, so that what is bound is exactly what was asked for (a name could resolve to
 * every interface). Port 0 picks a free port.
 * @throws UsageError naming `option` for anything else.
 */
export function parseListen(text: string, option: string, command?: string): ListenAddress {
  const value = text.trim();
  const match = /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d+)$|^(\d+)$/.exec(value);
  const host = match?.[1] ?? match?.[2] ?? (match?.[4] === undefined ? undefined : '127.0.0.1');
  const port = Number(match?.[3] ?? match?.[4]);
  const bad = (reason: string): UsageError =>
    new UsageError(
      `${option} ${reason}, expected host:port such as 127.0.0.1:9470, got ${JSON.stringify(text)}`,
      command,
    );
  if (match === null || host === undefined) throw bad('is not an address');
  if (!Number.isInteger(port) || port > 65535) throw bad('has a bad port');
  if (host === '' || isIP(host) === 0) throw bad('needs an IP address as host');
  return { host, port };
}

/** Whether `host` (an IP address) is a loopback address. */
export function isLoopback(host: string): boolean {
  return /^127\./.test(host) || host === '::1' || /^::ffff:127\./i.test(host);
}

/** The `http://` base URL of `address`, with an IPv6 host in brackets. */
export function httpUrl(address: ListenAddress): string {
  return `http://${address.host.includes(':') ? `[${address.host}]` : address.host}:${address.port}`;
}
