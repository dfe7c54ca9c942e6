import { createClient } from '@gearmanode/client';
import { createWorker } from '@gearmanode/worker';
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest';
import { freePort, uniqueName, waitFor } from '../../../test/helpers.js';
import { EXIT } from '../src/errors.js';
import { run } from '../src/run.js';
import { spawnCli } from './support/binary.js';
import { memoryIO } from './support/memory-io.js';
import { parsePrometheus, sampleValue } from './support/prometheus.js';

// `gearmanode exporter` scraping the project's job server: gearmand in `integration`, the
// embedded server in `integration-embedded`, next to a port where nothing listens.

const { host, port, kind } = inject('gearman');
const server = `${host.includes(':') ? `[${host}]` : host}:${port}`;

let io: ReturnType<typeof memoryIO>;
let done: Promise<number>;
let url: string;
let deadServer: string;

beforeAll(async () => {
  deadServer = `127.0.0.1:${await freePort()}`;
  io = memoryIO();
  done = run(
    [
      'exporter',
      '--listen',
      '127.0.0.1:0',
      '--timeout',
      '2s',
      '--servers',
      `${server},${deadServer}`,
    ],
    io,
  );
  const line = await waitFor(() => /listening on (\S+)/.exec(io.stdout.text())?.[1], {
    what: `the exporter's address (stderr: ${io.stderr.text()})`,
  });
  url = line;
});

afterAll(async () => {
  io.signals.emit('SIGTERM', 'SIGTERM');
  expect(await done).toBe(EXIT.OK);
});

async function scrape() {
  const response = await fetch(url);
  expect(response.status).toBe(200);
  return parsePrometheus(await response.text()).samples;
}

describe(`exporter against ${kind}`, () => {
  test('reports queued jobs per priority, running jobs and workers; a dead server is down', async () => {
    const queued = uniqueName('exported');
    const busy = uniqueName('exported-busy');
    await using client = await createClient({ servers: [server] });
    for (const priority of ['high', 'normal', 'normal', 'low', 'low', 'low'] as const) {
      await client.submitBackground(queued, 'x', { priority });
    }
    await using worker = await createWorker({ servers: [server], functions: [busy] });
    const held = new Promise<void>((resolve) => {
      void worker.process(async () => {
        resolve();
        await new Promise(() => {}); // keeps the job running until the worker is destroyed
      });
    });
    await client.submitBackground(busy, 'y');
    await held;

    const samples = await scrape();
    const fn = { server, function: queued };
    expect(sampleValue(samples, 'gearman_up', { server })).toBe(1);
    expect(sampleValue(samples, 'gearman_scrape_duration_seconds', { server })).toBeGreaterThan(0);
    expect(sampleValue(samples, 'gearman_function_queued_jobs', fn)).toBe(6);
    expect(sampleValue(samples, 'gearman_function_running_jobs', fn)).toBe(0);
    expect(sampleValue(samples, 'gearman_function_workers', fn)).toBe(0);
    const byPriority = (priority: string) =>
      sampleValue(samples, 'gearman_function_queued_jobs_by_priority', { ...fn, priority });
    expect([byPriority('high'), byPriority('normal'), byPriority('low')]).toEqual([1, 2, 3]);

    const held1 = { server, function: busy };
    expect(sampleValue(samples, 'gearman_function_running_jobs', held1)).toBe(1);
    expect(sampleValue(samples, 'gearman_function_queued_jobs', held1)).toBe(0);
    expect(sampleValue(samples, 'gearman_function_workers', held1)).toBe(1);
    expect(sampleValue(samples, 'gearman_server_workers', { server })).toBeGreaterThanOrEqual(1);
    // The exporter's own admin connection is one of them.
    expect(sampleValue(samples, 'gearman_server_connections', { server })).toBeGreaterThanOrEqual(
      2,
    );

    expect(sampleValue(samples, 'gearman_up', { server: deadServer })).toBe(0);
    expect(samples.filter((s) => s.labels.server === deadServer).map((s) => s.name)).toEqual([
      'gearman_up',
      'gearman_scrape_duration_seconds',
    ]);
    worker.destroy();

    // Once the worker is gone, gearmand gives the job back to the queue: the next scrape says so.
    await waitFor(
      async () =>
        sampleValue(await scrape(), 'gearman_function_workers', held1) === 0 ? true : undefined,
      { what: 'the worker gone from the metrics' },
    );
  });

  test('keeps serving while the dead server stays down', async () => {
    for (let i = 0; i < 3; i++) {
      expect(sampleValue(await scrape(), 'gearman_up', { server: deadServer })).toBe(0);
    }
    expect(io.stderr.text()).toBe('');
  });
});

// The real binary, once: prom-client loads in it and a signal stops it cleanly.
describe.skipIf(kind === 'embedded')('the exporter binary', () => {
  test('serves /metrics and exits 0 on SIGTERM', async () => {
    const running = spawnCli(['exporter', '--listen', '127.0.0.1:0', '--servers', server]);
    const address = await waitFor(
      () => /listening on (\S+)/.exec(running.stdout().toString())?.[1],
      {
        timeout: 10_000,
        what: `the binary's address (stderr: ${running.stderr()})`,
      },
    );
    const samples = parsePrometheus(await (await fetch(address)).text()).samples;
    expect(sampleValue(samples, 'gearman_up', { server })).toBe(1);
    running.child.kill('SIGTERM');
    expect(await running.exited).toMatchObject({ code: 0, stderr: '' });
  });
});
