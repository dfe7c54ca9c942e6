import { mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createAdmin, createClient } from '@gearmanode/client';
import { Connection } from '@gearmanode/core';
import { createServer, type GearmanServer } from '@gearmanode/server';
import { createWorker } from '@gearmanode/worker';
import { afterEach, describe, expect, test } from 'vitest';
import { type GearmandInstance, startGearmand } from '../../../test/gearmand.js';
import { uniqueName, waitFor } from '../../../test/helpers.js';
import { hasNodeSqlite } from './node-sqlite.js';

/**
 * The durable store (`store: 'sqlite:PATH'`): gearmand 1.1.20's libsqlite3 queue file, taken
 * over in both directions, and the errors at start. Always in-process, whatever the target.
 */

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const close of cleanup.splice(0).reverse()) await close();
});

function tempFile(): string {
  const dir = mkdtempSync(join(tmpdir(), 'gearmanode-store-'));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  return join(dir, 'queue.sqlite');
}

async function ours(path: string): Promise<GearmanServer> {
  const server = await createServer({ port: 0, store: `sqlite:${path}` });
  cleanup.push(() => server.close());
  return server;
}

async function theirs(path: string): Promise<GearmandInstance> {
  const gearmand = await startGearmand({ args: ['-q', 'libsqlite3', '--libsqlite3-db', path] });
  cleanup.push(() => gearmand.stop());
  return gearmand;
}

type Address = { host: string; port: number };
const serverOf = ({ host, port }: Address) => `${host}:${port}`;

const PRIORITIES = ['low', 'normal', 'high'] as const;

/**
 * Submits 3 background jobs per priority, lowest first, and one epoch job an hour ahead for
 * `<name>-later` (a function of its own: in gearmand 1.1.20 a not-yet-due epoch job alone in
 * the normal queue holds back the low queue, protocol.md section 11, item 26).
 */
async function queueJobs(at: Address, name: string): Promise<void> {
  const client = await createClient({ servers: [serverOf(at)] });
  try {
    for (let i = 0; i < 9; i++) {
      const priority = PRIORITIES[i % 3] ?? 'normal';
      await client.submitBackground(name, `${priority}:${i}`, { priority, unique: `${name}:${i}` });
    }
  } finally {
    await client.close();
  }
  const connection = new Connection({ address: at });
  try {
    const reply = await connection.requestAsync({
      type: 'SUBMIT_JOB_EPOCH',
      functionName: `${name}-later`,
      unique: `${name}:later`,
      runAt: Math.floor(Date.now() / 1000) + 3600,
      payload: 'later',
    });
    expect(reply.type).toBe('JOB_CREATED');
  } finally {
    await connection.close();
  }
}

/** Runs the queue of `name` with one job at a time; resolves with the payloads in run order. */
async function drain(at: Address, name: string, count: number): Promise<string[]> {
  const ran: string[] = [];
  const worker = await createWorker({ servers: [serverOf(at)], functions: [name], concurrency: 1 });
  try {
    void worker.process((job) => {
      ran.push(job.payload.toString());
    });
    await waitFor(() => ran.length >= count, { timeout: 10_000, what: `${count} jobs ran` });
  } finally {
    await worker.close();
  }
  return ran;
}

// The order either server hands the nine jobs out in: by priority, then as submitted.
const EXPECTED_ORDER = [
  'high:2',
  'high:5',
  'high:8',
  'normal:1',
  'normal:4',
  'normal:7',
  'low:0',
  'low:3',
  'low:6',
];

async function queuedCount(at: Address, name: string): Promise<number> {
  const admin = await createAdmin({ server: serverOf(at), timeout: 5_000 });
  try {
    return (await admin.status()).find((row) => row.functionName === name)?.total ?? 0;
  } finally {
    await admin.close();
  }
}

// node:sqlite is unflagged from Node.js 22.13; on Node 20 the store is refused (tested below).
describe.skipIf(!hasNodeSqlite)('a store gearmand can read and write', () => {
  test('jobs gearmand queued run on our server, by priority and in order; epoch jobs wait', async () => {
    const path = tempFile();
    const name = uniqueName('store-from-gearmand');
    const gearmand = await theirs(path);
    await queueJobs(gearmand, name);
    await gearmand.stop();

    const server = await ours(path);
    expect(await queuedCount(server.address, name)).toBe(9);
    expect(await queuedCount(server.address, `${name}-later`)).toBe(1);
    expect(await drain(server.address, name, 9)).toEqual(EXPECTED_ORDER);
    await server.close();

    // The epoch job is still waiting for its time, and still on disk; the others are gone.
    const again = await ours(path);
    expect(await queuedCount(again.address, name)).toBe(0);
    expect(await queuedCount(again.address, `${name}-later`)).toBe(1);
  });

  test('jobs our server queued run on gearmand, by priority and in order; epoch jobs wait', async () => {
    const path = tempFile();
    const name = uniqueName('store-to-gearmand');
    const server = await ours(path);
    await queueJobs(server.address, name);
    await server.close();

    const gearmand = await theirs(path);
    expect(await queuedCount(gearmand, name)).toBe(9);
    expect(await queuedCount(gearmand, `${name}-later`)).toBe(1);
    expect(await drain(gearmand, name, 9)).toEqual(EXPECTED_ORDER);
    await gearmand.stop();

    const again = await ours(path);
    expect(await queuedCount(again.address, name)).toBe(0);
    expect(await queuedCount(again.address, `${name}-later`)).toBe(1);
  });

  test('a finished or cancelled job leaves the store; foreground jobs never enter it', async () => {
    const path = tempFile();
    const name = uniqueName('store-done');
    const server = await ours(path);
    const client = await createClient({ servers: [serverOf(server.address)] });
    cleanup.push(() => client.close());
    const admin = await createAdmin({ server: serverOf(server.address), timeout: 5_000 });
    cleanup.push(() => admin.close());
    const kept = await client.submitBackground(name, 'kept');
    const cancelled = await client.submitBackground(name, 'cancelled');
    const done = await client.submitBackground(name, 'done');
    // A foreground job, still queued when the server closes.
    const foreground = client.submit(name, 'foreground').catch(() => 'lost');
    await waitFor(async () => (await admin.showJobs()).length === 4, { what: 'four jobs' });
    const persisted = Object.fromEntries(
      (await admin.showJobs()).map((row) => [row.handle, row.persisted]),
    );
    expect([persisted[kept], persisted[cancelled], persisted[done]]).toEqual([true, true, true]);
    expect(Object.values(persisted).filter((value) => !value)).toHaveLength(1);
    await admin.cancelJob(cancelled);
    const worker = await createWorker({ servers: [serverOf(server.address)], functions: [name] });
    cleanup.push(() => worker.destroy());
    let ran = 0;
    void worker.process((job) => {
      ran++;
      if (job.handle === kept) throw new Error('not this one');
    });
    await waitFor(() => ran === 3, { what: 'the jobs ran' });
    await worker.close();
    await client.close();
    await foreground;
    await server.close();

    // `kept` failed: it left the store too. Nothing is left.
    const again = await ours(path);
    expect(await queuedCount(again.address, name)).toBe(0);
    expect(done).not.toBe(kept);
  });
});

describe.skipIf(!hasNodeSqlite)('a store that cannot be used is an error at start', () => {
  test('a file that is not SQLite: StoreError UNREADABLE, the file untouched', async () => {
    const path = tempFile();
    writeFileSync(path, 'not a database '.repeat(200));
    await expect(createServer({ port: 0, store: `sqlite:${path}` })).rejects.toMatchObject({
      code: 'ERR_STORE',
      reason: 'UNREADABLE',
      message: expect.stringContaining('not a database'),
    });
  });

  test('a torn file: StoreError UNREADABLE, not an empty queue', async () => {
    const path = tempFile();
    const name = uniqueName('store-torn');
    const server = await ours(path);
    const client = await createClient({ servers: [serverOf(server.address)] });
    cleanup.push(() => client.close());
    const payload = 'x'.repeat(2000);
    await Promise.all(Array.from({ length: 200 }, () => client.submitBackground(name, payload)));
    await client.close();
    await server.close();
    truncateSync(path, 40_000); // most of the table's pages are gone
    await expect(createServer({ port: 0, store: `sqlite:${path}` })).rejects.toMatchObject({
      code: 'ERR_STORE',
      reason: 'UNREADABLE',
    });
  });

  test('a file another server holds: StoreError UNREADABLE, the file locked', async () => {
    const path = tempFile();
    await ours(path);
    await expect(createServer({ port: 0, store: `sqlite:${path}` })).rejects.toMatchObject({
      code: 'ERR_STORE',
      reason: 'UNREADABLE',
      message: expect.stringContaining('locked'),
    });
  });

  test('a table of another shape: StoreError FOREIGN', async () => {
    const path = tempFile();
    const { DatabaseSync } = (await import('node:sqlite' as string)) as {
      DatabaseSync: new (path: string) => { exec(sql: string): void; close(): void };
    };
    const db = new DatabaseSync(path);
    db.exec('CREATE TABLE gearman_queue (id INTEGER PRIMARY KEY, body TEXT)');
    db.close();
    await expect(createServer({ port: 0, store: `sqlite:${path}` })).rejects.toMatchObject({
      code: 'ERR_STORE',
      reason: 'FOREIGN',
      message: expect.stringContaining('unique_key'),
    });
  });

  test('a row of another shape: StoreError FOREIGN naming the row', async () => {
    const path = tempFile();
    const { DatabaseSync } = (await import('node:sqlite' as string)) as {
      DatabaseSync: new (path: string) => { exec(sql: string): void; close(): void };
    };
    const db = new DatabaseSync(path);
    db.exec(
      'CREATE TABLE gearman_queue ( unique_key TEXT, function_name TEXT, priority INTEGER, data BLOB, when_to_run INTEGER, PRIMARY KEY (unique_key, function_name))',
    );
    db.exec("INSERT INTO gearman_queue VALUES ('u', 'f', 7, x'00', 0)");
    db.close();
    await expect(createServer({ port: 0, store: `sqlite:${path}` })).rejects.toMatchObject({
      code: 'ERR_STORE',
      reason: 'FOREIGN',
      message: expect.stringContaining('row 1'),
    });
  });
});

// The opposite case: this Node.js has no node:sqlite (Node 20), so only the refusal is testable.
test.skipIf(hasNodeSqlite)(
  'without node:sqlite, a store is refused with the Node.js version needed',
  async () => {
    await expect(createServer({ port: 0, store: `sqlite:${tempFile()}` })).rejects.toMatchObject({
      code: 'ERR_STORE',
      reason: 'UNSUPPORTED_RUNTIME',
      message: expect.stringContaining('Node.js 22.13 or later'),
    });
    // The rest of the server works.
    const server = await createServer({ port: 0 });
    await server.close();
    expect(server.state).toBe('closed');
  },
);

test('store must be sqlite:PATH', async () => {
  await expect(createServer({ port: 0, store: 'mysql://x' })).rejects.toMatchObject({
    code: 'ERR_INVALID_ARGUMENT',
    field: 'store',
  });
  await expect(
    createServer({ port: 0, store: 'sqlite:/tmp/x', storeTable: 'x; DROP TABLE y' }),
  ).rejects.toMatchObject({ code: 'ERR_INVALID_ARGUMENT', field: 'storeTable' });
});
