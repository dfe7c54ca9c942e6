import { createClient } from '@gearmanode/client';
import { createWorker, type Worker } from '@gearmanode/worker';
import { afterEach, expect, test } from 'vitest';
import { expectIdle } from '../../packages/client/test/support/idle.js';
import { startGearmand } from '../gearmand.js';
import { uniqueName, waitFor } from '../helpers.js';
import { checkLeaksAfterEach } from '../leak-check.js';
import { adminFor, Ledger, report, within, workerHeld } from './support.js';

// Registered before the cleanup hook, so that it runs after it (after-hooks run in reverse).
checkLeaksAfterEach();

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const close of cleanup.splice(0).reverse()) await close();
});

const JOBS = 100_000;

/** Calls `sample` every `ms` until `stop()`; sampling errors are counted and rethrown at stop. */
function every(ms: number, sample: () => void | Promise<void>) {
  let busy = false;
  let failure: unknown;
  let samples = 0;
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    Promise.resolve()
      .then(sample)
      .then(
        () => {
          samples++;
        },
        (error: unknown) => {
          failure ??= error;
        },
      )
      .finally(() => {
        busy = false;
      });
  }, ms);
  return {
    stop: async () => {
      clearInterval(timer);
      await waitFor(() => !busy, { what: 'the last sample' });
      if (failure !== undefined) throw failure;
      return samples;
    },
  };
}

/** Jobs a worker holds: running, waiting to be yielded, or being grabbed. */
function held(worker: Worker): number {
  const stats = worker.stats();
  return stats.inFlight + stats.buffered + stats.grabsInFlight;
}

test('100,000 queued jobs: a worker with concurrency C never holds more than C', async () => {
  const C = 8;
  const gearmand = await startGearmand();
  cleanup.push(() => gearmand.stop());
  const servers = [`${gearmand.host}:${gearmand.port}`];
  const admin = await adminFor(gearmand);
  cleanup.push(() => admin.close());
  const name = uniqueName('chaos-queue');

  const client = await createClient({ servers });
  cleanup.push(() => client.destroy());
  const handles = await Promise.all(
    Array.from({ length: JOBS }, (_, i) => client.submitBackground(name, `${i}`)),
  );
  await client.close();
  await expectIdle(client);
  const queued = (await admin.status()).find((row) => row.functionName === name)?.queued;

  const worker = await createWorker({ servers, functions: [name], concurrency: C });
  cleanup.push(() => worker.destroy());
  let running = 0;
  let maxRunning = 0;
  let maxHeld = 0;
  let maxServerRunning = 0;
  let done = 0;
  void worker.process(async () => {
    running++;
    maxRunning = Math.max(maxRunning, running);
    maxHeld = Math.max(maxHeld, held(worker));
    await new Promise((resolve) => setImmediate(resolve));
    running--;
    done++;
  });
  const local = every(1, () => {
    maxHeld = Math.max(maxHeld, held(worker));
  });
  // gearmand's own view: jobs of the function handed to a worker and not yet finished.
  const server = every(20, async () => {
    const row = (await admin.status()).find((r) => r.functionName === name);
    maxServerRunning = Math.max(maxServerRunning, row?.running ?? 0);
  });
  const started = Date.now();
  await waitFor(() => done === JOBS, { timeout: 90_000, interval: 20, what: 'the queue drained' });
  const seconds = (Date.now() - started) / 1000;
  const [localSamples, serverSamples] = [await local.stop(), await server.stop()];
  await worker.close();
  expect(workerHeld(worker)).toEqual({ inFlight: 0, buffered: 0, jobs: 0 });

  report('backpressure-worker', {
    queued,
    concurrency: C,
    ran: done,
    maxRunning,
    maxHeld,
    maxServerRunning,
    localSamples,
    serverSamples,
    jobsPerSecond: Math.round(JOBS / seconds),
  });
  expect(handles).toHaveLength(JOBS);
  expect(queued).toBe(JOBS);
  expect(done).toBe(JOBS);
  expect(maxRunning).toBe(C); // it did use its slots
  expect(maxHeld).toBeLessThanOrEqual(C);
  expect(maxServerRunning).toBeLessThanOrEqual(C);
});

test('100,000 submits at once: a client with maxInFlight M never has more than M unanswered', async () => {
  const M = 64;
  const gearmand = await startGearmand();
  cleanup.push(() => gearmand.stop());
  const servers = [`${gearmand.host}:${gearmand.port}`];
  const admin = await adminFor(gearmand);
  cleanup.push(() => admin.close());
  const name = uniqueName('chaos-inflight');

  const ledger = new Ledger();
  const workers: Worker[] = [];
  for (let i = 0; i < 2; i++) {
    const worker = await createWorker({ servers, functions: [name], concurrency: 32 });
    cleanup.push(() => worker.destroy());
    void worker.process(async (job) => {
      const result = ledger.executed(job.payload);
      await new Promise((resolve) => setImmediate(resolve));
      return result;
    });
    workers.push(worker);
  }
  const client = await createClient({ servers, maxInFlight: M });
  cleanup.push(() => client.destroy());

  let maxInFlight = 0;
  let maxServerJobs = 0;
  const local = every(1, () => {
    maxInFlight = Math.max(maxInFlight, client.stats().inFlight);
  });
  // gearmand's own view: this client's jobs it holds, queued or running, at any moment.
  const server = every(20, async () => {
    const row = (await admin.status()).find((r) => r.functionName === name);
    maxServerJobs = Math.max(maxServerJobs, row?.total ?? 0);
  });
  const started = Date.now();
  const tracked = Array.from({ length: JOBS }, () => {
    const { id, payload } = ledger.next();
    return ledger.track(id, client.submit(name, payload));
  });
  const queuedInClient = client.stats().queued;
  await within(Promise.all(tracked), 90_000);
  const seconds = (Date.now() - started) / 1000;
  const [localSamples, serverSamples] = [await local.stop(), await server.stop()];

  report('backpressure-client', {
    maxInFlightOption: M,
    queuedInClient,
    ...ledger.figures(),
    maxInFlight,
    maxServerJobs,
    localSamples,
    serverSamples,
    jobsPerSecond: Math.round(JOBS / seconds),
  });
  expect(queuedInClient).toBe(JOBS - M);
  expect(ledger.resolved).toBe(JOBS);
  expect(ledger.pending + ledger.wrongResults + ledger.untyped + ledger.rejectedTotal).toBe(0);
  expect(maxInFlight).toBeLessThanOrEqual(M);
  expect(maxInFlight).toBeGreaterThan(M / 2); // the limit was actually reached
  expect(maxServerJobs).toBeLessThanOrEqual(M);
  await client.close();
  await expectIdle(client);
  await Promise.all(workers.map((worker) => worker.close()));
  for (const worker of workers)
    expect(workerHeld(worker)).toEqual({ inFlight: 0, buffered: 0, jobs: 0 });
});
