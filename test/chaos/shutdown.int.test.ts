import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createClient } from '@gearmanode/client';
import { createWorker } from '@gearmanode/worker';
import { afterEach, expect, test } from 'vitest';
import { expectIdle } from '../../packages/client/test/support/idle.js';
import { startGearmand } from '../gearmand.js';
import { uniqueName, waitFor } from '../helpers.js';
import { checkLeaksAfterEach } from '../leak-check.js';
import { Ledger, ledgerHandler, report, workerHeld } from './support.js';

// Registered before the cleanup hook, so that it runs after it (after-hooks run in reverse).
checkLeaksAfterEach();

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const close of cleanup.splice(0).reverse()) await close();
});

async function server() {
  const gearmand = await startGearmand();
  cleanup.push(() => gearmand.stop());
  return { gearmand, servers: [`${gearmand.host}:${gearmand.port}`] };
}

test('client.close() with 1,000 submits pending settles all 1,000', async () => {
  const { servers } = await server();
  const name = uniqueName('chaos-close');
  const worker = await createWorker({ servers, functions: [name], concurrency: 32 });
  cleanup.push(() => worker.destroy());
  void worker.process(ledgerHandler(5));

  // A graceful close waits for all of them: 100 on the server, 900 still in the client.
  const ledger = new Ledger();
  const client = await createClient({ servers, maxInFlight: 100 });
  cleanup.push(() => client.destroy());
  const tracked = Array.from({ length: 1_000 }, () => {
    const { id, payload } = ledger.next();
    return ledger.track(id, client.submit(name, payload));
  });
  const queuedAtClose = client.stats().queued;
  await client.close();
  const pendingAfterClose = ledger.pending;
  await Promise.all(tracked);

  // A close that runs out of time: what is left rejects with ClosedError by the time it returns.
  const slowName = uniqueName('chaos-close-slow');
  const slow = await createWorker({ servers, functions: [slowName], concurrency: 8 });
  cleanup.push(() => slow.destroy());
  void slow.process(ledgerHandler(100));
  const cut = new Ledger();
  const hurried = await createClient({ servers, maxInFlight: 100 });
  cleanup.push(() => hurried.destroy());
  for (let i = 0; i < 1_000; i++) {
    const { id, payload } = cut.next();
    void cut.track(id, hurried.submit(slowName, payload));
  }
  await hurried.close({ timeout: 300 });
  const cutPendingAfterClose = cut.pending;

  report('shutdown-client-close', {
    graceful: { ...ledger.figures(), queuedAtClose, pendingAfterClose },
    timedOut: { ...cut.figures(), pendingAfterClose: cutPendingAfterClose },
  });
  expect(queuedAtClose).toBe(900);
  expect(pendingAfterClose).toBe(0);
  expect(ledger.resolved).toBe(1_000);
  expect(ledger.wrongResults).toBe(0);
  expect(cutPendingAfterClose).toBe(0);
  expect(cut.resolved + (cut.rejected.get('ERR_CLOSED') ?? 0)).toBe(1_000);
  expect(cut.rejected.get('ERR_CLOSED')).toBeGreaterThan(0);
  expect(cut.wrongResults + cut.untyped).toBe(0);
  await expectIdle(client);
  await expectIdle(hurried);
  await Promise.all([worker.close(), slow.close({ timeout: 0 })]);
  expect(workerHeld(worker)).toEqual({ inFlight: 0, buffered: 0, jobs: 0 });
  expect(workerHeld(slow)).toEqual({ inFlight: 0, buffered: 0, jobs: 0 });
});

test('a worker closing with 32 jobs in flight delivers all 32 results', async () => {
  const { servers } = await server();
  const name = uniqueName('chaos-worker-close');
  const worker = await createWorker({ servers, functions: [name], concurrency: 32 });
  cleanup.push(() => worker.destroy());
  let open!: () => void;
  const gate = new Promise<void>((resolve) => {
    open = resolve;
  });
  const ledger = new Ledger();
  let running = 0;
  void worker.process(async (job) => {
    running++;
    await gate;
    return ledger.executed(job.payload);
  });
  const client = await createClient({ servers });
  cleanup.push(() => client.destroy());
  const tracked = Array.from({ length: 32 }, () => {
    const { id, payload } = ledger.next();
    return ledger.track(id, client.submit(name, payload));
  });
  await waitFor(() => running === 32, { what: '32 jobs running' });
  const inFlightAtClose = worker.stats().inFlight;
  const closing = worker.close({ timeout: 10_000 });
  expect(worker.state).toBe('draining');
  open(); // the handlers finish after close() began
  await closing;
  await Promise.all(tracked);
  const stats = worker.stats();
  report('shutdown-worker-close', {
    inFlightAtClose,
    ...ledger.figures(),
    workerCompleted: stats.completed,
    workerAbandoned: stats.abandoned,
    droppedResults: stats.droppedResults,
  });
  expect(inFlightAtClose).toBe(32);
  expect(ledger.resolved).toBe(32);
  expect(ledger.wrongResults).toBe(0);
  expect(stats.completed).toBe(32);
  expect(stats.abandoned).toBe(0);
  expect(stats.droppedResults).toBe(0);
  expect(workerHeld(worker)).toEqual({ inFlight: 0, buffered: 0, jobs: 0 });
  await client.close();
  await expectIdle(client);
});

test('under --unhandled-rejections=strict, closing, destroying and a killed server leave no unhandled rejection', async () => {
  const child = spawn(
    process.execPath,
    [
      '--unhandled-rejections=strict',
      '--import',
      'tsx',
      fileURLToPath(new URL('./shutdown-child.ts', import.meta.url)),
    ],
    {
      cwd: fileURLToPath(new URL('../..', import.meta.url)),
      env: { ...process.env, TSX_TSCONFIG_PATH: 'test/tsconfig.json' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  // The child must end by itself: a handle left open would keep it alive past this deadline.
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  const [code, signal] = await new Promise<[number | null, string | null]>((resolve) =>
    child.once('close', (c, s) => resolve([c, s])),
  );
  clearTimeout(timer);
  const line = stdout.trim().split('\n').at(-1) ?? '';
  const figures = code === 0 ? JSON.parse(line) : undefined;
  report('shutdown-strict-child', { exitCode: code, signal, ...figures });
  expect({ code, signal, stderr }).toEqual({ code: 0, signal: null, stderr: '' });
  expect(figures.closeWaits).toEqual({ resolved: 1_000 });
  expect(figures.closeTimesOut.resolved + figures.closeTimesOut.ERR_CLOSED).toBe(1_000);
  expect(figures.destroy).toEqual({ ERR_CLOSED: 500 });
  expect(figures.workerClose).toEqual({ resolved: 32 });
  expect(figures.outcomes.untyped).toBeUndefined();
});
