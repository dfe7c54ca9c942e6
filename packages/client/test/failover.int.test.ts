import { type ClientEvent, createClient } from '@gearmanode/client';
import { afterEach, describe, expect, inject, test } from 'vitest';
import { type GearmandInstance, startGearmand } from '../../../test/gearmand.js';
import { uniqueName, waitFor, withTimeout } from '../../../test/helpers.js';
import { expectIdle } from './support/idle.js';
import { scripts, startTestWorker, type TestWorker } from './support/workers.js';

const gearman = inject('gearman');
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function gearmand(): Promise<GearmandInstance> {
  const server = await startGearmand();
  cleanups.push(() => server.stop());
  return server;
}

async function worker(
  server: { host: string; port: number },
  functions: Parameters<typeof startTestWorker>[0]['functions'],
): Promise<TestWorker> {
  const started = await startTestWorker({ ...server, functions, concurrency: 32 });
  cleanups.push(() => started.close());
  return started;
}

const fast = { minTimeout: 20, maxTimeout: 100 };

describe('failover', () => {
  test('two servers, one stopped mid-run: no error reaches callers, all jobs complete', async () => {
    const second = await gearmand();
    const name = uniqueName('failover');
    const script = scripts.sleep(5);
    const one = await worker(gearman, { [name]: script });
    const two = await worker(second, { [name]: script });
    const client = await createClient({
      servers: [`${gearman.host}:${gearman.port}`, `${second.host}:${second.port}`],
      reconnect: fast,
      retry: { retries: 5, minTimeout: 20 },
      maxInFlight: 64,
    });
    cleanups.push(() => client.close({ timeout: 1000 }));
    const inputs = Array.from({ length: 1500 }, (_, i) => `in-${i}`);
    const results = inputs.map((input) => client.submit(name, input, { idempotent: true }));
    await waitFor(() => two.jobs.length >= 50, { what: 'jobs on the second server' });
    await second.stop();
    const outputs = await withTimeout(Promise.all(results), 15_000, 'all jobs');
    expect(outputs.map(String)).toEqual(inputs);
    expect(one.jobs.length).toBeGreaterThan(0);
    const stats = client.stats();
    expect(stats).toMatchObject({ completed: 1500, connectionErrors: 0 });
    expect(stats.retries).toBeGreaterThan(0); // jobs lost with the second server ran again
    expect(stats.servers[1]?.down).toBe(true);
    // New submits go to the live server without an error.
    expect((await client.submit(name, 'after')).toString()).toBe('after');
    await expectIdle(client);
  });

  test('gearmand SIGKILLed and restarted: every pending job settles with a typed error, then new submits succeed', async () => {
    const server = await gearmand();
    const name = uniqueName('killed');
    await worker(server, { [name]: scripts.sleep(200) });
    const client = await createClient({
      servers: [`${server.host}:${server.port}`],
      reconnect: fast,
    });
    cleanups.push(() => client.close({ timeout: 1000 }));
    const events: ClientEvent[] = [];
    const status = client.status();
    void (async () => {
      for await (const event of status) events.push(event);
    })();
    const pending = Array.from({ length: 100 }, (_, i) =>
      client.submit(name, `p${i}`).then(
        () => 'resolved',
        (error: { code?: string }) => error.code,
      ),
    );
    await waitFor(() => client.stats().servers[0]?.jobs === 100, { what: 'jobs created' });
    await server.kill();
    const outcomes = await withTimeout(Promise.all(pending), 5000, 'pending jobs');
    expect(new Set(outcomes)).toEqual(new Set(['ERR_CONNECTION']));
    // While the server is down, a submit fails at once, safely: nothing was sent.
    await expect(client.submit(name, 'down')).rejects.toMatchObject({
      code: 'ERR_CONNECTION',
      maybeRan: false,
    });
    // Long enough for a few failed attempts (reconnect backoff of 20-100 ms).
    await new Promise((resolve) => setTimeout(resolve, 300));
    await server.restart();
    await waitFor(() => client.stats().servers[0]?.state === 'ready', { timeout: 5000 });
    const after = await withTimeout(
      waitFor(() => client.submit(name, 'again').catch(() => undefined), { timeout: 8000 }),
      10_000,
      'submit after restart',
    );
    expect(after.toString()).toBe('again');
    expect(events.map((event) => event.type)).toEqual(
      expect.arrayContaining(['disconnect', 'reconnecting', 'connect']),
    );
    await status.return?.();
    await expectIdle(client);
  });

  test('with reconnect off, a lost server stays lost', async () => {
    const server = await gearmand();
    const client = await createClient({
      servers: [`${server.host}:${server.port}`],
      reconnect: false,
      recoverTime: 10,
    });
    cleanups.push(() => client.close({ timeout: 1000 }));
    await client.echo();
    await server.kill();
    await waitFor(() => client.stats().servers[0]?.state === 'closed');
    await server.restart();
    await new Promise((resolve) => setTimeout(resolve, 50));
    await expect(client.echo()).rejects.toMatchObject({ code: 'ERR_CONNECTION' });
    await expect(client.submit(uniqueName('x'), 'x')).rejects.toMatchObject({
      code: 'ERR_CONNECTION',
      maybeRan: false,
    });
  });
});
