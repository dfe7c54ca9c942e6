import { setTimeout as sleep } from 'node:timers/promises';
import { type Client, createClient } from '@gearmanode/client';
import { createWorker, type Worker } from '@gearmanode/worker';
import { afterEach, expect, test } from 'vitest';
import { expectIdle } from '../../packages/client/test/support/idle.js';
import { startGearmand } from '../gearmand.js';
import { uniqueName, waitFor } from '../helpers.js';
import { checkLeaksAfterEach } from '../leak-check.js';
import { Ledger, ledgerHandler, report, runLoad, within, workerHeld } from './support.js';

// Registered before the cleanup hook, so that it runs after it (after-hooks run in reverse).
checkLeaksAfterEach();

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const close of cleanup.splice(0).reverse()) await close();
});

const JOBS = 10_000;
const CLIENTS = 4;
const WORKERS = 4;
const CONCURRENCY = 8;
const RESTARTS = 5;
// Reconnect quickly: the test is about what happens to jobs, not about the default backoff.
const reconnect = { minTimeout: 20, maxTimeout: 500 };

/**
 * 10,000 foreground jobs from 4 clients to 4 workers (concurrency 8) while gearmand is
 * SIGKILLed and restarted 5 times. The jobs go out at about 1,500 a second, and gearmand is
 * killed each time another sixth of them has been submitted, so every restart lands mid-run.
 */
async function restartRun(retry: boolean) {
  const gearmand = await startGearmand();
  cleanup.push(() => gearmand.stop());
  const servers = [`${gearmand.host}:${gearmand.port}`];
  const name = uniqueName('chaos-restart');
  const ledger = new Ledger();

  const workers: Worker[] = [];
  for (let i = 0; i < WORKERS; i++) {
    const worker = await createWorker({
      servers,
      functions: [name],
      concurrency: CONCURRENCY,
      reconnect,
    });
    cleanup.push(() => worker.destroy());
    void worker.process(ledgerHandler(2));
    workers.push(worker);
  }
  const clients: Client[] = [];
  for (let i = 0; i < CLIENTS; i++) {
    const client = await createClient({
      servers,
      reconnect,
      // Every job has a unique, so with retry a job that lost its connection is sent again.
      retry: retry ? { retries: 30, minTimeout: 20, maxTimeout: 500 } : 0,
    });
    cleanup.push(() => client.destroy());
    clients.push(client);
  }

  const counter = { started: 0 };
  const started = Date.now();
  const load = Promise.all(
    clients.map((client) =>
      runLoad({
        ledger,
        client,
        functionName: name,
        concurrency: 16,
        jobs: JOBS,
        counter,
        unique: retry,
        rate: 1_500 / CLIENTS,
      }),
    ),
  );
  const restarts: { atJob: number; downMs: number }[] = [];
  for (let i = 1; i <= RESTARTS; i++) {
    const threshold = Math.floor((JOBS * i) / (RESTARTS + 1));
    await waitFor(() => counter.started >= threshold, { timeout: 60_000, interval: 5 });
    const killedAt = Date.now();
    await gearmand.kill();
    await sleep(100);
    await gearmand.restart();
    restarts.push({ atJob: counter.started, downMs: Date.now() - killedAt });
  }
  // The deadline: every promise has settled within 30 s of the last job being started.
  await within(load, 60_000);
  await ledger.settled(30_000);
  const figures = {
    ...ledger.figures(),
    restarts: restarts.length,
    restartsAtJob: restarts.map((r) => r.atJob),
    seconds: (Date.now() - started) / 1000,
    clientRetries: clients.reduce((sum, client) => sum + client.stats().retries, 0),
    workerLost: workers.reduce((sum, worker) => sum + worker.stats().lost, 0),
  };
  for (const client of clients) await expectIdle(client);
  await Promise.all(workers.map((worker) => worker.close()));
  for (const worker of workers)
    expect(workerHeld(worker)).toEqual({ inFlight: 0, buffered: 0, jobs: 0 });
  return { ledger, figures };
}

test('10,000 jobs through 5 SIGKILL restarts of gearmand: every job settles, with its own result or a typed error', async () => {
  const { ledger, figures } = await restartRun(false);
  report('server-restarts', figures);
  expect(ledger.samples).toEqual([]);
  expect(figures.restarts).toBe(RESTARTS);
  expect(ledger.submitted).toBe(JOBS);
  expect(ledger.pending).toBe(0);
  expect(ledger.untyped).toBe(0);
  expect(ledger.wrongResults).toBe(0);
  expect(ledger.resolved + ledger.rejectedTotal).toBe(JOBS);
  // Without retry a lost job fails with ERR_CONNECTION, and nothing else goes wrong.
  expect(Object.keys(figures.rejected).filter((code) => code !== 'ERR_CONNECTION')).toEqual([]);
  expect(ledger.rejectedTotal).toBeGreaterThan(0); // the restarts did hit jobs
});

test('with retry and a unique on every job, 10,000 of 10,000 complete through 5 restarts', async () => {
  const { ledger, figures } = await restartRun(true);
  report('server-restarts-retry', figures);
  expect(ledger.samples).toEqual([]);
  expect(figures.restarts).toBe(RESTARTS);
  expect(ledger.submitted).toBe(JOBS);
  expect(ledger.pending).toBe(0);
  expect(ledger.wrongResults).toBe(0);
  expect(figures.rejected).toEqual({});
  expect(ledger.resolved).toBe(JOBS);
  expect(figures.clientRetries).toBeGreaterThan(0);
});
