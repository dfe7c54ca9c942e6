import { request } from 'node:http';
import { createServer as createNetServer, type Server, type Socket } from 'node:net';
import { createClient } from '@gearmanode/client';
import { createServer, type GearmanServer } from '@gearmanode/server';
import { createWorker } from '@gearmanode/worker';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { freePort, uniqueName } from '../../../test/helpers.js';
import { UsageError } from '../src/errors.js';
import { type Exporter, startExporter } from '../src/metrics/exporter.js';
import { isLoopback, parseListen } from '../src/metrics/listen.js';
import { createMetricsRegistry, METRICS } from '../src/metrics/registry.js';
import { parsePrometheus, sampleValue } from './support/prometheus.js';

// The exporter's pieces in-process against the embedded server; the same metrics against
// gearmand (and the embedded server as the `integration-embedded` project) are in
// exporter.int.test.ts.

describe('parseListen', () => {
  test.each([
    ['127.0.0.1:9470', { host: '127.0.0.1', port: 9470 }],
    ['9470', { host: '127.0.0.1', port: 9470 }],
    ['[::1]:0', { host: '::1', port: 0 }],
    ['0.0.0.0:80', { host: '0.0.0.0', port: 80 }],
  ])('reads %s', (text, expected) => {
    expect(parseListen(text, '--listen')).toEqual(expected);
  });

  test.each(['localhost:9470', ':9470', '127.0.0.1', '127.0.0.1:70000', 'a:b', '[::1]'])(
    'refuses %s with a usage error',
    (text) => {
      expect(() => parseListen(text, '--listen', 'exporter')).toThrow(UsageError);
      expect(() => parseListen(text, '--listen')).toThrow(/--listen/);
    },
  );

  test('knows loopback addresses', () => {
    expect(['127.0.0.1', '127.1.2.3', '::1', '::ffff:127.0.0.1'].map(isLoopback)).toEqual([
      true,
      true,
      true,
      true,
    ]);
    expect(['0.0.0.0', '::', '10.0.0.1'].map(isLoopback)).toEqual([false, false, false]);
  });
});

describe('the registry', () => {
  test('writes every figure of an up server and only up and duration for a down one', async () => {
    const metrics = createMetricsRegistry();
    metrics.update([
      {
        server: 'a:4730',
        up: true,
        durationSeconds: 0.25,
        functions: [
          {
            functionName: 'resize',
            queued: 5,
            running: 2,
            workers: 3,
            priority: { high: 1, normal: 3, low: 1 },
          },
          { functionName: 'old', queued: 1, running: 0, workers: 0 },
        ],
        connections: [
          { fd: 1, ip: '10.0.0.1', clientId: 'w1', functions: ['resize'] },
          { fd: 2, ip: '10.0.0.2', clientId: null, functions: [] },
        ],
      },
      {
        server: 'b:4730',
        up: false,
        durationSeconds: 1,
        functions: [],
        connections: [],
        error: 'refused',
      },
    ]);
    const { samples, types, help } = parsePrometheus(await metrics.registry.metrics());
    for (const { name } of Object.values(METRICS)) {
      expect(types.get(name)).toBe('gauge');
      expect(help.get(name)).toMatch(/\w/);
    }
    const a = { server: 'a:4730' };
    const resize = { server: 'a:4730', function: 'resize' };
    expect(sampleValue(samples, 'gearman_up', a)).toBe(1);
    expect(sampleValue(samples, 'gearman_up', { server: 'b:4730' })).toBe(0);
    expect(sampleValue(samples, 'gearman_scrape_duration_seconds', a)).toBe(0.25);
    expect(sampleValue(samples, 'gearman_function_queued_jobs', resize)).toBe(5);
    expect(sampleValue(samples, 'gearman_function_running_jobs', resize)).toBe(2);
    expect(sampleValue(samples, 'gearman_function_workers', resize)).toBe(3);
    for (const [priority, value] of [
      ['high', 1],
      ['normal', 3],
      ['low', 1],
    ] as const) {
      expect(
        sampleValue(samples, 'gearman_function_queued_jobs_by_priority', { ...resize, priority }),
      ).toBe(value);
    }
    // Without prioritystatus there are no per-priority series rather than zeros.
    expect(
      samples.filter(
        (s) => s.name === 'gearman_function_queued_jobs_by_priority' && s.labels.function === 'old',
      ),
    ).toEqual([]);
    expect(sampleValue(samples, 'gearman_server_workers', a)).toBe(1);
    expect(sampleValue(samples, 'gearman_server_connections', a)).toBe(2);
    expect(sampleValue(samples, 'gearman_server_functions', a)).toBe(2);
    expect(samples.filter((s) => s.labels.server === 'b:4730').map((s) => s.name)).toEqual([
      'gearman_up',
      'gearman_scrape_duration_seconds',
    ]);

    // A function gone at the next scrape leaves no stale series behind.
    metrics.update([{ ...baseUp('a:4730'), functions: [] }]);
    const after = parsePrometheus(await metrics.registry.metrics()).samples;
    expect(after.filter((s) => s.labels.function !== undefined)).toEqual([]);
    expect(sampleValue(after, 'gearman_up', { server: 'b:4730' })).toBeUndefined();
  });

  test('two registries do not share series, and the global registry stays empty', async () => {
    const { register } = await import('prom-client');
    const one = createMetricsRegistry();
    const two = createMetricsRegistry();
    one.update([baseUp('one:4730')]);
    expect(await two.registry.metrics()).not.toContain('one:4730');
    expect(await register.metrics()).not.toContain('gearman_');
  });
});

function baseUp(server: string) {
  return { server, up: true, durationSeconds: 0, functions: [], connections: [] };
}

describe('the exporter', () => {
  let server: GearmanServer;
  let frozen: Server;
  const frozenSockets = new Set<Socket>();
  let exporter: Exporter;
  let address: string;
  let deadAddress: string;
  let frozenAddress: string;

  beforeAll(async () => {
    server = await createServer({ port: 0 });
    address = `127.0.0.1:${server.address.port}`;
    deadAddress = `127.0.0.1:${await freePort()}`;
    // Accepts connections and never answers: a hung job server.
    frozen = createNetServer((socket) => {
      frozenSockets.add(socket);
      socket.on('close', () => frozenSockets.delete(socket));
    });
    await new Promise<void>((resolve) => frozen.listen(0, '127.0.0.1', resolve));
    const port = (frozen.address() as { port: number }).port;
    frozenAddress = `127.0.0.1:${port}`;
    exporter = await startExporter({
      listen: { host: '127.0.0.1', port: 0 },
      servers: [address, deadAddress, frozenAddress],
      timeout: 300,
    });
  });

  afterAll(async () => {
    await exporter.close();
    for (const socket of frozenSockets) socket.destroy();
    await new Promise<void>((resolve) => frozen.close(() => resolve()));
    await server.close();
  });

  test('serves the queues of the server, with the unreachable and frozen ones down', async () => {
    const name = uniqueName('metrics');
    const busy = uniqueName('busy');
    await using client = await createClient({ servers: [address] });
    await client.submitBackground(name, 'a', { priority: 'high' });
    await client.submitBackground(name, 'b', { priority: 'low' });
    await client.submitBackground(name, 'c', { priority: 'low' });
    await using worker = await createWorker({ servers: [address], functions: [busy] });
    // The worker holds one job without finishing it, so that it counts as running.
    const held = new Promise<void>((resolve) => {
      void worker.process(async () => {
        resolve();
        await new Promise(() => {});
      });
    });
    void client.submitBackground(busy, 'x');
    await held;

    const response = await fetch(exporter.url);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const { samples } = parsePrometheus(await response.text());
    const fn = { server: address, function: name };
    expect(sampleValue(samples, 'gearman_up', { server: address })).toBe(1);
    expect(sampleValue(samples, 'gearman_function_queued_jobs', fn)).toBe(3);
    expect(sampleValue(samples, 'gearman_function_running_jobs', fn)).toBe(0);
    expect(sampleValue(samples, 'gearman_function_workers', fn)).toBe(0);
    expect(
      sampleValue(samples, 'gearman_function_queued_jobs_by_priority', { ...fn, priority: 'high' }),
    ).toBe(1);
    expect(
      sampleValue(samples, 'gearman_function_queued_jobs_by_priority', { ...fn, priority: 'low' }),
    ).toBe(2);
    const busyFn = { server: address, function: busy };
    expect(sampleValue(samples, 'gearman_function_running_jobs', busyFn)).toBe(1);
    expect(sampleValue(samples, 'gearman_function_workers', busyFn)).toBe(1);
    expect(sampleValue(samples, 'gearman_server_workers', { server: address })).toBe(1);

    expect(sampleValue(samples, 'gearman_up', { server: deadAddress })).toBe(0);
    expect(sampleValue(samples, 'gearman_up', { server: frozenAddress })).toBe(0);
    // The frozen server was given its timeout, then left behind without holding up the scrape.
    const frozenDuration = sampleValue(samples, 'gearman_scrape_duration_seconds', {
      server: frozenAddress,
    });
    expect(frozenDuration).toBeGreaterThanOrEqual(0.29);
    expect(frozenDuration).toBeLessThan(5);
    worker.destroy();
  });

  test('concurrent scrapes all get the figures', async () => {
    const bodies = await Promise.all([1, 2, 3].map(async () => (await fetch(exporter.url)).text()));
    for (const body of bodies) {
      expect(sampleValue(parsePrometheus(body).samples, 'gearman_up', { server: address })).toBe(1);
    }
  });

  test.each(['POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'])('%s is refused with 405', async (m) => {
    const response = await fetch(exporter.url, { method: m });
    expect(response.status).toBe(405);
    expect(response.headers.get('allow')).toBe('GET, HEAD');
  });

  test('HEAD answers with headers only; other paths are 404', async () => {
    const head = await fetch(exporter.url, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');
    const base = exporter.url.replace(/\/metrics$/, '');
    expect((await fetch(`${base}/metricsx`)).status).toBe(404);
    expect((await fetch(`${base}/metrics/`)).status).toBe(404);
    expect((await fetch(`${base}/`)).status).toBe(200);
    expect((await fetch(`${exporter.url}?name[]=gearman_up`)).status).toBe(200);
  });

  test('a request for another host name is refused on loopback (DNS rebinding)', async () => {
    const status = (host: string) =>
      new Promise<number | undefined>((resolve, reject) => {
        const req = request(exporter.url, { headers: { host } }, (res) => {
          res.resume();
          resolve(res.statusCode);
        });
        req.on('error', reject);
        req.end();
      });
    expect(await status('evil.example:9470')).toBe(403);
    expect(await status('localhost:9470')).toBe(200);
    expect(await status('[::1]:9470')).toBe(200);
  });

  test('a port in use is a one-line error', async () => {
    const port = Number(new URL(exporter.url).port);
    await expect(
      startExporter({ listen: { host: '127.0.0.1', port }, servers: [address], timeout: 100 }),
    ).rejects.toThrow(`cannot listen on 127.0.0.1:${port}: EADDRINUSE`);
  });
});
