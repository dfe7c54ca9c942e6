import { type Admin, createAdmin, createClient } from '@gearmanode/client';
import { createServer } from '@gearmanode/server';
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest';
import { startGearmand } from '../../../test/gearmand.js';
import { uniqueName, waitFor } from '../../../test/helpers.js';
import { expectIdle } from './support/idle.js';
import { scripts, startTestWorker } from './support/workers.js';

const gearman = inject('gearman');
const server = `${gearman.host}:${gearman.port}`;
let admin: Admin;

beforeAll(async () => {
  admin = await createAdmin({ server, timeout: 5000 });
});
afterAll(async () => {
  await admin.close();
});

describe('admin against gearmand', () => {
  test('version, getpid and verbose', async () => {
    const version = await admin.version();
    expect(version.version).toMatch(/^\d+\.\d+/);
    expect(version.raw.startsWith(version.version)).toBe(true);
    expect(await admin.getPid()).toBeGreaterThan(0);
    expect(await admin.verbose()).toMatch(/^[A-Z]+$/);
  });

  test('getpid is the pid of the server process', async () => {
    const own = await startGearmand();
    try {
      await using ownAdmin = await createAdmin({ server: { host: own.host, port: own.port } });
      expect(await ownAdmin.getPid()).toBe(own.pid);
    } finally {
      await own.stop();
    }
  });

  test('status, prioritystatus, show jobs, show unique jobs and cancel job', async () => {
    const name = uniqueName('admin');
    const client = await createClient({ servers: [server] });
    const unique = uniqueName('u');
    const handle = await client.submitBackground(name, 'x', { unique, priority: 'high' });
    await client.submitBackground(name, 'y', { priority: 'low' });
    await client.submitBackground(name, 'z');

    const status = (await admin.status()).find((row) => row.functionName === name);
    expect(status).toEqual({
      functionName: name,
      queued: 3,
      running: 0,
      total: 3,
      availableWorkers: 0,
    });
    const priority = (await admin.priorityStatus()).find((row) => row.functionName === name);
    expect(priority).toEqual({
      functionName: name,
      high: 1,
      normal: 1,
      low: 1,
      availableWorkers: 0,
    });
    const jobs = await admin.showJobs();
    // Background jobs are handed to the queue backend (persisted).
    expect(jobs).toContainEqual({ handle, retries: 0, ignored: false, persisted: true });
    expect(await admin.showUniqueJobs()).toContain(unique);

    await admin.cancelJob(handle);
    await expect(admin.cancelJob('H:nothing:1')).rejects.toMatchObject({
      code: 'ERR_ADMIN',
      adminCode: 'UNKNOWN_JOB',
    });

    // Drain the queue so the shared server is left clean.
    const worker = await startTestWorker({ ...gearman, functions: { [name]: scripts.echo } });
    await waitFor(async () => {
      const row = (await admin.status()).find((r) => r.functionName === name);
      return row !== undefined && row.total === 0;
    });
    await worker.close();
    await expectIdle(client);
    await client.close();
  });

  test('workers lists connections with their functions and client ids', async () => {
    const name = uniqueName('listed');
    const worker = await startTestWorker({ ...gearman, functions: { [name]: scripts.echo } });
    const clientId = uniqueName('cid');
    const client = await createClient({ servers: [server], clientId });
    await client.echo();
    try {
      await waitFor(async () => {
        const workers = await admin.workers();
        return (
          workers.some((w) => w.functions.includes(name)) &&
          workers.some((w) => w.clientId === clientId)
        );
      });
      const rows = await admin.workers();
      const row = rows.find((w) => w.functions.includes(name));
      expect(row).toMatchObject({ ip: expect.any(String), functions: [name] });
      expect(typeof row?.fd).toBe('number');
    } finally {
      await worker.close();
      await client.close();
    }
  });

  test('create function, maxqueue (refusing submits with QUEUE_ERROR), drop function', async () => {
    const name = uniqueName('limited');
    await admin.createFunction(name);
    expect((await admin.status()).map((row) => row.functionName)).toContain(name);
    await admin.maxQueue(name, 1);
    const client = await createClient({ servers: [server] });
    try {
      await client.submitBackground(name, 'first');
      await expect(client.submitBackground(name, 'second')).rejects.toMatchObject({
        code: 'ERR_SERVER',
        serverCode: 'QUEUE_ERROR',
      });
      await admin.maxQueue(name, { high: 0, normal: 0, low: 0 });
      await admin.maxQueue(name);
      await client.submitBackground(name, 'now fine');
      // Drain before dropping: drop function orphans queued jobs (protocol.md 11, item 32).
      const worker = await startTestWorker({ ...gearman, functions: { [name]: scripts.echo } });
      await waitFor(async () => {
        const row = (await admin.status()).find((r) => r.functionName === name);
        return row?.total === 0;
      });
      await expect(admin.dropFunction(name)).rejects.toMatchObject({
        adminCode: 'FUNCTION_HAS_WORKERS',
      });
      await worker.close();
      await waitFor(async () => {
        const row = (await admin.status()).find((r) => r.functionName === name);
        return row?.availableWorkers === 0;
      });
      await admin.dropFunction(name);
      await expect(admin.dropFunction(name)).rejects.toMatchObject({
        adminCode: 'FUNCTION_NOT_FOUND',
      });
      await expectIdle(client);
    } finally {
      await client.close();
    }
  });

  // Both run on a private server: on the embedded one `shutdown` works, and would stop the
  // server every other test file of the run shares.
  test('shutdown is an unknown command in gearmand 1.1.20', async () => {
    const own = await startGearmand();
    try {
      await using ownAdmin = await createAdmin({ server: { host: own.host, port: own.port } });
      await expect(ownAdmin.shutdown()).rejects.toMatchObject({
        code: 'ERR_ADMIN',
        adminCode: 'UNKNOWN_COMMAND',
      });
      await expect(ownAdmin.shutdown({ graceful: true })).rejects.toMatchObject({
        code: 'ERR_ADMIN',
      });
      // The connection is still in step after errors.
      expect(await ownAdmin.getPid()).toBe(own.pid);
    } finally {
      await own.stop();
    }
  });

  test('shutdown stops the embedded server', async () => {
    const own = await createServer({ port: 0 });
    await using ownAdmin = await createAdmin({ server: own.address, reconnect: false });
    await ownAdmin.shutdown();
    expect(await own.closed).toBeUndefined();
    expect(own.state).toBe('closed');
  });

  test('commands are pipelined and answered in order', async () => {
    const [pid, version, verbose, status] = await Promise.all([
      admin.getPid(),
      admin.version(),
      admin.verbose(),
      admin.status(),
    ]);
    expect(pid).toBeGreaterThan(0);
    expect(version.raw).toMatch(/^\d/);
    expect(typeof verbose).toBe('string');
    expect(Array.isArray(status)).toBe(true);
  });

  test('a name the text protocol cannot carry is refused before sending', async () => {
    await expect(admin.createFunction('two words')).rejects.toMatchObject({
      code: 'ERR_INVALID_ARGUMENT',
    });
  });
});
