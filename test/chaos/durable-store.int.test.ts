import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient, isGearmanError } from '@gearmanode/client';
import { createWorker } from '@gearmanode/worker';
import { afterEach, expect, test } from 'vitest';
import { expectIdle } from '../../packages/client/test/support/idle.js';
import { hasNodeSqlite } from '../../packages/server/test/node-sqlite.js';
import { uniqueName, waitFor } from '../helpers.js';
import { checkLeaksAfterEach } from '../leak-check.js';
import { startEmbeddedProcess } from './embedded-process.js';
import { adminFor, report, workerHeld } from './support.js';

// Registered before the cleanup hook, so that it runs after it (after-hooks run in reverse).
checkLeaksAfterEach();

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const close of cleanup.splice(0).reverse()) await close();
});

const JOBS = 10_000;
// Not a multiple of the client's 1,000 submits in flight: the kill is sent in the middle of
// reading a window of replies.
const KILL_AFTER = 4_321;

// The store needs node:sqlite (Node.js 22.13 or later); on Node 20 the server refuses it.
test.skipIf(!hasNodeSqlite)(
  'with --store sqlite, every background job acknowledged before a SIGKILL of our server runs after the restart',
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'chaos-store-'));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const server = await startEmbeddedProcess(['--store', `sqlite:${join(dir, 'queue.sqlite')}`]);
    cleanup.push(() => server.stop());
    const servers = [`${server.host}:${server.port}`];
    const name = uniqueName('chaos-store');

    // No worker yet: every job stays queued. The server is SIGKILLed while submits are in
    // flight. No uniques: our client gives background jobs a random one.
    const client = await createClient({ servers, reconnect: false });
    cleanup.push(() => client.destroy());
    const acknowledged = new Set<number>();
    const rejected = new Map<string, number>();
    let killing: Promise<void> | undefined;
    const submits = Array.from({ length: JOBS }, (_, id) =>
      client.submitBackground(name, `job:${id}`).then(
        () => {
          acknowledged.add(id);
          if (acknowledged.size === KILL_AFTER) killing = server.kill();
        },
        (error: unknown) => {
          const code = isGearmanError(error) ? error.code : `untyped: ${error}`;
          rejected.set(code, (rejected.get(code) ?? 0) + 1);
        },
      ),
    );
    await Promise.all(submits);
    await waitFor(() => killing !== undefined, { what: 'the kill' });
    await killing;
    await client.close();
    await expectIdle(client);

    await server.restart();
    const admin = await adminFor(server);
    cleanup.push(() => admin.close());
    const queuedAfterRestart =
      (await admin.status()).find((row) => row.functionName === name)?.total ?? 0;

    const runsOf = new Map<number, number>();
    let runs = 0;
    const worker = await createWorker({ servers, functions: [name], concurrency: 16 });
    cleanup.push(() => worker.destroy());
    void worker.process((job) => {
      runs++;
      const id = Number(job.payload.toString().slice('job:'.length));
      runsOf.set(id, (runsOf.get(id) ?? 0) + 1);
    });
    await waitFor(() => [...acknowledged].every((id) => runsOf.has(id)), {
      timeout: 30_000,
      what: 'every acknowledged job ran',
    }).catch(() => undefined); // the assertion below says which ones did not
    // Let the rest of the queue drain too, so that runs beyond the acknowledged ones count.
    await waitFor(
      async () =>
        ((await admin.status()).find((row) => row.functionName === name)?.total ?? 0) === 0,
      { timeout: 30_000, what: 'the queue drained' },
    );
    await worker.close();
    expect(workerHeld(worker)).toEqual({ inFlight: 0, buffered: 0, jobs: 0 });

    const missing = [...acknowledged].filter((id) => !runsOf.has(id));
    const duplicates = [...runsOf.values()].filter((count) => count > 1).length;
    report('store-durability', {
      submitted: JOBS,
      acknowledgedBeforeKill: acknowledged.size,
      rejected: Object.fromEntries(rejected),
      queuedAfterRestart,
      ranAfterRestart: runsOf.size,
      runs,
      duplicates,
      acknowledgedMissing: missing.length,
      ranUnacknowledged: [...runsOf.keys()].filter((id) => !acknowledged.has(id)).length,
    });
    expect(acknowledged.size).toBeGreaterThanOrEqual(KILL_AFTER);
    expect(acknowledged.size).toBeLessThan(JOBS); // the kill did cut the run short
    expect([...rejected.keys()]).toEqual(['ERR_CONNECTION']);
    expect(acknowledged.size + [...rejected.values()].reduce((a, b) => a + b, 0)).toBe(JOBS);
    expect(missing).toEqual([]);
    // Nothing ran twice: no worker had a job before the kill.
    expect(duplicates).toBe(0);
    expect(runs).toBe(runsOf.size);
  },
);
