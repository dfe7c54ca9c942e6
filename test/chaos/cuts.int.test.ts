import { type Client, createClient } from '@gearmanode/client';
import { createWorker, type Worker } from '@gearmanode/worker';
import { afterEach, expect, test } from 'vitest';
import { expectIdle } from '../../packages/client/test/support/idle.js';
import { startGearmand } from '../gearmand.js';
import { uniqueName, waitFor } from '../helpers.js';
import { checkLeaksAfterEach } from '../leak-check.js';
import { startProxy, type TcpProxy } from '../proxy.js';
import {
  adminFor,
  Ledger,
  ledgerHandler,
  registrations,
  report,
  runLoad,
  waitRegistered,
  within,
  workerHeld,
} from './support.js';

// Registered before the cleanup hook, so that it runs after it (after-hooks run in reverse).
checkLeaksAfterEach();

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const close of cleanup.splice(0).reverse()) await close();
});

const CUTS = 500;
const CLIENTS = 4;
const WORKERS = 4;
// Fast reconnects: a cut costs 20 to 40 ms before the next attempt, not the default 100 to 200.
const reconnect = { minTimeout: 20, maxTimeout: 500 };

test('500 proxy cuts at random offsets: every job settles, retried jobs all complete, and each cut worker registers again', async () => {
  const gearmand = await startGearmand();
  cleanup.push(() => gearmand.stop());
  const target = { host: gearmand.host, port: gearmand.port };
  const admin = await adminFor(target);
  cleanup.push(() => admin.close());
  const name = uniqueName('chaos-cut');
  // The jobs of the clients with retry (every job has a unique) and of those without.
  const retried = new Ledger();
  const plain = new Ledger();

  // Every client and every worker has a proxy of its own, so that each cut has one victim.
  const proxy = async (): Promise<TcpProxy> => {
    const p = await startProxy({ target });
    cleanup.push(() => p.close());
    return p;
  };

  const workers: { worker: Worker; proxy: TcpProxy; clientId: string }[] = [];
  for (let i = 0; i < WORKERS; i++) {
    const p = await proxy();
    const clientId = `${name}-w${i}`;
    const worker = await createWorker({
      servers: [`${p.host}:${p.port}`],
      functions: [name],
      concurrency: 8,
      clientId,
      reconnect,
    });
    cleanup.push(() => worker.destroy());
    void worker.process(ledgerHandler());
    workers.push({ worker, proxy: p, clientId });
  }
  await waitRegistered(
    admin,
    workers.map((w) => w.clientId),
    name,
  );

  const clients: { client: Client; proxy: TcpProxy; retry: boolean }[] = [];
  for (let i = 0; i < CLIENTS; i++) {
    const p = await proxy();
    const retry = i < CLIENTS / 2;
    const client = await createClient({
      servers: [`${p.host}:${p.port}`],
      reconnect,
      retry: retry ? { retries: 30, minTimeout: 20, maxTimeout: 500 } : 0,
    });
    cleanup.push(() => client.destroy());
    clients.push({ client, proxy: p, retry });
  }

  let stop = false;
  const started = Date.now();
  const load = Promise.all(
    clients.map(({ client, retry }) =>
      runLoad({
        ledger: retry ? retried : plain,
        client,
        functionName: name,
        concurrency: 16,
        stop: () => stop,
        unique: retry,
      }),
    ),
  );

  const victims = [...workers, ...clients];
  let workerCuts = 0;
  let clientCuts = 0;
  let cuts = 0;
  let reRegistrations = 0;
  for (let i = 0; i < CUTS; i++) {
    const victim = victims[Math.floor(Math.random() * victims.length)] as (typeof victims)[number];
    const before = victim.proxy.stats.cuts;
    const generation = 'worker' in victim ? generationOf(victim.worker) : 0;
    // Anywhere in the next 2 KiB of either direction: mid-header, mid-payload, mid-handshake.
    victim.proxy.cut({ at: 'random', within: 2048 });
    await waitFor(() => victim.proxy.stats.cuts > before, {
      timeout: 10_000,
      interval: 1,
      what: `cut ${i}`,
    });
    victim.proxy.restore();
    cuts += victim.proxy.stats.cuts - before;
    if ('worker' in victim) {
      workerCuts++;
      // The worker noticed, reconnected on a new socket and is registered again, once.
      await waitFor(
        async () =>
          generationOf(victim.worker) > generation &&
          victim.worker.stats().servers[0]?.connection === 'ready' &&
          (await registrations(admin, victim.clientId, name)) === 1,
        { timeout: 10_000, interval: 5, what: `${victim.clientId} registered after cut ${i}` },
      );
      reRegistrations++;
    } else {
      clientCuts++;
      await waitFor(() => victim.client.stats().servers[0]?.state === 'ready', {
        timeout: 10_000,
        interval: 5,
        what: `client reconnected after cut ${i}`,
      });
    }
  }
  stop = true;
  await within(load, 60_000);
  await Promise.all([retried.settled(30_000), plain.settled(30_000)]);
  const seconds = (Date.now() - started) / 1000;

  report('network-cuts', {
    cuts,
    workerCuts,
    clientCuts,
    reRegistrations,
    seconds,
    withRetry: retried.figures(),
    withoutRetry: plain.figures(),
    clientRetries: clients.reduce((sum, { client }) => sum + client.stats().retries, 0),
  });
  for (const ledger of [retried, plain]) {
    expect(ledger.samples).toEqual([]);
    expect(ledger.pending).toBe(0);
    expect(ledger.untyped).toBe(0);
    expect(ledger.wrongResults).toBe(0);
    expect(ledger.resolved + ledger.rejectedTotal).toBe(ledger.submitted);
  }
  expect(cuts).toBeGreaterThanOrEqual(CUTS);
  expect(reRegistrations).toBe(workerCuts);
  expect(retried.rejected).toEqual(new Map());
  expect(retried.resolved).toBe(retried.submitted);
  expect([...plain.rejected.keys()].filter((code) => code !== 'ERR_CONNECTION')).toEqual([]);
  // Everyone is registered and connected at the end.
  await waitRegistered(
    admin,
    workers.map((w) => w.clientId),
    name,
  );
  for (const { client } of clients) await expectIdle(client);
  await Promise.all(workers.map(({ worker }) => worker.close()));
  for (const { worker } of workers)
    expect(workerHeld(worker)).toEqual({ inFlight: 0, buffered: 0, jobs: 0 });
});

function generationOf(worker: Worker): number {
  return worker.stats().servers[0]?.generation ?? 0;
}
