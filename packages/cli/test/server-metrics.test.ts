import { createServer as createNetServer } from 'node:net';
import { createClient } from '@gearmanode/client';
import { describe, expect, test } from 'vitest';
import { uniqueName, waitFor } from '../../../test/helpers.js';
import { EXIT } from '../src/errors.js';
import { run } from '../src/run.js';
import { memoryIO } from './support/memory-io.js';
import { parsePrometheus, sampleValue } from './support/prometheus.js';

// `gearmanode server --metrics`: the embedded server with the exporter pointed at itself.

function startServer(extra: string[]) {
  const io = memoryIO();
  const done = run(['server', '--port', '0', ...extra], io);
  return { io, done };
}

describe('server --metrics', () => {
  test('serves the metrics of its own queues until it stops', async () => {
    const { io, done } = startServer(['--metrics', '127.0.0.1:0', '--json']);
    const started = await waitFor(() => {
      const text = io.stdout.text();
      return text.endsWith('\n')
        ? (JSON.parse(text) as { address: string; metrics: string })
        : undefined;
    });
    expect(started.metrics).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    const name = uniqueName('self');
    await using client = await createClient({ servers: [started.address] });
    await client.submitBackground(name, 'a', { priority: 'high' });
    await client.submitBackground(name, 'b');

    const samples = parsePrometheus(await (await fetch(started.metrics)).text()).samples;
    const fn = { server: started.address, function: name };
    expect(sampleValue(samples, 'gearman_up', { server: started.address })).toBe(1);
    expect(sampleValue(samples, 'gearman_function_queued_jobs', fn)).toBe(2);
    expect(
      sampleValue(samples, 'gearman_function_queued_jobs_by_priority', { ...fn, priority: 'high' }),
    ).toBe(1);
    expect((await fetch(started.metrics, { method: 'POST' })).status).toBe(405);

    await client.close();
    io.signals.emit('SIGINT', 'SIGINT');
    expect(await done).toBe(EXIT.OK);
    // Stopped with the server: nothing listens there any more.
    await expect(fetch(started.metrics)).rejects.toThrow();
  });

  test('prints the metrics URL under the listening line', async () => {
    const { io, done } = startServer(['--metrics', '127.0.0.1:0']);
    const lines = await waitFor(() => {
      const text = io.stdout.text().split('\n');
      return text.length >= 3 ? text : undefined;
    });
    expect(lines[0]).toMatch(/^gearmanode server listening on 127\.0\.0\.1:\d+$/);
    expect(lines[1]).toMatch(/^metrics on http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    io.signals.emit('SIGTERM', 'SIGTERM');
    expect(await done).toBe(EXIT.OK);
    expect(io.stderr.text()).not.toMatch(/ERROR/);
  });

  test('a bad --metrics address is a usage error', async () => {
    const { io, done } = startServer(['--metrics', 'somewhere']);
    expect(await done).toBe(EXIT.USAGE);
    expect(io.stderr.text()).toMatch(/^gearmanode: --metrics is not an address/);
  });

  test('a --metrics port in use stops the server with exit 1', async () => {
    const taken = createNetServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const { port } = taken.address() as { port: number };
    try {
      const { io, done } = startServer(['--metrics', `127.0.0.1:${port}`]);
      expect(await done).toBe(EXIT.ERROR);
      expect(io.stderr.text()).toContain(`cannot listen on 127.0.0.1:${port}: EADDRINUSE`);
      expect(io.stdout.text()).toBe('');
    } finally {
      await new Promise<void>((resolve) => taken.close(() => resolve()));
    }
  });
});
