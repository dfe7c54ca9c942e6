import { createClient } from '@gearmanode/client';
import { createServer, type GearmanServer } from '@gearmanode/server';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { freePort, uniqueName, waitFor } from '../../../test/helpers.js';
import { type Dashboard, type DashboardState, startDashboard } from '../src/dashboard/dashboard.js';
import { EXIT } from '../src/errors.js';
import { run } from '../src/run.js';
import { memoryIO } from './support/memory-io.js';

// The dashboard's HTTP side in-process against the embedded server; the page itself runs in
// Chromium in dashboard.int.test.ts.

let server: GearmanServer;
let address: string;
let deadAddress: string;
let dashboard: Dashboard;

beforeAll(async () => {
  server = await createServer({ port: 0 });
  address = `127.0.0.1:${server.address.port}`;
  deadAddress = `127.0.0.1:${await freePort()}`;
  dashboard = await startDashboard({
    listen: { host: '127.0.0.1', port: 0 },
    servers: [address, deadAddress],
    interval: 100,
    timeout: 1000,
    historyLength: 5,
  });
});

afterAll(async () => {
  await dashboard.close();
  await server.close();
});

async function snapshot(): Promise<DashboardState | null> {
  return (await (await fetch(`${dashboard.url}snapshot`)).json()) as DashboardState | null;
}

/** Reads server-sent events from `/events` until `count` have arrived. */
async function readEvents(count: number): Promise<{ event: string; data: DashboardState }[]> {
  const controller = new AbortController();
  const response = await fetch(`${dashboard.url}events`, { signal: controller.signal });
  expect(response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
  const events: { event: string; data: DashboardState }[] = [];
  const decoder = new TextDecoder();
  let text = '';
  for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
    text += decoder.decode(chunk, { stream: true });
    for (let end = text.indexOf('\n\n'); end !== -1; end = text.indexOf('\n\n')) {
      const block = text.slice(0, end);
      text = text.slice(end + 2);
      const event = /^event: (.*)$/m.exec(block)?.[1];
      const data = /^data: (.*)$/m.exec(block)?.[1];
      if (event !== undefined && data !== undefined) {
        events.push({ event, data: JSON.parse(data) as DashboardState });
      }
    }
    if (events.length >= count) break;
  }
  controller.abort();
  return events;
}

describe('the dashboard endpoints', () => {
  test('serve the page, its script and style sheet under a strict CSP', async () => {
    const page = await fetch(dashboard.url);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.headers.get('content-security-policy')).toMatch(/default-src 'none'/);
    const html = await page.text();
    expect(html).toContain('<script src="dashboard.js" defer></script>');
    // Self-contained: nothing is loaded from another origin.
    expect(html).not.toMatch(/https?:\/\//);
    const script = await fetch(`${dashboard.url}dashboard.js`);
    expect(script.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    const source = await script.text();
    expect(source).toContain("new EventSource('events')");
    expect(source).not.toContain('innerHTML');
    // The script parses as JavaScript (it is a string in the CLI's source, not type-checked).
    expect(() => new Function(source)).not.toThrow();
    const css = await fetch(`${dashboard.url}dashboard.css`);
    expect(css.headers.get('content-type')).toBe('text/css; charset=utf-8');
    expect(await css.text()).toContain('tr.down td');
  });

  test('refuse other methods with 405 and other paths with 404', async () => {
    for (const method of ['POST', 'PUT', 'DELETE']) {
      const response = await fetch(`${dashboard.url}events`, { method });
      expect(response.status).toBe(405);
    }
    expect((await fetch(`${dashboard.url}nothing`)).status).toBe(404);
    expect((await fetch(`${dashboard.url}events`, { method: 'HEAD' })).status).toBe(200);
  });

  test('the snapshot has every server, the dead one down, and a bounded history', async () => {
    const name = uniqueName('dash');
    await using client = await createClient({ servers: [address] });
    await client.submitBackground(name, 'a', { priority: 'low' });
    const state = await waitFor(async () => {
      const current = await snapshot();
      const up = current?.servers.find((s) => s.server === address);
      return up?.functions.some((f) => f.functionName === name) ? current : undefined;
    });
    expect(state.servers.map((s) => [s.server, s.up])).toEqual([
      [address, true],
      [deadAddress, false],
    ]);
    expect(state.servers[1]?.error).toMatch(/ECONNREFUSED/);
    const row = state.servers[0]?.functions.find((f) => f.functionName === name);
    expect(row).toMatchObject({ queued: 1, running: 0, workers: 0 });
    expect(row?.priority).toEqual({ high: 0, normal: 0, low: 1 });
    // After a few more refreshes the history is full, and no longer than historyLength.
    await client.submitBackground(name, 'b');
    const full = await waitFor(async () => {
      const samples = (await snapshot())?.history?.[`${address}\n${name}`];
      return samples !== undefined && samples.length === 5 && samples.at(-1) === 2
        ? samples
        : undefined;
    });
    expect(full.every((n) => n === 1 || n === 2)).toBe(true);
  });

  test('/events sends a snapshot with history first, then updates', async () => {
    const events = await readEvents(3);
    expect(events.map((e) => e.event)).toEqual(['snapshot', 'update', 'update']);
    expect(events[0]?.data.history).toBeTypeOf('object');
    expect(events[1]?.data.history).toBeUndefined();
    expect(events[2]?.data.at).toBeGreaterThan(events[1]?.data.at ?? 0);
  });
});

describe('gearmanode dashboard', () => {
  test('prints its URL, serves until SIGTERM and exits 0', async () => {
    const io = memoryIO({ env: { GEARMAN_SERVERS: address } });
    const done = run(['dashboard', '--listen', '127.0.0.1:0', '--interval', '100ms'], io);
    const url = await waitFor(
      () => /^gearmanode dashboard on (\S+)\n$/.exec(io.stdout.text())?.[1],
    );
    expect((await fetch(url)).status).toBe(200);
    io.signals.emit('SIGTERM', 'SIGTERM');
    expect(await done).toBe(EXIT.OK);
    expect(io.stderr.text()).toBe('');
  });

  test('warns on stderr when it listens beyond loopback', async () => {
    const io = memoryIO({ env: { GEARMAN_SERVERS: address } });
    const done = run(['dashboard', '--listen', '0.0.0.0:0'], io);
    await waitFor(() => io.stdout.text().includes('dashboard on'));
    io.signals.emit('SIGINT', 'SIGINT');
    expect(await done).toBe(EXIT.OK);
    expect(io.stderr.text()).toMatch(/warning: listening on 0\.0\.0\.0, not loopback/);
  });

  test('a bad --interval is a usage error', async () => {
    const io = memoryIO();
    expect(await run(['dashboard', '--interval', 'soon'], io)).toBe(EXIT.USAGE);
    expect(io.stderr.text()).toMatch(/--interval must be a duration/);
  });
});
