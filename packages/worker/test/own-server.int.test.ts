import { afterEach, describe, expect, inject, test } from 'vitest';
import { type GearmandInstance, startGearmand } from '../../../test/gearmand.js';
import { freePort, uniqueName, waitFor } from '../../../test/helpers.js';
import { createWorker, type Worker } from '../src/index.js';
import { workersOf } from './support/admin.js';
import { TestClient } from './support/client.js';

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

async function ownGearmand(): Promise<GearmandInstance> {
  const gearmand = await startGearmand();
  cleanup.push(() => gearmand.stop());
  return gearmand;
}

// These start gearmand processes of their own; under the embedded server's project they would
// only repeat the same runs.
describe.runIf(inject('gearman').kind === 'gearmand')('own gearmand', () => {
  test('after gearmand is SIGKILLed and restarted the worker registers again and takes new jobs', async () => {
    const gearmand = await ownGearmand();
    const fn = uniqueName('restart');
    const clientId = uniqueName('worker');
    const worker: Worker = await createWorker({
      servers: [`${gearmand.host}:${gearmand.port}`],
      functions: [fn],
      clientId,
      concurrency: 2,
      reconnect: { minTimeout: 20, maxTimeout: 200 },
    });
    cleanup.push(() => worker.close({ timeout: 100 }));
    const events: string[] = [];
    void (async () => {
      for await (const event of worker.status()) events.push(event.type);
    })();
    void worker.process((job) => `ok ${job.text()}`);

    const before = await TestClient.connect(gearmand);
    expect((await before.submit(fn, 'one')).result).toEqual({
      type: 'complete',
      data: Buffer.from('ok one'),
    });
    await before.close();

    await gearmand.kill();
    await waitFor(() => events.includes('disconnect'));
    await gearmand.restart();
    await waitFor(async () => (await workersOf(gearmand, fn)).length === 1, {
      timeout: 5000,
      what: 'the worker to register again',
    });
    expect(await workersOf(gearmand, fn)).toEqual([{ clientId, functions: [fn] }]);

    const after = await TestClient.connect(gearmand);
    cleanup.push(() => after.close());
    const outcomes = await Promise.all(['two', 'three'].map((p) => after.submit(fn, p)));
    expect(outcomes.map((o) => String((o.result as { data: Buffer }).data))).toEqual([
      'ok two',
      'ok three',
    ]);
    expect(worker.stats().servers[0]?.generation).toBe(2);
  });

  test('one dead server neither blocks the start nor the jobs of the others', async () => {
    const [a, b] = await Promise.all([ownGearmand(), ownGearmand()]);
    const fn = uniqueName('multi');
    const dead = `127.0.0.1:${await freePort()}`;
    const begin = Date.now();
    const worker = await createWorker({
      servers: [`${a.host}:${a.port}`, dead, `${b.host}:${b.port}`],
      functions: [fn],
      concurrency: 4,
    });
    cleanup.push(() => worker.close({ timeout: 100 }));
    expect(Date.now() - begin).toBeLessThan(2000);
    void worker.process((job) => `${job.server} ${job.text()}`);
    const [ca, cb] = await Promise.all([TestClient.connect(a), TestClient.connect(b)]);
    cleanup.push(() => ca.close());
    cleanup.push(() => cb.close());
    const results = await Promise.all([
      ...Array.from({ length: 10 }, (_, i) => ca.submit(fn, `a${i}`)),
      ...Array.from({ length: 10 }, (_, i) => cb.submit(fn, `b${i}`)),
    ]);
    const texts = results.map((o) => String((o.result as { data: Buffer }).data));
    expect(texts.slice(0, 10)).toEqual(
      Array.from({ length: 10 }, (_, i) => `${a.host}:${a.port} a${i}`),
    );
    expect(texts.slice(10)).toEqual(
      Array.from({ length: 10 }, (_, i) => `${b.host}:${b.port} b${i}`),
    );
  });

  test('backs off instead of spinning when gearmand answers PRE_SLEEP with NOOP forever', async () => {
    // Section 11, item 26: a future epoch job alone in the normal queue hides the function's low
    // jobs from GRAB, while PRE_SLEEP sees them and answers NOOP at once, every time.
    const gearmand = await ownGearmand();
    const fn = uniqueName('spin');
    const client = await TestClient.connect(gearmand);
    // The low job never runs here, so do not wait for it.
    cleanup.push(async () => client.client.destroy());
    await client.submitEpoch(fn, 'far future', Math.floor(Date.now() / 1000) + 3600);
    const low = await client.start(fn, 'low', { priority: 'low' });
    const worker = await createWorker({
      servers: [`${gearmand.host}:${gearmand.port}`],
      functions: [fn],
      pollInterval: 1000,
    });
    cleanup.push(() => worker.close({ timeout: 100 }));
    let ran = 0;
    void worker.process(() => {
      ran++;
    });
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const { grabs, noJobs } = worker.stats();
    // A naive worker sends thousands of GRABs a second here.
    expect(grabs).toBeGreaterThan(2);
    expect(grabs).toBeLessThan(30);
    expect(noJobs).toBe(grabs);
    expect(ran).toBe(0);
    expect(low.handle).toMatch(/^H:/);
  });
});
