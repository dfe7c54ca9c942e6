import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient, isGearmanError } from '@gearmanode/client';
import { Connection } from '@gearmanode/core';
import { createWorker } from '@gearmanode/worker';
import { afterEach, expect, test } from 'vitest';
import { expectIdle } from '../../packages/client/test/support/idle.js';
import { startGearmand } from '../gearmand.js';
import { uniqueName, waitFor } from '../helpers.js';
import { checkLeaksAfterEach } from '../leak-check.js';
import { adminFor, report, workerHeld } from './support.js';

// Registered before the cleanup hook, so that it runs after it (after-hooks run in reverse).
checkLeaksAfterEach();

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const close of cleanup.splice(0).reverse()) await close();
});

const JOBS = 4_000;
const KILL_AFTER = 2_000;

test('with the sqlite queue, every background job acknowledged before a SIGKILL runs after the restart', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'chaos-sqlite-'));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  const gearmand = await startGearmand({
    args: ['-q', 'libsqlite3', '--libsqlite3-db', join(dir, 'queue.sqlite')],
  });
  cleanup.push(() => gearmand.stop());
  const servers = [`${gearmand.host}:${gearmand.port}`];
  const name = uniqueName('chaos-durable');

  // No worker yet: every job stays queued. gearmand is SIGKILLed while submits are in flight.
  // gearmand's sqlite queue commits each job on its own (about 1,000 a second here, far fewer on
  // a busy machine): a long reply deadline keeps this test about durability, not about timeouts.
  const client = await createClient({ servers, reconnect: false, requestTimeout: 60_000 });
  cleanup.push(() => client.destroy());
  const acknowledged = new Set<number>();
  const rejected = new Map<string, number>();
  let killing: Promise<void> | undefined;
  // Each with a unique: gearmand's sqlite queue keys its rows by (unique, function), so
  // background jobs without one overwrite each other there (see the next test).
  const submits = Array.from({ length: JOBS }, (_, id) =>
    client.submitBackground(name, `job:${id}`, { unique: `${name}:${id}` }).then(
      () => {
        acknowledged.add(id);
        if (acknowledged.size === KILL_AFTER) killing = gearmand.kill();
      },
      (error: unknown) => {
        const code = isGearmanError(error) ? error.code : `untyped: ${error}`;
        rejected.set(code, (rejected.get(code) ?? 0) + 1);
      },
    ),
  );
  await Promise.all(submits);
  await waitFor(() => killing !== undefined, {
    what: `the kill (acknowledged ${acknowledged.size}, rejected ${JSON.stringify([...rejected])})`,
  });
  await killing;
  await client.close();
  await expectIdle(client);

  await gearmand.restart();
  const admin = await adminFor(gearmand);
  cleanup.push(() => admin.close());
  const queuedAfterRestart =
    (await admin.status()).find((row) => row.functionName === name)?.queued ?? 0;

  const ran = new Set<number>();
  let runs = 0;
  const worker = await createWorker({ servers, functions: [name], concurrency: 16 });
  cleanup.push(() => worker.destroy());
  void worker.process((job) => {
    runs++;
    ran.add(Number(job.payload.toString().slice('job:'.length)));
  });
  await waitFor(() => [...acknowledged].every((id) => ran.has(id)), {
    timeout: 20_000,
    what: 'every acknowledged job ran',
  }).catch(() => undefined); // the assertion below says which ones did not
  // Let the rest of the queue drain too, so that runs beyond the acknowledged ones are counted.
  await waitFor(
    async () =>
      ((await admin.status()).find((row) => row.functionName === name)?.queued ?? 0) === 0,
    { timeout: 20_000, what: 'the queue drained' },
  );
  await worker.close();
  expect(workerHeld(worker)).toEqual({ inFlight: 0, buffered: 0, jobs: 0 });

  const missing = [...acknowledged].filter((id) => !ran.has(id));
  report('background-durability', {
    submitted: JOBS,
    acknowledgedBeforeKill: acknowledged.size,
    rejected: Object.fromEntries(rejected),
    queuedAfterRestart,
    ranAfterRestart: ran.size,
    runs,
    acknowledgedMissing: missing.length,
    ranUnacknowledged: [...ran].filter((id) => !acknowledged.has(id)).length,
  });
  expect(acknowledged.size).toBeGreaterThanOrEqual(KILL_AFTER);
  expect(acknowledged.size).toBeLessThan(JOBS); // the kill did cut the run short
  expect([...rejected.keys()]).toEqual(['ERR_CONNECTION']);
  expect(acknowledged.size + [...rejected.values()].reduce((a, b) => a + b, 0)).toBe(JOBS);
  expect(missing).toEqual([]);
});

// gearmand 1.1.20's sqlite queue keys its rows by (unique, function) and writes them with
// INSERT OR REPLACE, so background jobs with an empty unique overwrite each other. Our client
// therefore sends a random unique for background jobs that have none; raw packets show why.
test('background jobs without a unique survive a SIGKILL too; raw ones with an empty unique do not', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'chaos-sqlite-'));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  const gearmand = await startGearmand({
    args: ['-q', 'libsqlite3', '--libsqlite3-db', join(dir, 'queue.sqlite')],
  });
  cleanup.push(() => gearmand.stop());
  const ours = uniqueName('chaos-nounique');
  const raw = uniqueName('chaos-rawempty');
  const client = await createClient({ servers: [`${gearmand.host}:${gearmand.port}`] });
  cleanup.push(() => client.destroy());
  for (let id = 0; id < 20; id++) await client.submitBackground(ours, `job:${id}`);
  await client.close();
  await expectIdle(client);
  const connection = new Connection({ address: { host: gearmand.host, port: gearmand.port } });
  cleanup.push(() => connection.destroy());
  for (let id = 0; id < 20; id++) {
    const reply = await connection.requestAsync({
      type: 'SUBMIT_JOB_BG',
      functionName: raw,
      unique: '',
      payload: `job:${id}`,
    });
    expect(reply.type).toBe('JOB_CREATED');
  }
  await connection.close();
  await gearmand.kill();
  await gearmand.restart();
  const admin = await adminFor(gearmand);
  cleanup.push(() => admin.close());
  const status = await admin.status();
  const queued = (name: string): number =>
    status.find((row) => row.functionName === name)?.queued ?? 0;
  report('background-durability-without-unique', {
    acknowledged: 20,
    oursQueuedAfterRestart: queued(ours),
    rawEmptyUniqueQueuedAfterRestart: queued(raw),
  });
  expect(queued(ours)).toBe(20);
  // If this fails, gearmand has fixed the overwrite: drop the hazard from the docs.
  expect(queued(raw)).toBe(1);
});
