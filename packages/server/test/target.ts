import { createServer, type ServerOptions } from '@gearmanode/server';
import { inject } from 'vitest';
import { startGearmand } from '../../../test/gearmand.js';

/** Which server a conformance test talks to. */
export type TargetKind = 'gearmand' | 'embedded';

/** A job server to test against, and how to let go of it. */
export interface Target {
  host: string;
  port: number;
  kind: TargetKind;
  /** Stops the server if the test started it; a shared server is left alone. */
  close(): Promise<void>;
}

/** Options for a server a test starts for itself. */
export interface OwnTargetOptions {
  jobRetries?: number;
}

/**
 * The server the conformance suite runs against:
 * - `GEARMANODE_TARGET=embedded` or `=gearmand` forces one, started here;
 * - otherwise the one the integration project provides as `inject('gearman')`;
 * - otherwise an embedded server started here.
 */
export async function sharedTarget(): Promise<Target> {
  const forced = process.env.GEARMANODE_TARGET;
  if (forced === 'embedded' || forced === 'gearmand') return ownTarget(forced);
  if (forced !== undefined && forced !== '') {
    throw new Error(`GEARMANODE_TARGET must be embedded or gearmand, got ${forced}`);
  }
  const provided = inject('gearman');
  if (provided !== undefined) return { ...provided, close: async () => {} };
  return ownTarget('embedded');
}

/** Starts a server of `kind` for one test (for options such as job retries, or shutdown). */
export async function ownTarget(
  kind: TargetKind,
  options: OwnTargetOptions & Pick<ServerOptions, 'maxPacketSize'> = {},
): Promise<Target> {
  if (kind === 'gearmand') {
    const args = options.jobRetries ? ['--job-retries', String(options.jobRetries)] : [];
    const gearmand = await startGearmand({ args });
    return { host: gearmand.host, port: gearmand.port, kind, close: () => gearmand.stop() };
  }
  const server = await createServer({ port: 0, ...options });
  return { host: '127.0.0.1', port: server.address.port, kind, close: () => server.close() };
}
