import type { TestProject } from 'vitest/node';
import { startGearmand } from './gearmand.js';
import { rawConnect, withTimeout } from './helpers.js';

/** The job server an integration project runs against, as `inject('gearman')` returns it. */
export interface GearmanServer {
  host: string;
  port: number;
  kind: 'gearmand' | 'embedded';
}

declare module 'vitest' {
  export interface ProvidedContext {
    gearman: GearmanServer;
  }
}

/** Parses `host:port`, `[::1]:port` or `host` (port 4730), with an optional `gearman://`. */
export function parseGearmanUrl(url: string): { host: string; port: number } {
  const match = /^(?:gearman:\/\/)?(?:\[([^\]]+)\]|([^:/]+))(?::(\d+))?\/?$/.exec(url.trim());
  const host = match?.[1] ?? match?.[2];
  if (match === null || host === undefined) {
    throw new Error(`GEARMAN_URL must look like host:port, got ${JSON.stringify(url)}`);
  }
  return { host, port: Number(match[3] ?? 4730) };
}

async function checkServer(host: string, port: number): Promise<void> {
  try {
    await withTimeout(
      (async () => {
        await using connection = await rawConnect(host, port);
        await connection.write('version\r\n');
        const line = await connection.readLine();
        if (!line.startsWith('OK ')) throw new Error(`unexpected answer to version: ${line}`);
      })(),
      5_000,
      'version',
    );
  } catch (error) {
    const url = process.env.GEARMAN_URL;
    throw new Error(`GEARMAN_URL=${url}: no gearman server at ${host}:${port}`, { cause: error });
  }
}

/**
 * Starts one gearmand for the project (or checks the server named by GEARMAN_URL), provides
 * it as `gearman`, and returns the teardown that stops it. There is no skipping: without a
 * server the run fails with a message that says what to install.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const url = process.env.GEARMAN_URL;
  if (url) {
    const { host, port } = parseGearmanUrl(url);
    await checkServer(host, port);
    project.provide('gearman', { host, port, kind: 'gearmand' });
    return async () => {};
  }
  const gearmand = await startGearmand();
  project.provide('gearman', { host: gearmand.host, port: gearmand.port, kind: 'gearmand' });
  return () => gearmand.stop();
}
