import { setTimeout as sleep } from 'node:timers/promises';
import { type Client, type ClientEvent, createClient } from '@gearmanode/client';
import { createWorker, type Worker, type WorkerEvent } from '@gearmanode/worker';
import { afterEach, expect, test } from 'vitest';
import { expectIdle } from '../../packages/client/test/support/idle.js';
import { type GearmandInstance, startGearmand } from '../gearmand.js';
import { uniqueName, waitFor } from '../helpers.js';
import { checkLeaksAfterEach, snapshotResources } from '../leak-check.js';
import { adminFor, report, waitRegistered, workerHeld } from './support.js';

// Registered before the cleanup hook, so that it runs after it (after-hooks run in reverse).
checkLeaksAfterEach();

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const close of cleanup.splice(0).reverse()) await close();
});

// As long as the issue asks: with the default backoff (100 ms doubling, with jitter, up to 5 s)
// every connection reaches the 5 s cap after 6 to 12 s and then retries at it ten times over.
const OUTAGE_MS = Number(process.env.CHAOS_STORM_SECONDS ?? 60) * 1000;
const CLIENTS = 3;
const WORKERS = 3;
// The longest reconnect delay (the default maxTimeout), plus time to connect and register.
const RECONNECT_BOUND_MS = 5_000 + 2_000;

/** Sum of every listener on `process`: a library that adds one per attempt would grow it. */
function processListeners(): number {
  return process.eventNames().reduce((sum, event) => sum + process.listenerCount(event), 0);
}

test('servers down with 3 clients and 3 workers retrying, then back: bounded timers and listeners, everyone reconnects', async () => {
  const servers: GearmandInstance[] = [];
  for (let i = 0; i < 2; i++) {
    const gearmand = await startGearmand();
    cleanup.push(() => gearmand.stop());
    servers.push(gearmand);
  }
  const addresses = servers.map((s) => `${s.host}:${s.port}`);
  const name = uniqueName('chaos-storm');

  // Default reconnect options: this is about what users get.
  // Every connection's `reconnecting` attempt numbers, in order: one retry chain per
  // connection shows as 1, 2, 3, … without repeats; two chains would interleave.
  const attempts = new Map<string, number[]>();
  const record = (owner: string, events: AsyncIterable<ClientEvent | WorkerEvent>) =>
    void (async () => {
      for await (const event of events) {
        if (event.type !== 'reconnecting') continue;
        const key = `${owner} to ${event.server}`;
        attempts.set(key, [...(attempts.get(key) ?? []), event.attempt]);
      }
    })();
  const clients: Client[] = [];
  for (let i = 0; i < CLIENTS; i++) {
    const client = await createClient({ servers: addresses });
    cleanup.push(() => client.destroy());
    record(`client ${i}`, client.status());
    clients.push(client);
  }
  const workers: Worker[] = [];
  const workerIds: string[] = [];
  for (let i = 0; i < WORKERS; i++) {
    const clientId = `${name}-w${i}`;
    const worker = await createWorker({ servers: addresses, functions: [name], clientId });
    cleanup.push(() => worker.destroy());
    void worker.process((job) => job.payload);
    record(`worker ${i}`, worker.status());
    workers.push(worker);
    workerIds.push(clientId);
  }
  const connections = 2 * (CLIENTS + WORKERS);
  for (const gearmand of servers) {
    const admin = await adminFor(gearmand);
    await waitRegistered(admin, workerIds, name);
    await admin.close();
  }

  // Everything the outage creates is tracked from here on.
  const warnings: string[] = [];
  const onWarning = (warning: Error) => warnings.push(`${warning.name}: ${warning.message}`);
  process.on('warning', onWarning);
  cleanup.push(() => process.off('warning', onWarning));
  const listenersBefore = processListeners();
  const resources = snapshotResources();

  await Promise.all(servers.map((gearmand) => gearmand.kill()));
  const downAt = Date.now();
  // While the servers are down, submits fail at once with a typed error (nothing to retry to).
  const refused = await Promise.all(
    clients.map((client) => client.submit(name, 'down').catch((error: unknown) => error)),
  );

  let samples = 0;
  let maxReconnectTimers = 0;
  let maxConnectTimers = 0;
  let maxSockets = 0;
  let maxTimers = 0;
  let maxListeners = 0;
  const timerSites = new Map<string, number>();
  while (Date.now() - downAt < OUTAGE_MS) {
    await sleep(50);
    samples++;
    const open = resources.created();
    // Timers of the library only (this loop's own sleep left out), by where they were made.
    const timers = open.filter((r) => r.type === 'Timeout' && !r.createdAt.includes('/test/'));
    // p-retry's delay between attempts, and the connection's short pause before the first one.
    const reconnect = timers.filter(
      (r) => r.createdAt.includes('p-retry') || r.createdAt.includes('onSocketClose'),
    ).length;
    // A connect attempt's own deadline (connectTimeout), made in connection.ts's #open.
    const connect = timers.filter(
      (r) =>
        r.createdAt.includes('client/src/connection.ts') &&
        !/#onSocketClose|#startTimer/.test(r.createdAt),
    ).length;
    for (const timer of timers) {
      const site = timer.createdAt
        .replace(`file://`, '')
        .replace(`${process.cwd()}/`, '')
        .replace(/node_modules\/\.pnpm\/[^/]+\//, '');
      timerSites.set(site, (timerSites.get(site) ?? 0) + 1);
    }
    maxReconnectTimers = Math.max(maxReconnectTimers, reconnect);
    maxConnectTimers = Math.max(maxConnectTimers, connect);
    maxTimers = Math.max(maxTimers, timers.length);
    maxSockets = Math.max(maxSockets, open.filter((r) => r.type === 'TCPWRAP').length);
    maxListeners = Math.max(maxListeners, processListeners());
  }
  const chains = [...attempts.values()];
  const maxAttempt = Math.max(...chains.map((chain) => chain.length));
  const minAttempt = Math.min(...chains.map((chain) => chain.length));

  await Promise.all(servers.map((gearmand) => gearmand.restart()));
  const upAt = Date.now();
  await waitFor(
    () =>
      clients.every((c) => c.stats().servers.every((s) => s.state === 'ready')) &&
      workers.every((w) => w.stats().servers.every((s) => s.connection === 'ready')),
    { timeout: 2 * RECONNECT_BOUND_MS, interval: 10, what: 'every connection ready' },
  );
  for (const gearmand of servers) {
    const admin = await adminFor(gearmand);
    await waitRegistered(admin, workerIds, name, 2 * RECONNECT_BOUND_MS);
    await admin.close();
  }
  const reconnectedMs = Date.now() - upAt;
  // Each client reaches each server again: jobs with uniques pinned to each one complete.
  const results = await Promise.all(
    clients.flatMap((client, i) =>
      Array.from({ length: 8 }, (_, j) =>
        client.submit(name, `back-${i}-${j}`, { unique: `${name}-${i}-${j}`, encoding: 'utf8' }),
      ),
    ),
  );

  report('reconnect-storm', {
    outageSeconds: OUTAGE_MS / 1000,
    connections,
    reconnectAttempts: chains.reduce((sum, chain) => sum + chain.length, 0),
    attemptsPerConnection: [minAttempt, maxAttempt],
    samples,
    maxReconnectTimers,
    maxConnectTimers,
    maxTimers,
    maxSockets,
    listenersBefore,
    maxListeners,
    listenersAfter: processListeners(),
    warnings: warnings.length,
    refusedWhileDown: refused.map((e) => (e as { code?: string }).code),
    reconnectedMs,
    timerSamplesBySite: Object.fromEntries(timerSites),
  });
  // Every connection retried in one chain, long enough to reach the cap (attempt 7 waits 5 s).
  expect(attempts.size).toBe(connections);
  for (const chain of chains) expect(chain).toEqual(chain.map((_, i) => i + 1));
  expect(minAttempt).toBeGreaterThanOrEqual(8);
  expect(maxReconnectTimers).toBeGreaterThan(0);
  expect(maxReconnectTimers).toBeLessThanOrEqual(connections);
  expect(maxConnectTimers).toBeLessThanOrEqual(connections);
  expect(maxSockets).toBeLessThanOrEqual(connections);
  expect(maxListeners).toBe(listenersBefore);
  expect(processListeners()).toBe(listenersBefore);
  expect(warnings).toEqual([]);
  expect(refused.map((e) => (e as { code?: string }).code)).toEqual(
    Array(CLIENTS).fill('ERR_CONNECTION'),
  );
  expect(reconnectedMs).toBeLessThanOrEqual(RECONNECT_BOUND_MS);
  expect(results).toEqual(
    clients.flatMap((_, i) => Array.from({ length: 8 }, (_, j) => `back-${i}-${j}`)),
  );
  for (const client of clients) {
    await client.close();
    await expectIdle(client);
  }
  await Promise.all(workers.map((worker) => worker.close()));
  for (const worker of workers)
    expect(workerHeld(worker)).toEqual({ inFlight: 0, buffered: 0, jobs: 0 });
});
