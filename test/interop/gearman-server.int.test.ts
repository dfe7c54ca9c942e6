/**
 * Perl's Gearman::Server 1.130 (Debian's gearman-server, also on CPAN): what the interop table
 * (interop.int.test.ts, which runs every scenario on it too) does not cover.
 *
 * What it lacks: GRAB_JOB_UNIQ, GRAB_JOB_ALL, WORK_DATA, WORK_WARNING, the low priority and
 * high background submits, SUBMIT_JOB_EPOCH, SUBMIT_REDUCE_JOB and GET_STATUS_UNIQUE; it answers
 * each with ERROR `server_error`, which our client reports as a typed ServerError. Its
 * WORK_EXCEPTION is not terminal (its own Perl worker sends WORK_FAIL after it). The jobs run on
 * Perl's Gearman::Worker, which grabs with GRAB_JOB.
 */
import { createClient, type GearmanError } from '@gearmanode/client';
import { Connection } from '@gearmanode/core';
import type { Packet } from '@gearmanode/protocol';
import { afterAll, afterEach, beforeAll, describe, expect, inject, test } from 'vitest';
import { startGearmanServer } from '../gearman-server.js';
import type { GearmandInstance } from '../gearmand.js';
import { uniqueName } from '../helpers.js';
import {
  address,
  cleanup,
  defer,
  ourClient,
  ourWorker,
  perlWorker,
  type Server,
  waitForWorkers,
} from './support.js';

let perlServer: GearmandInstance;
let server: Server;

beforeAll(async () => {
  perlServer = await startGearmanServer();
  server = { host: perlServer.host, port: perlServer.port };
});
afterAll(() => perlServer?.stop());
afterEach(cleanup);

async function rejection(promise: Promise<unknown>): Promise<GearmanError> {
  try {
    await promise;
  } catch (error) {
    return error as GearmanError;
  }
  throw new Error('expected a rejection');
}

/** A Perl Gearman::Worker for a fresh function, registered by the time this resolves. */
async function perlWorkerFor(prefix: string, mode: string): Promise<string> {
  const fn = uniqueName(prefix);
  perlWorker(server, { function: fn, mode });
  await waitForWorkers(server, fn);
  return fn;
}

describe('our client → Gearman::Server → Perl Gearman::Worker', () => {
  test('start(): status events reach the caller, then the result', async () => {
    // Not WORK_DATA or WORK_WARNING: Gearman::Server refuses them (see the connection test
    // below), and Gearman::Worker then sometimes fails the job itself.
    const fn = await perlWorkerFor('gs-progress', 'status');
    const client = await ourClient(server);
    const run = client.start(fn, 'p', { encoding: 'utf8' });
    const events = [];
    for await (const event of run) events.push(event);
    expect(await run.result()).toBe('done:p');
    expect(events).toEqual([
      { type: 'created', handle: expect.stringMatching(/^H:/) },
      { type: 'status', numerator: 1, denominator: 2 },
      { type: 'status', numerator: 2, denominator: 2 },
    ]);
  });

  test('a background job runs; getStatus() and echo() answer', async () => {
    const fn = uniqueName('gs-bg');
    const client = await ourClient(server);
    const handle = await client.submitBackground(fn, 'later');
    expect(handle).toMatch(/^H:/);
    // No worker yet: the job waits, known and not running.
    expect(await client.getStatus(handle)).toMatchObject({ known: true, running: false });
    const worker = perlWorker(server, { function: fn, mode: 'echo', count: 1 });
    await worker.waitForEvent('job');
    expect((await client.echo('ping')).toString()).toBe('ping');
  });

  test('setClientId() is accepted', async () => {
    const fn = await perlWorkerFor('gs-id', 'echo');
    const client = await ourClient(server);
    client.setClientId('interop-client');
    expect(String(await client.submit(fn, 'still works'))).toBe('still works');
  });

  test('requests it lacks reject with a typed ERR_SERVER, and the connection stays usable', async () => {
    const fn = await perlWorkerFor('gs-lacks', 'echo');
    const client = await ourClient(server);
    const lacking: [string, Promise<unknown>][] = [
      ['low priority', client.submit(fn, 'x', { priority: 'low' })],
      ['low background', client.submitBackground(fn, 'x', { priority: 'low' })],
      ['high background', client.submitBackground(fn, 'x', { priority: 'high' })],
      ['epoch', client.submitBackground(fn, 'x', { at: new Date() })],
      ['reduce', client.submit(fn, 'x', { reducer: 'sum' })],
      ['status by unique', client.getStatus({ unique: 'u' })],
    ];
    for (const [what, request] of lacking) {
      const error = await rejection(request);
      expect({
        what,
        code: error.code,
        serverCode: (error as { serverCode?: string }).serverCode,
      }).toEqual({ what, code: 'ERR_SERVER', serverCode: 'server_error' });
    }
    expect(String(await client.submit(fn, 'after'))).toBe('after');
    expect(client.stats().servers[0]).toMatchObject({ state: 'ready', down: false });
  });

  test('beside gearmand in one client, both servers take jobs', async () => {
    const fn = await perlWorkerFor('gs-pair', 'reverse');
    const gearmand = perlWorker(gearmandServer(), { function: fn, mode: 'reverse' });
    defer(() => gearmand.kill());
    await waitForWorkers(gearmandServer(), fn);
    const client = await createClient({
      servers: [address(server), address(gearmandServer())],
    });
    defer(() => client.close({ timeout: 1_000 }));
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => client.submit(fn, `job${i}`)),
    );
    expect(results.map(String)).toEqual(
      Array.from({ length: 20 }, (_, i) => [...`job${i}`].reverse().join('')),
    );
    const pending = client.stats().servers.map((s) => s.pendingRequests);
    expect(pending).toEqual([0, 0]);
  });
});

describe('a connection on Gearman::Server', () => {
  test('refused WORK_DATA, WORK_WARNING and WORK_STATUS leave the replies of requests in order', async () => {
    const stray: Packet[] = [];
    const connection = new Connection({
      address: { host: server.host, port: server.port },
      reconnect: false,
      onPacket: (packet) => stray.push(packet),
    });
    defer(() => connection.close());
    await connection.connect();
    connection.send({ type: 'CAN_DO', functionName: uniqueName('gs-conn') });
    connection.send({ type: 'WORK_DATA', handle: 'H:none:1', payload: 'chunk' });
    const uniq = connection.requestAsync({ type: 'GRAB_JOB_UNIQ' }).catch((e: GearmanError) => e);
    connection.send({ type: 'WORK_WARNING', handle: 'H:none:1', payload: 'careful' });
    connection.send({ type: 'WORK_STATUS', handle: 'H:none:1', numerator: 1, denominator: 2 });
    const grab = connection.requestAsync({ type: 'GRAB_JOB' });
    const echo = connection.requestAsync({ type: 'ECHO_REQ', payload: 'sync' });

    expect(await uniq).toMatchObject({ code: 'ERR_SERVER', serverCode: 'server_error' });
    expect(await grab).toMatchObject({ type: 'NO_JOB' });
    expect(await echo).toMatchObject({ type: 'ECHO_RES' });
    expect(stray.map((p) => (p.type === 'ERROR' ? p.code : p.type))).toEqual([
      'server_error',
      'server_error',
      'not_worker',
    ]);
    expect(connection.generation).toBe(1);
  });
});

/** The gearmand the integration project provides. */
function gearmandServer(): Server {
  return inject('gearman');
}

describe('our worker on Gearman::Server', () => {
  test('our client and our worker meet on Gearman::Server, status included', async () => {
    const fn = uniqueName('gs-both');
    await ourWorker(server, fn, async (job) => {
      await job.status(1, 2);
      return `done:${job.payload.toString()}`;
    });
    const client = await ourClient(server);
    const run = client.start(fn, 'x', { encoding: 'utf8' });
    const events = [];
    for await (const event of run) events.push(event.type);
    expect(await run.result()).toBe('done:x');
    expect(events).toEqual(['created', 'status']);
  });

  // An exception must end the job on every server.
  test('an exception in our worker ends the job on Gearman::Server', async () => {
    const fn = uniqueName('gs-exc');
    await ourWorker(server, fn, async () => {
      throw new Error('nope');
    });
    const client = await ourClient(server);
    const unique = `${fn}-once`;
    expect((await rejection(client.submit(fn, 'a', { unique }))).code).toBe('ERR_JOB_EXCEPTION');
    // A later submit with the same unique must not join the finished job and hang.
    expect((await rejection(client.submit(fn, 'b', { unique }))).code).toBe('ERR_JOB_EXCEPTION');
  });
});
