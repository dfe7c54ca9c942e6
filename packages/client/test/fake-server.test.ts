import { createClient, type GearmanError } from '@gearmanode/client';
import type { Packet } from '@gearmanode/protocol';
import { createWorker } from '@gearmanode/worker';
import { afterEach, describe, expect, test } from 'vitest';
import {
  type FakeConnection,
  type FakeScript,
  type FakeServer,
  startFakeServer,
} from '../../../test/fake-server.js';
import { expectIdle } from './support/idle.js';

const fakes: FakeServer[] = [];
afterEach(async () => {
  await Promise.all(fakes.splice(0).map((fake) => fake.close()));
});

async function fake(onPacket?: FakeScript) {
  const server = await startFakeServer({ onPacket });
  fakes.push(server);
  return server;
}

const fastReconnect = { minTimeout: 10, maxTimeout: 50 };

async function rejection(promise: Promise<unknown>): Promise<GearmanError> {
  try {
    await promise;
  } catch (error) {
    return error as GearmanError;
  }
  throw new Error('expected a rejection');
}

describe('client against a scripted server', () => {
  test('decodes replies that arrive one byte at a time', async () => {
    const server = await fake((packet, connection) => {
      if (packet.type !== 'SUBMIT_JOB') return false;
      const bytes = Buffer.concat([
        connection.encode({ type: 'JOB_CREATED', handle: 'H:split:1' }),
        connection.encode({ type: 'WORK_DATA', handle: 'H:split:1', payload: 'part' }),
        connection.encode({
          type: 'WORK_STATUS',
          handle: 'H:split:1',
          numerator: 1,
          denominator: 2,
        }),
        connection.encode({ type: 'WORK_COMPLETE', handle: 'H:split:1', payload: 'whole\0result' }),
      ]);
      void connection.writeSplit(bytes, 1);
      return true;
    });
    const client = await createClient({ servers: [server.address] });
    const run = client.start('split', 'in');
    const events = [];
    for await (const event of run) events.push(event);
    expect(await run.result()).toEqual(Buffer.from('whole\0result'));
    expect(events).toEqual([
      { type: 'created', handle: 'H:split:1' },
      { type: 'data', data: Buffer.from('part') },
      { type: 'status', numerator: 1, denominator: 2 },
    ]);
    await expectIdle(client);
    await client.close();
  });

  test('a stray reply fails the pending submit with a ProtocolError cause and reconnects', async () => {
    let first = true;
    const server = await fake((packet, connection) => {
      if (packet.type !== 'SUBMIT_JOB' || !first) return false;
      first = false;
      // STATUS_RES answers no SUBMIT_JOB: the reply order can no longer be trusted.
      connection.send({
        type: 'STATUS_RES',
        handle: 'H:x',
        known: false,
        running: false,
        numerator: 0,
        denominator: 0,
      });
      return true;
    });
    const client = await createClient({ servers: [server.address], reconnect: fastReconnect });
    const error = await rejection(client.submit('stray', 'x'));
    expect(error.code).toBe('ERR_CONNECTION');
    expect(error).toMatchObject({ maybeRan: true });
    expect((error.cause as GearmanError).code).toBe('ERR_PROTOCOL');
    expect(error.cause).toMatchObject({ reason: 'UNEXPECTED_PACKET' });
    await server.waitForConnections(2);
    expect(await client.echo('again')).toEqual(Buffer.from('again'));
    await expectIdle(client);
    await client.close();
  });

  test('a packet announcing 4 GiB is refused before anything is buffered', async () => {
    const server = await fake((packet, connection) => {
      if (packet.type !== 'SUBMIT_JOB') return false;
      const header = Buffer.alloc(12);
      header.writeUInt32BE(0x00524553, 0); // \0RES
      header.writeUInt32BE(13, 4); // WORK_COMPLETE
      header.writeUInt32BE(0xffffffff, 8);
      connection.send({ type: 'JOB_CREATED', handle: 'H:big:1' });
      connection.write(header);
      return true;
    });
    const client = await createClient({
      servers: [server.address],
      maxPacketSize: 1024 * 1024,
      reconnect: fastReconnect,
    });
    const error = await rejection(client.submit('big', 'x'));
    expect(error.code).toBe('ERR_CONNECTION');
    expect(error.cause).toMatchObject({ code: 'ERR_PROTOCOL', reason: 'TOO_LARGE' });
    await server.waitForConnections(2);
    await expectIdle(client);
    await client.close();
  });

  test('silence: the request deadline closes the connection and opens a new one', async () => {
    const server = await fake((packet) => packet.type === 'SUBMIT_JOB'); // never answered
    const client = await createClient({
      servers: [server.address],
      requestTimeout: 200,
      reconnect: fastReconnect,
    });
    const started = Date.now();
    const error = await rejection(client.submit('silent', 'x'));
    expect(Date.now() - started).toBeLessThan(2000);
    expect(error).toMatchObject({ code: 'ERR_CONNECTION', maybeRan: true });
    expect(error.cause).toMatchObject({ code: 'ERR_TIMEOUT' });
    await server.waitForConnections(2);
    expect(server.connections[0]?.closed).toBe(true);
    expect(await client.echo('back')).toEqual(Buffer.from('back'));
    await expectIdle(client);
    await client.close();
  });

  test('a socket dropped mid-job rejects with ConnectionError maybeRan true', async () => {
    const server = await fake((packet, connection) => {
      if (packet.type !== 'SUBMIT_JOB') return false;
      connection.send({ type: 'JOB_CREATED', handle: 'H:drop:1' });
      setTimeout(() => connection.destroy(), 20);
      return true;
    });
    const client = await createClient({ servers: [server.address], reconnect: fastReconnect });
    const run = client.start('drop', 'x');
    const error = await rejection(run.result());
    expect(run.handle).toBe('H:drop:1');
    expect(error).toMatchObject({ code: 'ERR_CONNECTION', maybeRan: true });
    expect(client.stats().connectionErrors).toBe(1);
    await expectIdle(client);
    await client.close();
  });

  test('an ERROR consumes its slot, so later replies match their own submits', async () => {
    let n = 0;
    const server = await fake((packet, connection) => {
      if (packet.type !== 'SUBMIT_JOB') return false;
      n++;
      if (n === 1) {
        connection.send({ type: 'ERROR', code: 'QUEUE_ERROR', message: 'Job queue is full' });
        return true;
      }
      const handle = `H:e:${n}`;
      connection.send({ type: 'JOB_CREATED', handle });
      if (n === 3) {
        // Answer both, the later one first.
        connection.send({ type: 'WORK_COMPLETE', handle: 'H:e:3', payload: 'three' });
        connection.send({ type: 'WORK_COMPLETE', handle: 'H:e:2', payload: 'two' });
      }
      return true;
    });
    const client = await createClient({ servers: [server.address] });
    const [one, two, three] = await Promise.allSettled([
      client.submit('e', '1', { encoding: 'utf8' }),
      client.submit('e', '2', { encoding: 'utf8' }),
      client.submit('e', '3', { encoding: 'utf8' }),
    ]);
    expect(one).toMatchObject({
      status: 'rejected',
      reason: { code: 'ERR_SERVER', serverCode: 'QUEUE_ERROR' },
    });
    expect(two).toEqual({ status: 'fulfilled', value: 'two' });
    expect(three).toEqual({ status: 'fulfilled', value: 'three' });
    expect(client.stats().serverErrors).toBe(1);
    await expectIdle(client);
    await client.close();
  });

  test('packets after the terminal one and for unknown handles are ignored', async () => {
    const server = await fake((packet, connection) => {
      if (packet.type !== 'SUBMIT_JOB') return false;
      const handle = `H:t:${packet.payload.toString()}`;
      connection.send({ type: 'JOB_CREATED', handle });
      connection.send({ type: 'WORK_DATA', handle: 'H:unknown', payload: 'x' });
      connection.send({ type: 'WORK_FAIL', handle }); // an admin cancel, then the worker's result
      connection.send({ type: 'WORK_COMPLETE', handle, payload: 'late' });
      return true;
    });
    const client = await createClient({ servers: [server.address] });
    await expect(client.submit('t', '1')).rejects.toMatchObject({ code: 'ERR_JOB_FAILED' });
    await expect(client.submit('t', '2')).rejects.toMatchObject({
      code: 'ERR_JOB_FAILED',
      handle: 'H:t:2',
    });
    await expectIdle(client);
    await client.close();
  });

  test('WORK_FAIL with bytes after a NUL is cut to its handle', async () => {
    const server = await fake((packet, connection) => {
      if (packet.type !== 'SUBMIT_JOB') return false;
      connection.send({ type: 'JOB_CREATED', handle: 'H:f:1' });
      // PROTOCOL section 11, item 11: a downgraded WORK_EXCEPTION is the handle plus a NUL.
      const body = Buffer.from('H:f:1\0junk');
      const header = Buffer.alloc(12);
      header.writeUInt32BE(0x00524553, 0);
      header.writeUInt32BE(14, 4); // WORK_FAIL
      header.writeUInt32BE(body.length, 8);
      connection.write(Buffer.concat([header, body]));
      return true;
    });
    const client = await createClient({ servers: [server.address] });
    await expect(client.submit('f', 'x')).rejects.toMatchObject({
      code: 'ERR_JOB_FAILED',
      handle: 'H:f:1',
    });
    await expectIdle(client);
    await client.close();
  });

  test('one connection submitting one unique twice: each waiter gets its own events once', async () => {
    const server = await fake((packet, connection) => {
      if (packet.type !== 'SUBMIT_JOB') return false;
      const subs = connection.received.filter((p) => p.type === 'SUBMIT_JOB').length;
      connection.send({ type: 'JOB_CREATED', handle: 'H:c:1' });
      if (subs === 2) {
        // PROTOCOL section 11, item 10: every WORK_* once per submission.
        for (const p of [
          { type: 'WORK_DATA', handle: 'H:c:1', payload: 'a' },
          { type: 'WORK_STATUS', handle: 'H:c:1', numerator: 1, denominator: 3 },
          { type: 'WORK_WARNING', handle: 'H:c:1', payload: 'w' },
          { type: 'WORK_COMPLETE', handle: 'H:c:1', payload: 'done' },
        ] as const) {
          connection.send(p);
          connection.send(p);
        }
      }
      return true;
    });
    const client = await createClient({ servers: [server.address] });
    const first = client.start('c', 'x', { unique: 'same', encoding: 'utf8' });
    const second = client.start('c', 'x', { unique: 'same', encoding: 'utf8' });
    const collect = async (run: typeof first) => {
      const events = [];
      for await (const event of run) events.push(event);
      return events;
    };
    const [a, b] = await Promise.all([collect(first), collect(second)]);
    const expected = [
      { type: 'created', handle: 'H:c:1' },
      { type: 'data', data: 'a' },
      { type: 'status', numerator: 1, denominator: 3 },
      { type: 'warning', data: 'w' },
    ];
    expect(a).toEqual(expected);
    expect(b).toEqual(expected);
    expect(await first.result()).toBe('done');
    expect(await second.result()).toBe('done');
    await expectIdle(client);
    await client.close();
  });

  test('a waiter that timed out stays as a ghost until the terminal packet, so the other gets no duplicates', async () => {
    let connectionRef: FakeConnection | undefined;
    const server = await fake((packet, connection) => {
      if (packet.type !== 'SUBMIT_JOB') return false;
      connectionRef = connection;
      connection.send({ type: 'JOB_CREATED', handle: 'H:g:1' });
      return true;
    });
    const client = await createClient({ servers: [server.address] });
    const quick = client.submit('g', 'x', { unique: 'u', timeout: 50 });
    const patient = client.start('g', 'x', { unique: 'u', encoding: 'utf8' });
    await expect(quick).rejects.toMatchObject({ code: 'ERR_TIMEOUT' });
    const send = (p: Parameters<FakeConnection['send']>[0]) => {
      connectionRef?.send(p);
      connectionRef?.send(p);
    };
    send({ type: 'WORK_DATA', handle: 'H:g:1', payload: 'one' });
    send({ type: 'WORK_DATA', handle: 'H:g:1', payload: 'two' });
    send({ type: 'WORK_COMPLETE', handle: 'H:g:1', payload: 'ok' });
    const events = [];
    for await (const event of patient) events.push(event);
    expect(events.filter((e) => e.type === 'data')).toEqual([
      { type: 'data', data: 'one' },
      { type: 'data', data: 'two' },
    ]);
    expect(await patient.result()).toBe('ok');
    await expectIdle(client);
    await client.close();
  });

  test('a unique over 63 bytes is refused before anything is sent', async () => {
    const server = await fake();
    const client = await createClient({ servers: [server.address] });
    await expect(client.submit('u', 'x', { unique: 'x'.repeat(64) })).rejects.toMatchObject({
      code: 'ERR_INVALID_ARGUMENT',
      field: 'unique',
    });
    await client.echo();
    expect(server.received.some((p: Packet) => p.type === 'SUBMIT_JOB')).toBe(false);
    await expectIdle(client);
    await client.close();
  });

  test('a job from our client runs on our worker through the fake server, progress and all', async () => {
    const server = await fake();
    const worker = await createWorker({ servers: [server.address], functions: ['rev'] });
    const processing = worker.process(async (job) => {
      await job.status(1, 2);
      await job.data('half');
      return Buffer.from(job.payload).reverse();
    });
    const client = await createClient({ servers: [server.address] });
    const run = client.start('rev', 'abc', { encoding: 'utf8' });
    const events = [];
    for await (const event of run) events.push(event);
    expect(await run.result()).toBe('cba');
    expect(events).toEqual([
      { type: 'created', handle: 'H:fake:1' },
      { type: 'status', numerator: 1, denominator: 2 },
      { type: 'data', data: 'half' },
    ]);
    expect(server.results.get('H:fake:1')?.map((p) => p.type)).toEqual([
      'WORK_STATUS',
      'WORK_DATA',
      'WORK_COMPLETE',
    ]);
    await client.close();
    await worker.close();
    await processing;
  });
});
