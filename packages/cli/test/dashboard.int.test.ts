import { mkdir, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { createClient } from '@gearmanode/client';
import { createWorker } from '@gearmanode/worker';
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest';
import { type Browser, launchChromium, type Page } from '../../../test/chromium.js';
import { freePort, uniqueName, waitFor } from '../../../test/helpers.js';
import { EXIT } from '../src/errors.js';
import { run } from '../src/run.js';
import { memoryIO } from './support/memory-io.js';

// The dashboard page in a real headless Chromium, against gearmand and a server that is down.

const { host, port, kind } = inject('gearman');
const server = `${host.includes(':') ? `[${host}]` : host}:${port}`;
const ARTIFACTS = fileURLToPath(new URL('../../../.vitest-results/', import.meta.url));

// Against gearmand only: the page does not care which server answers, the exporter's and the
// dashboard's in-process tests cover the embedded one, and one browser run is enough CI time.
describe.skipIf(kind === 'embedded')('the dashboard in Chromium', () => {
  let io: ReturnType<typeof memoryIO>;
  let done: Promise<number>;
  let url: string;
  let deadServer: string;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    deadServer = `127.0.0.1:${await freePort()}`;
    io = memoryIO();
    done = run(
      [
        'dashboard',
        '--listen',
        '127.0.0.1:0',
        '--interval',
        '200ms',
        '--servers',
        `${server},${deadServer}`,
      ],
      io,
    );
    url = await waitFor(() => /dashboard on (\S+)/.exec(io.stdout.text())?.[1], {
      what: `the dashboard's URL (stderr: ${io.stderr.text()})`,
    });
    browser = await launchChromium();
    page = await browser.newPage({ width: 1280, height: 800 });
    await page.goto(url);
  });

  afterAll(async () => {
    await browser?.close();
    io.signals.emit('SIGTERM', 'SIGTERM');
    expect(await done).toBe(EXIT.OK);
  });

  const cell = (fn: string, field: string) =>
    `document.querySelector('#functions tr[data-function=${JSON.stringify(fn)}] td[data-field=${field}]')?.textContent`;

  test('shows both servers, the one that is down as a red row', async () => {
    await page.waitFor(`document.querySelectorAll('#servers tbody tr').length === 2`, {
      what: 'two server rows',
    });
    const rows = await page.evaluate<{ server: string; state: string; className: string }[]>(
      `[...document.querySelectorAll('#servers tbody tr')].map((tr) => ({
        server: tr.dataset.server,
        state: tr.querySelector('[data-field=state]').textContent,
        className: tr.className,
      }))`,
    );
    expect(rows).toEqual([
      { server, state: 'up', className: 'up' },
      { server: deadServer, state: 'down', className: 'down' },
    ]);
    const [red, green, blue] = await page.evaluate<number[]>(
      `getComputedStyle(document.querySelector('#servers tr.down td')).backgroundColor
         .match(/\\d+/g).slice(0, 3).map(Number)`,
    );
    expect(red).toBeGreaterThan((green ?? 0) + 20);
    expect(red).toBeGreaterThan((blue ?? 0) + 20);
    const error = await page.evaluate<string>(
      `document.querySelector('#servers tr.down [data-field=error]').textContent`,
    );
    expect(error).toMatch(/ECONNREFUSED/);
    expect(await page.evaluate('document.getElementById("connection").dataset.state')).toBe('live');
  });

  test('the queued count on the page follows the jobs submitted, with a sparkline', async () => {
    const name = uniqueName('page');
    const worked = uniqueName('page-worker');
    await using client = await createClient({ servers: [server] });
    await client.submitBackground(name, 'a', { priority: 'high' });
    await client.submitBackground(name, 'b');
    await page.waitFor(`${cell(name, 'queued')} === '2'`, { what: `${name} queued 2` });
    expect(await page.evaluate(cell(name, 'high'))).toBe('1');
    expect(await page.evaluate(cell(name, 'normal'))).toBe('1');
    expect(await page.evaluate(cell(name, 'workers'))).toBe('0');

    for (let i = 0; i < 3; i++) await client.submitBackground(name, `c${i}`, { priority: 'low' });
    await page.waitFor(`${cell(name, 'queued')} === '5'`, { what: `${name} queued 5` });
    expect(await page.evaluate(cell(name, 'low'))).toBe('3');
    const samples = await page.waitFor<string>(
      `(() => {
        const svg = document.querySelector('#functions tr[data-function=${JSON.stringify(name)}] svg.spark');
        return svg && svg.querySelector('polyline') && svg.dataset.samples.includes('5') && svg.dataset.samples;
      })()`,
      { what: 'a sparkline reaching 5' },
    );
    expect(samples.split(',').map(Number)).toContain(2);

    // A worker shows up in the workers table and as the function's worker count.
    await using worker = await createWorker({
      servers: [server],
      functions: [worked],
      clientId: 'dashboard-test',
    });
    await page.waitFor(
      `[...document.querySelectorAll('#workers tbody tr')].some((tr) =>
        tr.querySelector('[data-field=functions]').textContent.split(' ').includes(${JSON.stringify(worked)}))`,
      { what: 'the worker in the workers table' },
    );
    await page.waitFor(`${cell(worked, 'workers')} === '1'`, { what: `${worked} has a worker` });
    expect(Number(await page.evaluate('document.getElementById("summary").dataset.queued'))).toBe(
      await totalQueued(),
    );

    await mkdir(ARTIFACTS, { recursive: true });
    const png = await page.screenshot();
    expect(png.subarray(1, 4).toString()).toBe('PNG');
    await writeFile(`${ARTIFACTS}dashboard.png`, png);
    worker.destroy();
  });

  test('the page reported no script errors or refused resources', () => {
    // The dead server's refusals are on the server side; the page itself loads cleanly.
    expect(page.errors).toEqual([]);
  });

  // The page's own total, against the same figures straight from the dashboard's snapshot.
  async function totalQueued(): Promise<number> {
    const state = (await (await fetch(`${url}snapshot`)).json()) as {
      servers: { functions: { queued: number }[] }[];
    };
    await page.waitFor(`document.getElementById('summary').dataset.at >= ${Date.now() - 1000}`, {
      what: 'a fresh refresh',
    });
    return state.servers.flatMap((s) => s.functions).reduce((sum, f) => sum + f.queued, 0);
  }
});
