/**
 * The soak run (`pnpm test:soak`): foreground jobs at a steady rate through a fault-injecting
 * proxy for a long time, with a proxy cut at a random offset every so often and a gearmand
 * SIGKILL and restart less often. At the end: every job completed with its own result (the
 * clients retry, and every job has a unique), nothing is pending, the clients are idle, and the
 * heap after GC is at most SOAK_HEAP_SLACK_MIB above its value at the baseline point.
 *
 * Needs `node --expose-gc`. Everything scales with the duration, so a short run keeps the
 * shape of the long one: by default a cut every 1/30 of the run (every minute of 30), a restart
 * every 1/3 (every 10 minutes), the heap baseline at 1/6 (at 5 minutes).
 *
 *   SOAK_MINUTES=30           how long the load runs (fractions are fine: 2, 0.5)
 *   SOAK_RATE=1000            jobs per second
 *   SOAK_PAYLOAD=1024         payload bytes
 *   SOAK_CUT_EVERY_S          seconds between proxy cuts (default: duration / 30)
 *   SOAK_RESTART_EVERY_S      seconds between gearmand restarts (default: duration / 3)
 *   SOAK_BASELINE_AT_S        when to take the heap baseline (default: duration / 6)
 *   SOAK_HEAP_SLACK_MIB=10    allowed heap growth from the baseline to the end
 *
 * Prints progress lines and one final JSON line of figures; exits with 1 if a figure fails.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { type Client, createClient } from '@gearmanode/client';
import { createWorker, type Worker } from '@gearmanode/worker';
import { debugState } from '../debug-state.js';
import { startGearmand } from '../gearmand.js';
import { startProxy } from '../proxy.js';
import { Ledger, ledgerHandler, report, runLoad, within } from './support.js';

const env = (name: string, fallback: number): number => {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a number > 0`);
  return value;
};

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('run the soak with node --expose-gc (pnpm test:soak does)');

const durationMs = env('SOAK_MINUTES', 30) * 60_000;
const rate = env('SOAK_RATE', 1_000);
const payloadBytes = env('SOAK_PAYLOAD', 1_024);
const cutEveryMs = env('SOAK_CUT_EVERY_S', durationMs / 30 / 1000) * 1000;
const restartEveryMs = env('SOAK_RESTART_EVERY_S', durationMs / 3 / 1000) * 1000;
const baselineAtMs = env('SOAK_BASELINE_AT_S', durationMs / 6 / 1000) * 1000;
const slackBytes = env('SOAK_HEAP_SLACK_MIB', 10) * 1024 * 1024;
const CLIENTS = 2;
const WORKERS = 2;

const MiB = (bytes: number) => Math.round((bytes / 1024 / 1024) * 10) / 10;

/** Heap in use after two full collections. */
function heapAfterGc(): number {
  gc?.();
  gc?.();
  return process.memoryUsage().heapUsed;
}

const gearmand = await startGearmand();
const proxy = await startProxy({ target: { host: gearmand.host, port: gearmand.port } });
const servers = [`${proxy.host}:${proxy.port}`];
const name = `soak-${process.pid}`;
const reconnect = { minTimeout: 50, maxTimeout: 1_000 };
// `<run>:<id>:` plus padding makes the payload about `payloadBytes` long.
const ledger = new Ledger(Math.max(0, payloadBytes - 20));

const workers: Worker[] = [];
for (let i = 0; i < WORKERS; i++) {
  const worker = await createWorker({ servers, functions: [name], concurrency: 8, reconnect });
  void worker.process(ledgerHandler());
  workers.push(worker);
}
const clients: Client[] = [];
for (let i = 0; i < CLIENTS; i++) {
  clients.push(
    await createClient({
      servers,
      reconnect,
      retry: { retries: 50, minTimeout: 50, maxTimeout: 1_000 },
    }),
  );
}

const started = Date.now();
const elapsed = () => Date.now() - started;
let stop = false;
const load = Promise.all(
  clients.map((client) =>
    runLoad({
      ledger,
      client,
      functionName: name,
      concurrency: 64,
      stop: () => stop,
      unique: true,
      rate: rate / CLIENTS,
    }),
  ),
);

let cutEvents = 0;
let cuts = 0;
let restarts = 0;
let baseline: number | undefined;
let nextCut = cutEveryMs;
let nextRestart = restartEveryMs;
let nextProgress = 0;
const heapSamples: { atS: number; heapMiB: number }[] = [];
while (elapsed() < durationMs) {
  await sleep(100);
  const now = elapsed();
  if (baseline === undefined && now >= baselineAtMs) {
    baseline = heapAfterGc();
    heapSamples.push({ atS: Math.round(now / 1000), heapMiB: MiB(baseline) });
  }
  if (now >= nextCut) {
    nextCut += cutEveryMs;
    // Every connection is cut somewhere in its next 4 KiB, then the proxy forwards again.
    const before = proxy.stats.cuts;
    proxy.cut({ at: 'random', within: 4096 });
    while (proxy.stats.cuts === before && elapsed() < durationMs) await sleep(1);
    await sleep(20);
    proxy.restore();
    cutEvents++;
    cuts += proxy.stats.cuts - before;
  }
  if (now >= nextRestart && now + 1_000 < durationMs) {
    nextRestart += restartEveryMs;
    await gearmand.kill();
    await sleep(200);
    await gearmand.restart();
    restarts++;
  }
  if (now >= nextProgress) {
    nextProgress += 30_000;
    const heap = MiB(heapAfterGc());
    heapSamples.push({ atS: Math.round(now / 1000), heapMiB: heap });
    console.log(
      `soak ${Math.round(now / 1000)} s: ${ledger.resolved} done, ${ledger.pending} pending, ` +
        `${cutEvents} cuts (${cuts} connections), ${restarts} restarts, heap ${heap} MiB`,
    );
  }
}
stop = true;
await within(load, 60_000);
await ledger.settled(60_000);
const seconds = elapsed() / 1000;
const idle = clients.map((client) => debugState(client));
const final = heapAfterGc();
heapSamples.push({ atS: Math.round(seconds), heapMiB: MiB(final) });

const figures = {
  ...ledger.figures(),
  seconds,
  jobsPerSecond: Math.round(ledger.submitted / seconds),
  payloadBytes: Buffer.byteLength(ledger.next().payload),
  cutEvents,
  connectionsCut: cuts,
  restarts,
  clientRetries: clients.reduce((sum, client) => sum + client.stats().retries, 0),
  heapBaselineMiB: baseline === undefined ? undefined : MiB(baseline),
  heapFinalMiB: MiB(final),
  heapGrowthMiB: baseline === undefined ? undefined : MiB(final - baseline),
  heapSlackMiB: MiB(slackBytes),
  heapSamples,
  clientsIdle: idle.every((state) => Object.values(state).every((value) => value === 0)),
};

await Promise.all(clients.map((client) => client.close()));
await Promise.all(workers.map((worker) => worker.close()));
await proxy.close();
await gearmand.stop();

const failures: string[] = [];
const check = (ok: boolean, what: string) => {
  if (!ok) failures.push(what);
};
check(ledger.samples.length === 0, `wrong results or untyped errors: ${ledger.samples.join('; ')}`);
check(ledger.pending === 0, `${ledger.pending} jobs pending after the deadline`);
check(ledger.resolved === ledger.submitted, `${ledger.resolved} of ${ledger.submitted} completed`);
check(ledger.rejectedTotal === 0, `rejections: ${JSON.stringify(figures.rejected)}`);
check(ledger.wrongResults === 0, `${ledger.wrongResults} results went to the wrong caller`);
check(baseline !== undefined, 'no heap baseline was taken');
check(
  baseline === undefined || final - baseline <= slackBytes,
  `heap grew ${figures.heapGrowthMiB} MiB from the baseline (allowed ${MiB(slackBytes)})`,
);
check(figures.clientsIdle, `clients not idle: ${JSON.stringify(idle)}`);
check(cuts > 0, 'no connection was cut');
check(restarts > 0 || restartEveryMs >= durationMs - 1_000, 'no restart happened');
report('soak', { ...figures, failures });
if (failures.length > 0) process.exitCode = 1;
