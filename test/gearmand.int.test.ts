import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { afterEach, describe, expect, inject, test } from 'vitest';
import { findGearmand, type GearmandInstance, gearmandVersion, startGearmand } from './gearmand.js';
import { rawConnect } from './helpers.js';

async function adminCommand(server: { host: string; port: number }, line: string): Promise<string> {
  await using connection = await rawConnect(server.host, server.port);
  await connection.write(`${line}\r\n`);
  // Awaited here: returning the bare promise would dispose of the connection before it settles.
  return await connection.readLine();
}

/** An executable named gearmand whose --version prints `version`, in a fresh directory. */
function fakeGearmand(version: string): string {
  const path = join(mkdtempSync(join(tmpdir(), 'fake-gearmand-')), 'gearmand');
  writeFileSync(path, `#!/bin/sh\necho '${version}'\n`);
  chmodSync(path, 0o755);
  return path;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('startGearmand', () => {
  const started: GearmandInstance[] = [];
  const start = async (...args: Parameters<typeof startGearmand>) => {
    const server = await startGearmand(...args);
    started.push(server);
    return server;
  };

  afterEach(async () => {
    await Promise.all(started.splice(0).map((server) => server.stop()));
  });

  test('starts two instances on different ports, each answering getpid with its own pid', async () => {
    const [a, b] = await Promise.all([start(), start()]);
    expect(a.port).not.toBe(b.port);
    expect(await adminCommand(a, 'getpid')).toBe(`OK ${a.pid}`);
    expect(await adminCommand(b, 'getpid')).toBe(`OK ${b.pid}`);
  });

  test('passes extra arguments to gearmand', async () => {
    const server = await start({ args: ['--job-retries', '2'] });
    expect(server.args.slice(-2)).toEqual(['--job-retries', '2']);
    expect(await adminCommand(server, 'version')).toMatch(/^OK \d+\.\d+/);
  });

  test('restarts on the same port after kill -9', async () => {
    const server = await start();
    const { port, pid } = server;
    await server.kill();
    expect(server.running).toBe(false);
    expect(isAlive(pid)).toBe(false);
    await expect(rawConnect(server.host, port)).rejects.toMatchObject({ code: 'ECONNREFUSED' });

    await server.restart();
    expect(server.running).toBe(true);
    expect(server.port).toBe(port);
    expect(server.pid).not.toBe(pid);
    expect(await adminCommand(server, 'getpid')).toBe(`OK ${server.pid}`);
  });

  test('stop() terminates the process and is idempotent', async () => {
    const server = await start();
    const { pid } = server;
    await server.stop();
    await server.stop();
    expect(server.running).toBe(false);
    expect(isAlive(pid)).toBe(false);
  });

  test('fails with install instructions when the binary is missing', async () => {
    await expect(startGearmand({ binary: '/nonexistent/gearmand' })).rejects.toThrow(
      /gearman-job-server/,
    );
  });

  test('a gearmand that is not the C server (by its --version) is named, not started', async () => {
    const perl = fakeGearmand('Gearman::Server v1.130.1');
    expect(() => findGearmand(perl)).toThrow(
      /only another server goes by that name: .*gearmand \(Gearman::Server v1\.130\.1\)/,
    );
  });

  test('the C gearmand is found even when another gearmand comes first in PATH', () => {
    const perl = fakeGearmand('Gearman::Server v1.130.1');
    const path = process.env.PATH;
    process.env.PATH = `${dirname(perl)}${delimiter}${path ?? ''}`;
    try {
      const found = findGearmand();
      expect(found).not.toBe(perl);
      expect(gearmandVersion(found).c).toBe(true);
    } finally {
      process.env.PATH = path;
    }
  });

  test('fails with gearmand output when it exits during startup', async () => {
    await expect(startGearmand({ args: ['--queue-type', 'no-such-queue'] })).rejects.toThrow(
      /gearmand exited during startup[\s\S]*\S/,
    );
  });

  test('fails clearly when a fixed port is taken by another process', async () => {
    const holder = await start();
    await expect(start({ port: holder.port })).rejects.toThrow(/in use by another process/);
  });
});

describe('global setup', () => {
  test('provides a running gearmand as gearman', async () => {
    const server = inject('gearman');
    expect(server.kind).toBe('gearmand');
    expect(await adminCommand(server, 'version')).toMatch(/^OK \d+\.\d+/);
  });
});
