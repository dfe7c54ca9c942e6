/**
 * The shutdown scenarios of shutdown.int.test.ts, run in a process of their own under
 * `node --unhandled-rejections=strict`: any rejection the library leaves unhandled ends this
 * process with an error, and so does a handle left open (the process would not exit). Every
 * promise a caller gets is awaited here; JobRuns whose outcome nobody asks for are left alone
 * on purpose (the client documents that as safe). Prints one JSON line of figures.
 *
 * Run: TSX_TSCONFIG_PATH=test/tsconfig.json node --unhandled-rejections=strict --import tsx \
 *   test/chaos/shutdown-child.ts
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { type Client, createClient, isGearmanError } from '@gearmanode/client';
import { createWorker, type Job } from '@gearmanode/worker';
import { startGearmand } from '../gearmand.js';

const gearmand = await startGearmand();
const servers = [`${gearmand.host}:${gearmand.port}`];
const figures: Record<string, unknown> = { pid: process.pid };
const outcomes = new Map<string, number>();

/**
 * Counts the outcome of every promise per scenario (`resolved` or the error code) once all have
 * settled. Called as soon as the promises exist: a rejection nobody handles yet would be the
 * caller's unhandled rejection, not the library's.
 */
async function settle(scenario: string, promises: Promise<unknown>[]): Promise<void> {
  const results = await Promise.allSettled(promises);
  const counts: Record<string, number> = {};
  for (const result of results) {
    const key =
      result.status === 'fulfilled'
        ? 'resolved'
        : isGearmanError(result.reason)
          ? result.reason.code
          : 'untyped';
    counts[key] = (counts[key] ?? 0) + 1;
    outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
  }
  figures[scenario] = counts;
}

/** A promise to open later (Promise.withResolvers needs Node 22). */
function newGate(): { opened: Promise<void>; open: () => void } {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { opened, open };
}

const submitMany = (client: Client, name: string, count: number) =>
  Array.from({ length: count }, (_, i) => client.submit(name, `${i}`));

// A worker for 'fast' (5 ms) and 'slow' (50 ms) jobs.
const worker = await createWorker({ servers, functions: ['fast', 'slow'], concurrency: 32 });
void worker.process(async (job: Job) => {
  await sleep(job.name === 'fast' ? 5 : 50);
  return job.payload;
});

// 1. close() with 1,000 submits pending (100 sent, 900 waiting in the client): all complete.
{
  const client = await createClient({ servers, maxInFlight: 100 });
  const settled = settle('closeWaits', submitMany(client, 'fast', 1_000));
  await client.close();
  await settled;
}

// 2. close({ timeout }) that runs out: the rest reject with ClosedError by the time it returns.
{
  const client = await createClient({ servers, maxInFlight: 100 });
  const settled = settle('closeTimesOut', submitMany(client, 'slow', 1_000));
  await client.close({ timeout: 200 });
  await settled;
}

// 3. destroy() with submits and JobRuns in flight; nobody asks the runs for their outcome.
{
  const client = await createClient({ servers });
  const settled = settle('destroy', submitMany(client, 'slow', 500));
  for (let i = 0; i < 500; i++) client.start('slow', `${i}`);
  await sleep(20);
  client.destroy(new Error('shutting down'));
  await settled;
}

// 4. A worker closing with 32 jobs in flight delivers all 32 results.
{
  const gate = newGate();
  const held = await createWorker({ servers, functions: ['held'], concurrency: 32 });
  let running = 0;
  void held.process(async (job) => {
    running++;
    await gate.opened;
    return job.payload;
  });
  const client = await createClient({ servers });
  const settled = settle('workerClose', submitMany(client, 'held', 32));
  while (running < 32) await sleep(5);
  const closing = held.close({ timeout: 10_000 });
  await sleep(50);
  gate.open();
  await closing;
  await settled;
  figures.workerCloseStats = {
    completed: held.stats().completed,
    abandoned: held.stats().abandoned,
  };
  await client.close();
}

// 5. A worker destroyed with jobs in flight; the handlers settle afterwards (sent nowhere).
{
  const gate = newGate();
  const doomed = await createWorker({ servers, functions: ['doomed'], concurrency: 8 });
  let running = 0;
  void doomed.process(async (job) => {
    running++;
    await gate.opened;
    await job.status(1, 2);
    return job.payload;
  });
  const client = await createClient({ servers });
  const settled = settle('workerDestroy', submitMany(client, 'doomed', 8));
  while (running < 8) await sleep(5);
  doomed.destroy();
  gate.open();
  await sleep(20);
  // gearmand re-queues the jobs, and nobody runs them: the client gives up waiting.
  await client.close({ timeout: 100 });
  await settled;
}

// 6. gearmand SIGKILLed under load, with and without retry, then restarted.
{
  const plain = await createClient({ servers });
  const retrying = await createClient({ servers, retry: { retries: 50, maxTimeout: 200 } });
  const settled = settle('serverKilled', [
    ...submitMany(plain, 'slow', 300),
    ...Array.from({ length: 300 }, (_, i) =>
      retrying.submit('slow', `${i}`, { unique: `kill-${i}` }),
    ),
  ]);
  await sleep(100);
  await gearmand.kill();
  await sleep(200);
  await gearmand.restart();
  await settled;
  await Promise.all([plain.close(), retrying.close()]);
}

await worker.close();
await gearmand.stop();
figures.outcomes = Object.fromEntries(outcomes);
console.log(JSON.stringify(figures));
// No process.exit(): the process must end by itself, with nothing left open.
