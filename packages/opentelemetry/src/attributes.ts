import type { Attributes } from '@opentelemetry/api';

// Attribute names from the OpenTelemetry semantic conventions (messaging, server, error), and
// gearmanode's own under `gearman.*` where no convention fits.

/** `messaging.system`: the same on every span and metric. */
export const SYSTEM = 'gearman';

/** `server.address` and `server.port` of a `host:port`, `[v6]:port` or socket path. */
export function serverAttributes(server: string | undefined): Attributes {
  if (server === undefined) return {};
  const match = /^\[?([^\]]*?)\]?:(\d+)$/.exec(server);
  if (match === null) return { 'server.address': server };
  return { 'server.address': match[1], 'server.port': Number(match[2]) };
}

/** `error.type`: a GearmanError's stable `code`, else the error's name, else `_OTHER`. */
export function errorType(error: unknown): string {
  if (typeof error === 'object' && error !== null) {
    const { code, name } = error as { code?: unknown; name?: unknown };
    if (typeof code === 'string') return code;
    if (typeof name === 'string') return name;
  }
  return '_OTHER';
}

/** A readable message for a span status. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
