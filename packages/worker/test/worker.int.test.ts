import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeAll, describe, expect, inject, test } from 'vitest';
import { uniqueName, waitFor } from '../../../test/helpers.js';
import { createWorker, type Job, type Worker, type WorkerOptions } from '../src/index.js';
import { functionStatus, workersOf } from './support/admin.js';
import { TestClient } from './support/client.js';

const server = inject('gearman');
const servers = [`${server.host}:${server.port}`];
const workers: Worker[] = [];
let client: TestClient;

beforeAll(async () => {
  client = await TestClient.connect(server);
  return () => client.close();
});

afterEach(async () => {
  for (const worker of workers.splice(0)) await worker.close({ timeout: 200 });
});

async function start(options: WorkerOptions): Promise<Worker> {
  const worker = await createWorker({ servers, ...options });
  workers.push(worker);
  return worker;
}

/** Active handles and requests by type (TCPSocketWrap, Timeout, …). */
function countResources(): Map<string, number> {
  const counts = new Map<string, number>();
  for (const type of process.getActiveResourcesInfo())
    counts.set(type, (counts.get(type) ?? 0) + 1);
  return counts;
}

describe('worker against a job server', () => {
  test('runs thousands of jobs with concurrency 8 and never holds more than 8', async () => {
    const fn = uniqueName('many');
    const worker = await start({ concurrency: 8, functions: [fn] });
    let active = 0;
    let maxActive = 0;
    let maxHeld = 0;
    const loop = (async () => {
      for await (const job of worker) {
        void (async () => {
          active++;
          maxActive = Math.max(maxActive, active);
          const stats = worker.stats();
          maxHeld = Math.max(maxHeld, stats.inFlight + stats.buffered + stats.grabsInFlight);
          if (Math.random() < 0.2) await sleep(1);
          else await Promise.resolve();
          active--;
          await job.complete(job.payload);
        })();
      }
    })();
    // The server's own view, sampled while the jobs run.
    let maxRunning = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const row = await functionStatus(server, fn);
        maxRunning = Math.max(maxRunning, row?.running ?? 0);
        await sleep(5);
      }
    })();
    const count = 3000;
    const outcomes = await Promise.all(
      Array.from({ length: count }, (_, i) => client.submit(fn, `job-${i}`)),
    );
    sampling = false;
    await sampler;
    expect(
      outcomes.every(
        (o, i) => o.result.type === 'complete' && String(o.result.data) === `job-${i}`,
      ),
    ).toBe(true);
    expect(maxActive).toBeGreaterThan(1); // the jobs did run side by side
    expect(maxActive).toBeLessThanOrEqual(8);
    expect(maxHeld).toBeLessThanOrEqual(8);
    expect(maxRunning).toBeGreaterThan(0);
    expect(maxRunning).toBeLessThanOrEqual(8);
    expect(worker.stats()).toMatchObject({ received: count, completed: count, inFlight: 0 });
    await worker.close();
    await loop;
  });

  test('carries binary payloads and results byte for byte, NULs and over 64 KiB included', async () => {
    const fn = uniqueName('bytes');
    const worker = await start({ concurrency: 4, functions: [fn] });
    void worker.process((job) => Buffer.from(job.payload).reverse());
    const payloads = [
      Buffer.alloc(0),
      Buffer.from([0]),
      Buffer.from([0, 0, 1, 0, 255, 0]),
      Buffer.from(Array.from({ length: 256 }, (_, i) => i)),
      randomBytes(64 * 1024 + 1),
      Buffer.concat([Buffer.alloc(70_000), randomBytes(300_000), Buffer.alloc(3)]),
    ];
    const outcomes = await Promise.all(payloads.map((payload) => client.submit(fn, payload)));
    for (const [i, outcome] of outcomes.entries()) {
      expect(outcome.result.type).toBe('complete');
      const data = (outcome.result as { data: Buffer }).data;
      expect(data.equals(Buffer.from(payloads[i] as Buffer).reverse())).toBe(true);
    }
  });

  test('process() runs the handler registered for each function', async () => {
    const upper = uniqueName('upper');
    const reverse = uniqueName('reverse');
    const worker = await start({ concurrency: 2 });
    worker.register(upper, (job) => job.text().toUpperCase());
    worker.register(reverse, { timeout: 10_000 }, (job) => Buffer.from(job.payload).reverse());
    void worker.process();
    const [a, b] = await Promise.all([client.submit(upper, 'abc'), client.submit(reverse, 'abc')]);
    expect(a.result).toEqual({ type: 'complete', data: Buffer.from('ABC') });
    expect(b.result).toEqual({ type: 'complete', data: Buffer.from('cba') });
  });

  test('delivers status, data and warning to the client in order, then the result', async () => {
    const fn = uniqueName('progress');
    const worker = await start({ functions: [fn] });
    void worker.process(async (job) => {
      await job.status(0, 3);
      await job.data('chunk-1');
      await job.warning(Buffer.from([0, 1]));
      await job.status(2, 3);
      await job.data('chunk-2');
      await job.status(3, 3);
      return 'final';
    });
    const outcome = await client.submit(fn, 'x');
    expect(outcome.events).toEqual([
      { type: 'status', numerator: 0, denominator: 3 },
      { type: 'data', data: Buffer.from('chunk-1') },
      { type: 'warning', data: Buffer.from([0, 1]) },
      { type: 'status', numerator: 2, denominator: 3 },
      { type: 'data', data: Buffer.from('chunk-2') },
      { type: 'status', numerator: 3, denominator: 3 },
    ]);
    expect(outcome.result).toEqual({ type: 'complete', data: Buffer.from('final') });
  });

  test('fails jobs with WORK_FAIL and WORK_EXCEPTION', async () => {
    const fn = uniqueName('failing');
    const worker = await start({ concurrency: 3, functions: [fn] });
    void worker.process(async (job) => {
      switch (job.text()) {
        case 'fail':
          await job.fail();
          return;
        case 'exception':
          await job.exception(Buffer.from([1, 0, 2]));
          return;
        default:
          throw new Error('handler threw');
      }
    });
    const [fail, exception, thrown] = await Promise.all([
      client.submit(fn, 'fail'),
      client.submit(fn, 'exception'),
      client.submit(fn, 'throw'),
    ]);
    expect(fail?.result).toEqual({ type: 'fail' });
    expect(exception?.result).toEqual({ type: 'exception', data: Buffer.from([1, 0, 2]) });
    expect(thrown?.result).toEqual({ type: 'exception', data: Buffer.from('handler threw') });
    // gearmand ends a job at WORK_EXCEPTION: the worker sends no WORK_FAIL after it, which
    // gearmand would answer with ERROR JOB_NOT_FOUND. Another job's GRAB reply comes after any
    // such ERROR on the same socket.
    expect((await client.submit(fn, 'fail'))?.result).toEqual({ type: 'fail' });
    expect(worker.stats()).toMatchObject({ failed: 2, exceptions: 2, jobNotFound: 0 });
    expect(worker.stats().servers[0]?.grabRefused).toBe(0);
  });

  test('a handler that returns or throws after settling its job changes nothing', async () => {
    const fn = uniqueName('settled-first');
    const worker = await start({ functions: [fn] });
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => {
      unhandled.push(reason);
    };
    process.on('unhandledRejection', onUnhandled);
    try {
      void worker.process(async (job) => {
        await job.complete(`done ${job.text()}`);
        if (job.text() === 'throw') throw new Error('after the result');
        // Not a valid result, and never sent: the job is settled.
        return 42 as unknown as string;
      });
      const [thrown, returned] = await Promise.all([
        client.submit(fn, 'throw'),
        client.submit(fn, 'return'),
      ]);
      expect(thrown?.result).toEqual({ type: 'complete', data: Buffer.from('done throw') });
      expect(returned?.result).toEqual({ type: 'complete', data: Buffer.from('done return') });
      // An unhandled rejection is reported once the tick that made it is over.
      await sleep(20);
      expect(unhandled).toEqual([]);
      expect(worker.stats()).toMatchObject({ completed: 2, exceptions: 0, failed: 0 });
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  test('shows the unique on the job, and coalesced submissions share one run', async () => {
    const fn = uniqueName('unique');
    const other = await TestClient.connect(server);
    try {
      // Queue both before a worker exists, so they coalesce.
      const first = client.submit(fn, 'payload-1', { unique: 'same-key' });
      await waitFor(async () => (await functionStatus(server, fn))?.total === 1);
      const second = other.submit(fn, 'payload-2', { unique: 'same-key' });
      await sleep(30);
      expect((await functionStatus(server, fn))?.total).toBe(1);
      const seen: { unique: string; payload: string }[] = [];
      const worker = await start({ functions: [fn] });
      void worker.process((job) => {
        seen.push({ unique: job.unique, payload: job.text() });
        return `ran ${seen.length}`;
      });
      const [a, b] = await Promise.all([first, second]);
      expect(seen).toEqual([{ unique: 'same-key', payload: 'payload-1' }]);
      expect(a.result).toEqual({ type: 'complete', data: Buffer.from('ran 1') });
      expect(b.result).toEqual({ type: 'complete', data: Buffer.from('ran 1') });
      expect(a.handle).toBe(b.handle);
    } finally {
      await other.close();
    }
  });

  test("shows a reduce job's reducer with grabMode 'all'", async () => {
    const fn = uniqueName('reduce');
    const worker = await start({ functions: [fn], grabMode: 'all' });
    void worker.process((job) => `${job.reducer}|${job.text()}`);
    const reduced = await client.submitReduce(fn, 'data', 'my-reducer');
    const plain = await client.submit(fn, 'plain');
    expect(reduced.result).toEqual({ type: 'complete', data: Buffer.from('my-reducer|data') });
    expect(plain.result).toEqual({ type: 'complete', data: Buffer.from('|plain') });
  });

  test('fails a job past its time limit and aborts its signal', async () => {
    const fn = uniqueName('slow');
    const worker = await start({ functions: [{ name: fn, timeout: 300 }] });
    let reason: unknown;
    void worker.process(
      (job) =>
        new Promise<string>((resolve) => {
          job.signal.addEventListener('abort', () => {
            reason = job.signal.reason;
            // Finishing after the deadline sends nothing more.
            setTimeout(() => resolve('too late'), 20);
          });
        }),
    );
    const started = Date.now();
    const outcome = await client.submit(fn, 'x');
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    expect(outcome.result.type).toBe('exception');
    expect(String((outcome.result as { data: Buffer }).data)).toMatch(/time limit of 300 ms/);
    expect(reason).toMatchObject({ name: 'JobTimeoutError', code: 'ERR_TIMEOUT' });
    await waitFor(() => worker.stats().droppedResults === 1);
    expect(worker.stats()).toMatchObject({ timeouts: 1, jobNotFound: 0 });
  });

  test('an idle worker picks up an epoch job when it falls due', async () => {
    const fn = uniqueName('epoch');
    const worker = await start({ functions: [fn], pollInterval: 200 });
    const ran: number[] = [];
    void worker.process(() => {
      ran.push(Date.now());
    });
    await waitFor(() => worker.stats().servers[0]?.grab === 'sleeping');
    // gearmand wakes no sleeping worker when this falls due (section 11, item 26).
    const runAt = Math.floor(Date.now() / 1000) + 2;
    await client.submitEpoch(fn, 'later', runAt);
    await waitFor(() => ran.length === 1, { timeout: 4000, what: 'the epoch job to run' });
    expect(ran[0]).toBeGreaterThanOrEqual(runAt * 1000 - 50);
    expect(ran[0]).toBeLessThan(runAt * 1000 + 1500);
  });

  test('unregister() stops jobs of that function (admin workers)', async () => {
    const fn = uniqueName('unreg');
    const keep = uniqueName('keep');
    const worker = await start({ functions: [fn, keep], clientId: uniqueName('id') });
    const seen: string[] = [];
    void worker.process((job) => {
      seen.push(job.name);
    });
    await waitFor(async () => (await workersOf(server, fn)).length === 1);
    worker.unregister(fn);
    await waitFor(async () => (await workersOf(server, fn)).length === 0);
    expect((await workersOf(server, keep))[0]?.functions).toEqual([keep]);
    const handle = await client.submitBackground(fn, 'nobody');
    await client.submit(keep, 'somebody');
    await sleep(100);
    expect(seen).toEqual([keep]);
    expect(await functionStatus(server, fn)).toMatchObject({ total: 1, running: 0, workers: 0 });
    // Clean up: someone else takes the queued job.
    const cleaner = await start({ functions: [fn] });
    void cleaner.process(() => 'cleaned');
    await waitFor(async () => (await functionStatus(server, fn))?.total === 0);
    expect(handle).toMatch(/^H:/);
  });

  test('a job whose worker dies mid-job is run again by another worker', async () => {
    const fn = uniqueName('rerun');
    const dying = await start({ functions: [fn] });
    let firstRun: Job | undefined;
    void dying.process((job) => {
      firstRun = job;
      return new Promise<never>(() => {}); // never finishes
    });
    const outcome = client.submit(fn, 'important');
    await waitFor(() => firstRun !== undefined);
    await firstRun?.status(1, 2);
    // Its socket closes without a result, as when the process is killed.
    dying.destroy();
    const survivor = await start({ functions: [fn] });
    void survivor.process((job) => `second run of ${job.text()}`);
    const { events, result } = await outcome;
    expect(result).toEqual({ type: 'complete', data: Buffer.from('second run of important') });
    expect(events).toEqual([{ type: 'status', numerator: 1, denominator: 2 }]);
  });

  test('graceful close with 32 jobs in flight: all 32 results arrive, nothing is grabbed after', async () => {
    const fn = uniqueName('drain');
    const worker = await start({ concurrency: 32, functions: [fn] });
    const running: Job[] = [];
    void worker.process(
      (job) =>
        new Promise<string>((resolve) => {
          running.push(job);
          setTimeout(() => resolve(`done ${job.text()}`), 200);
        }),
    );
    const outcomes = Array.from({ length: 64 }, (_, i) => client.submit(fn, `j${i}`));
    await waitFor(() => running.length === 32);
    await worker.close({ timeout: 5000 });
    expect(worker.stats()).toMatchObject({
      received: 32,
      completed: 32,
      released: 0,
      abandoned: 0,
      droppedResults: 0,
    });
    expect(await functionStatus(server, fn)).toMatchObject({ total: 32, running: 0, workers: 0 });
    const finisher = await start({ concurrency: 32, functions: [fn] });
    void finisher.process((job) => `done ${job.text()}`);
    const results = await Promise.all(outcomes);
    expect(results.map((o) => String((o.result as { data: Buffer }).data))).toEqual(
      Array.from({ length: 64 }, (_, i) => `done j${i}`),
    );
  });

  test('a close whose handlers ignore the signal returns at its timeout', async () => {
    const fn = uniqueName('stubborn');
    const worker = await start({ concurrency: 2, functions: [fn] });
    let started = 0;
    void worker.process(() => {
      started++;
      return new Promise<never>(() => {});
    });
    const outcomes = [client.submit(fn, 'a'), client.submit(fn, 'b')];
    await waitFor(() => started === 2);
    const begin = Date.now();
    await worker.close({ timeout: 300 });
    const elapsed = Date.now() - begin;
    expect(elapsed).toBeGreaterThanOrEqual(290);
    expect(elapsed).toBeLessThan(1500);
    expect(worker.stats()).toMatchObject({ abandoned: 2, inFlight: 0 });
    // gearmand re-queued both; another worker finishes them.
    const finisher = await start({ concurrency: 2, functions: [fn] });
    void finisher.process((job) => `finished ${job.text()}`);
    const results = await Promise.all(outcomes);
    expect(results.map((o) => o.result.type)).toEqual(['complete', 'complete']);
  });

  test('leaves no handles or timers behind after close', async () => {
    const fn = uniqueName('leak');
    const own = await TestClient.connect(server);
    await sleep(50); // let sockets of earlier tests finish closing
    const before = countResources();
    const worker = await createWorker({ servers, functions: [fn], concurrency: 4 });
    const events = worker.status();
    void (async () => {
      for await (const _ of events);
    })();
    void worker.process(async (job) => {
      await job.status(1, 1);
      return job.payload;
    });
    await Promise.all(Array.from({ length: 50 }, (_, i) => own.submit(fn, `x${i}`)));
    expect(countResources().get('TCPSocketWrap') ?? 0).toBeGreaterThan(
      before.get('TCPSocketWrap') ?? 0,
    );
    await worker.close();
    await sleep(20);
    const after = countResources();
    for (const [type, count] of after) {
      expect({ type, count }).toEqual({ type, count: Math.min(count, before.get(type) ?? 0) });
    }
    await own.close();
  });
});
