import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Client, createAdmin, createClient } from '@gearmanode/client';
import { afterAll, afterEach, beforeAll, describe, expect, inject, test } from 'vitest';
import { startGearmand } from '../../../test/gearmand.js';
import { uniqueName, waitFor } from '../../../test/helpers.js';
import { expectIdle } from './support/idle.js';
import { scripts, startTestWorker, type TestWorker } from './support/workers.js';

const gearman = inject('gearman');
const address = `${gearman.host}:${gearman.port}`;
let worker: TestWorker;
const clients: Client[] = [];

beforeAll(async () => {
  worker = await startTestWorker({ ...gearman, functions: {}, concurrency: 16 });
});
afterAll(async () => {
  await worker.close();
});
afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close({ timeout: 1000 })));
});

async function client(options: Parameters<typeof createClient>[0]): Promise<Client> {
  const created = await createClient(options);
  clients.push(created);
  return created;
}

function fn(prefix: string, script = scripts.echo): string {
  const name = uniqueName(prefix);
  worker.add(name, script);
  return name;
}

describe('client options against gearmand', () => {
  test('servers: strings, { host, port } objects and a comma-separated list', async () => {
    const name = fn('servers');
    for (const servers of [
      [address],
      [{ host: gearman.host, port: gearman.port }],
      `${address},`,
    ]) {
      const c = await client({ servers });
      expect((await c.submit(name, 'x')).toString()).toBe('x');
      expect(c.stats().servers.map((s) => s.server)).toEqual([address]);
    }
  });

  test('servers defaults to 127.0.0.1:4730', async () => {
    const c = await client({ lazy: true });
    expect(c.stats().servers.map((s) => s.server)).toEqual(['127.0.0.1:4730']);
  });

  test('strategy: round-robin spreads jobs, sequence uses the first healthy server', async () => {
    const second = await startGearmand();
    const name = uniqueName('strategy');
    const other = await startTestWorker({ ...second, functions: { [name]: scripts.echo } });
    worker.add(name, scripts.echo);
    try {
      const pool = [address, `${second.host}:${second.port}`];
      const rr = await client({ servers: pool });
      const before = other.jobs.length;
      await Promise.all(Array.from({ length: 20 }, () => rr.submit(name, 'rr')));
      expect(other.jobs.length - before).toBe(10);

      const seq = await client({ servers: pool, strategy: 'sequence' });
      const mark = other.jobs.length;
      await Promise.all(Array.from({ length: 20 }, () => seq.submit(name, 'seq')));
      expect(other.jobs.length).toBe(mark); // all went to the first server
      await expectIdle(rr);
      await expectIdle(seq);
    } finally {
      await other.close();
      await second.stop();
    }
  });

  test('a unique goes to the same server whatever the list order', async () => {
    const second = await startGearmand();
    const name = uniqueName('hash');
    const other = await startTestWorker({ ...second, functions: { [name]: scripts.echo } });
    worker.add(name, scripts.echo);
    try {
      const a = await client({ servers: [address, `${second.host}:${second.port}`] });
      const b = await client({ servers: [`${second.host}:${second.port}`, address] });
      for (let i = 0; i < 10; i++) {
        const unique = uniqueName('key');
        await a.submit(name, 'a', { unique });
        await b.submit(name, 'b', { unique });
        const onOther = other.jobs.filter((job) => job.unique === unique).length;
        expect([0, 2]).toContain(onOther);
      }
    } finally {
      await other.close();
      await second.stop();
    }
  });

  test('lazy: connects on first use', async () => {
    const name = fn('lazy');
    const c = await client({ servers: [address], lazy: true });
    expect(c.stats().servers[0]?.state).toBe('idle');
    expect((await c.submit(name, 'x')).toString()).toBe('x');
    expect(c.stats().servers[0]?.state).toBe('ready');
  });

  test('tls: never falls back to plaintext', async () => {
    await expect(
      createClient({ servers: [address], tls: true, reconnect: false, connectTimeout: 2000 }),
    ).rejects.toMatchObject({ code: 'ERR_CONNECTION', maybeRan: false });
  });

  test('connectTimeout: a server that accepts but never finishes the handshake', async () => {
    const silent: Server = createServer(() => {});
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as { port: number }).port;
    try {
      const started = Date.now();
      const error = await createClient({
        servers: [`127.0.0.1:${port}`],
        tls: { rejectUnauthorized: true },
        connectTimeout: 200,
        reconnect: false,
      }).catch((e: unknown) => e);
      expect(Date.now() - started).toBeLessThan(2000);
      expect(error).toMatchObject({ code: 'ERR_CONNECTION' });
      expect((error as Error).message).toMatch(/200 ms/);
    } finally {
      silent.close();
    }
  });

  test('heartbeatInterval, keepAlive and noDelay: an idle connection stays usable', async () => {
    const name = fn('heartbeat');
    const c = await client({
      servers: [address],
      heartbeatInterval: 50,
      keepAlive: false,
      noDelay: false,
    });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(c.stats().servers[0]?.state).toBe('ready');
    expect((await c.submit(name, 'still here')).toString()).toBe('still here');
  });

  test('maxPacketSize: refuses to send more, and drops a connection that receives more', async () => {
    const name = fn('big', (job) => Buffer.alloc(4096, job.payload[0]));
    const c = await client({
      servers: [address],
      maxPacketSize: 1024,
      reconnect: { minTimeout: 10 },
    });
    await expect(c.submit(name, Buffer.alloc(2048))).rejects.toMatchObject({
      code: 'ERR_INVALID_ARGUMENT',
      field: 'payload',
    });
    const error = await c.submit(name, 'x').catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'ERR_CONNECTION', maybeRan: true });
    expect((error as Error).cause).toMatchObject({ code: 'ERR_PROTOCOL', reason: 'TOO_LARGE' });
    await waitFor(() => c.stats().servers[0]?.state === 'ready');
    await expectIdle(c);
  });

  test('maxInFlight: only that many jobs reach the server, the rest wait in the client', async () => {
    const name = fn('inflight', scripts.sleep(100));
    const c = await client({ servers: [address], maxInFlight: 3 });
    await using admin = await createAdmin({ server: address });
    const all = Array.from({ length: 10 }, (_, i) => c.submit(name, `j${i}`));
    expect(c.stats()).toMatchObject({ inFlight: 3, queued: 7 });
    let done = false;
    const settled = Promise.all(all).finally(() => {
      done = true;
    });
    let most = 0;
    while (!done) {
      const row = (await admin.status()).find((r) => r.functionName === name);
      most = Math.max(most, row?.total ?? 0);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(most).toBeGreaterThan(0);
    expect(most).toBeLessThanOrEqual(3);
    const results = await settled;
    expect(results.map(String)).toEqual(Array.from({ length: 10 }, (_, i) => `j${i}`));
    await expectIdle(c);
  });

  test('timeout: the client default applies to every job, a job option overrides it', async () => {
    const name = fn('deadline', scripts.sleep(200));
    const c = await client({ servers: [address], timeout: 50 });
    await expect(c.submit(name, 'x')).rejects.toMatchObject({ code: 'ERR_TIMEOUT' });
    expect((await c.submit(name, 'y', { timeout: 2000 })).toString()).toBe('y');
    await expectIdle(c);
  });

  test('clientId and recoverTime are accepted', async () => {
    const c = await client({ servers: [address], clientId: 'options-test', recoverTime: 100 });
    expect(await c.echo('x')).toEqual(Buffer.from('x'));
  });

  test('servers: a Unix socket path', async () => {
    // gearmand listens on TCP only, so a small bridge gives it a socket path.
    const dir = mkdtempSync(join(tmpdir(), 'gearmanode-'));
    const path = join(dir, 'gearman.sock');
    const bridge = createServer((socket) => {
      const upstream = connect(gearman.port, gearman.host);
      socket.pipe(upstream).pipe(socket);
      socket.on('error', () => upstream.destroy());
      upstream.on('error', () => socket.destroy());
    });
    await new Promise<void>((resolve) => bridge.listen(path, resolve));
    try {
      const name = fn('unix');
      const c = await client({ servers: [{ path }] });
      expect((await c.submit(name, 'over a socket path')).toString()).toBe('over a socket path');
      expect(c.stats().servers[0]?.server).toBe(path);
      await c.close();
    } finally {
      await new Promise((resolve) => bridge.close(resolve));
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
