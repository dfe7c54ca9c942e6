import { type Client, type ClientEvent, createClient } from '@gearmanode/client';
import type { Packet } from '@gearmanode/protocol';
import { afterEach, describe, expect, test } from 'vitest';
import {
  type FakeConnection,
  type FakeScript,
  type FakeServer,
  startFakeServer,
} from '../../../test/fake-server.js';
import { freePort, waitFor } from '../../../test/helpers.js';
import { expectIdle } from './support/idle.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function fake(onPacket?: FakeScript): Promise<FakeServer> {
  const server = await startFakeServer({ onPacket });
  cleanups.push(() => server.close());
  return server;
}

async function client(options: Parameters<typeof createClient>[0]): Promise<Client> {
  const created = await createClient({ reconnect: { minTimeout: 10, maxTimeout: 50 }, ...options });
  cleanups.push(() => created.destroy());
  return created;
}

/** A fake that completes every foreground job at once with its payload reversed. */
const reverser: FakeScript = (packet, connection) => {
  if (packet.type !== 'SUBMIT_JOB') return false;
  const handle = `H:r:${connection.received.length}`;
  connection.send({ type: 'JOB_CREATED', handle });
  connection.send({
    type: 'WORK_COMPLETE',
    handle,
    payload: Buffer.from(packet.payload).reverse(),
  });
  return true;
};

const isSubmit = (p: Packet) => p.type.startsWith('SUBMIT_');

describe('server selection', () => {
  test('a unique goes to the same server in any list order, and falls back when it is down', async () => {
    const a = await fake(reverser);
    const b = await fake(reverser);
    const one = await client({ servers: [a.address, b.address] });
    const two = await client({ servers: [b.address, a.address] });
    for (let i = 0; i < 20; i++) {
      await one.submit('f', 'x', { unique: `u${i}` });
      await two.submit('f', 'x', { unique: `u${i}` });
    }
    for (const server of [a, b]) {
      const uniques = server.received.filter(isSubmit).map((p) => (p as { unique: string }).unique);
      for (const unique of new Set(uniques)) {
        expect(uniques.filter((u) => u === unique)).toHaveLength(2);
      }
    }
    expect(a.received.filter(isSubmit).length).toBeGreaterThan(0);
    expect(b.received.filter(isSubmit).length).toBeGreaterThan(0);
    // a goes away: its uniques move to b, without an error.
    await a.close();
    await waitFor(() => one.stats().servers[0]?.down);
    for (let i = 0; i < 20; i++) await one.submit('f', 'x', { unique: `u${i}` });
    await expectIdle(one);
  });

  test('a refused server is skipped without an error reaching the caller', async () => {
    const live = await fake(reverser);
    const dead = `127.0.0.1:${await freePort()}`;
    const c = await client({ servers: [dead, live.address], recoverTime: 60_000 });
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => c.submit('f', `n${i}`, { encoding: 'utf8' })),
    );
    expect(results).toEqual(Array.from({ length: 20 }, (_, i) => [...`n${i}`].reverse().join('')));
    expect(c.stats().servers[0]).toMatchObject({ server: dead, down: true });
    expect(c.stats().connectionErrors).toBe(0);
    await expectIdle(c);
  });

  test('createClient rejects with ConnectionError when no server can be reached', async () => {
    const dead = `127.0.0.1:${await freePort()}`;
    await expect(createClient({ servers: [dead] })).rejects.toMatchObject({
      code: 'ERR_CONNECTION',
      maybeRan: false,
      server: dead,
    });
  });

  test('every server down: a submit fails at once with maybeRan false', async () => {
    const dead = `127.0.0.1:${await freePort()}`;
    const c = await client({ servers: [dead], lazy: true });
    await expect(c.submit('f', 'x')).rejects.toMatchObject({
      code: 'ERR_CONNECTION',
      maybeRan: false,
    });
    await expect(c.submit('f', 'x')).rejects.toMatchObject({ maybeRan: false });
    await expectIdle(c);
  });
});

describe('maxInFlight', () => {
  test('a burst of 100,000 submits never has more than maxInFlight on the wire', async () => {
    let outstanding = 0;
    let most = 0;
    const server = await fake((packet, connection) => {
      if (packet.type !== 'SUBMIT_JOB') return false;
      outstanding++;
      most = Math.max(most, outstanding);
      const handle = `H:b:${connection.received.length}`;
      connection.send({ type: 'JOB_CREATED', handle });
      setImmediate(() => {
        outstanding--;
        connection.send({ type: 'WORK_COMPLETE', handle, payload: packet.payload });
      });
      return true;
    });
    const c = await client({ servers: [server.address], maxInFlight: 100 });
    const all: Promise<Buffer>[] = [];
    for (let i = 0; i < 100_000; i++) all.push(c.submit('burst', String(i)));
    expect(c.stats()).toMatchObject({ inFlight: 100, queued: 99_900 });
    const results = await Promise.all(all);
    expect(results[99_999]?.toString()).toBe('99999');
    expect(most).toBeLessThanOrEqual(100);
    await expectIdle(c);
  }, 30_000);

  test('queued submits can time out or be aborted, and leave the queue', async () => {
    const server = await fake((packet) => packet.type === 'SUBMIT_JOB'); // never answered
    const c = await client({ servers: [server.address], maxInFlight: 1, requestTimeout: 60_000 });
    const first = c.submit('f', 'held').catch((error: unknown) => error);
    const controller = new AbortController();
    const aborted = c.submit('f', 'a', { signal: controller.signal });
    const timed = c.submit('f', 't', { timeout: 30 });
    expect(c.stats().queued).toBe(2);
    controller.abort(new Error('stop'));
    await expect(aborted).rejects.toThrow('stop');
    await expect(timed).rejects.toMatchObject({ code: 'ERR_TIMEOUT' });
    expect(c.stats()).toMatchObject({ queued: 0, inFlight: 1, aborted: 1, timeouts: 1 });
    expect(server.received.filter(isSubmit)).toHaveLength(1);
    c.destroy();
    expect(await first).toMatchObject({ code: 'ERR_CLOSED' });
    await expectIdle(c);
  });
});

describe('retry', () => {
  /** Drops the socket after JOB_CREATED on the first `drops` submits, then reverses. */
  function flaky(drops: number): FakeScript {
    let seen = 0;
    return (packet, connection, server) => {
      if (!isSubmit(packet)) return false;
      if (++seen <= drops) {
        connection.send({ type: 'JOB_CREATED', handle: `H:flaky:${seen}` });
        setTimeout(() => connection.destroy(), 5);
        return true;
      }
      return reverser(packet, connection, server);
    };
  }

  test('a job with a unique is sent again after its connection dropped', async () => {
    const server = await fake(flaky(1));
    const c = await client({ servers: [server.address], retry: 2 });
    expect(await c.submit('f', 'abc', { unique: 'k', encoding: 'utf8' })).toBe('cba');
    // One retry, or two when the first found the server still reconnecting (a loaded machine).
    expect(c.stats().retries).toBeGreaterThanOrEqual(1);
    expect(c.stats().connectionErrors).toBe(0);
    await expectIdle(c);
  });

  test('an idempotent job is sent again; one that is not is never sent twice', async () => {
    const server = await fake(flaky(2));
    const c = await client({ servers: [server.address], retry: 3 });
    await expect(c.submit('f', 'once')).rejects.toMatchObject({
      code: 'ERR_CONNECTION',
      maybeRan: true,
    });
    await waitFor(() => c.stats().servers[0]?.state === 'ready');
    expect(await c.submit('f', 'ab', { idempotent: true, encoding: 'utf8' })).toBe('ba');
    expect(
      server.received.filter(isSubmit).map((p) => (p as { payload: Buffer }).payload.toString()),
    ).toEqual(['once', 'ab', 'ab']);
    await expectIdle(c);
  });

  test('gives up with the last ConnectionError once the retries are spent', async () => {
    const server = await fake(flaky(10));
    const c = await client({ servers: [server.address], retry: { retries: 2, minTimeout: 150 } });
    await expect(c.submit('f', 'x', { unique: 'k' })).rejects.toMatchObject({
      code: 'ERR_CONNECTION',
      maybeRan: true,
    });
    expect(c.stats().retries).toBe(2);
    // Three sends, unless a retry found the server still reconnecting; never more.
    expect(server.received.filter(isSubmit).length).toBeGreaterThanOrEqual(2);
    expect(server.received.filter(isSubmit).length).toBeLessThanOrEqual(3);
    await expectIdle(c);
  });

  test('with retry, a submit waits out a short outage when nothing could be sent', async () => {
    const port = await freePort();
    const c = await client({
      servers: [`127.0.0.1:${port}`],
      lazy: true,
      retry: { retries: 20, minTimeout: 20, maxTimeout: 50 },
    });
    const pending = c.submit('f', 'late', { encoding: 'utf8' }); // no unique: never sent twice
    await new Promise((resolve) => setTimeout(resolve, 150));
    const server = await startFakeServer({ port, onPacket: reverser });
    cleanups.push(() => server.close());
    expect(await pending).toBe('etal');
    expect(server.received.filter(isSubmit)).toHaveLength(1);
    await expectIdle(c);
  });
});

describe('lifecycle', () => {
  test('status() reports connect, disconnect, reconnecting and give-up', async () => {
    const server = await fake();
    const c = await client({
      servers: [server.address],
      reconnect: { retries: 1, minTimeout: 10, maxTimeout: 10 },
    });
    const events: ClientEvent[] = [];
    const iterator = c.status();
    const reading = (async () => {
      for await (const event of iterator) events.push(event);
    })();
    await c.echo();
    await server.close();
    await waitFor(() => events.some((e) => e.type === 'give-up'));
    expect(events.map((e) => e.type)).toEqual(['disconnect', 'reconnecting', 'give-up']);
    c.destroy();
    await reading; // the iterator ends with the client
  });

  test('the client id is sent on every new connection', async () => {
    const server = await fake();
    const c = await client({ servers: [server.address], clientId: 'first' });
    await server.waitForPacket('SET_CLIENT_ID');
    c.setClientId('second');
    await server.waitForPacket((p) => p.type === 'SET_CLIENT_ID' && p.clientId === 'second');
    server.connections[0]?.destroy();
    await server.waitForConnections(2);
    await waitFor(() =>
      server.connections[1]?.received.some(
        (p) => p.type === 'SET_CLIENT_ID' && p.clientId === 'second',
      ),
    );
  });

  test('the heartbeat detects a server that stopped answering', async () => {
    const server = await fake((packet) => packet.type === 'ECHO_REQ'); // swallowed
    const c = await client({
      servers: [server.address],
      heartbeatInterval: 50,
      requestTimeout: 100,
    });
    await server.waitForPacket('ECHO_REQ');
    await server.waitForConnections(2, 3000);
    expect(server.connections[0]?.closed).toBe(true);
    expect(c.state).toBe('running');
  });

  test('close() waits for queued and in-flight jobs, then calls are refused', async () => {
    const pending: { connection: FakeConnection; handle: string; payload: Buffer }[] = [];
    const server = await fake((packet, connection) => {
      if (packet.type !== 'SUBMIT_JOB') return false;
      const handle = `H:c:${pending.length}`;
      connection.send({ type: 'JOB_CREATED', handle });
      pending.push({ connection, handle, payload: packet.payload });
      return true;
    });
    const c = await client({ servers: [server.address], maxInFlight: 1 });
    const jobs = [c.submit('f', 'one'), c.submit('f', 'two')];
    const closing = c.close({ timeout: 5000 });
    await expect(c.submit('f', 'x')).rejects.toMatchObject({ code: 'ERR_CLOSED' });
    await expect(c.getStatus('H:x')).rejects.toMatchObject({ code: 'ERR_CLOSED' });
    expect(() => c.setClientId('x')).toThrow(expect.objectContaining({ code: 'ERR_CLOSED' }));
    for (let i = 0; i < 2; i++) {
      await waitFor(() => pending[i]);
      const job = pending[i] as (typeof pending)[number];
      job.connection.send({ type: 'WORK_COMPLETE', handle: job.handle, payload: job.payload });
    }
    expect((await Promise.all(jobs)).map(String)).toEqual(['one', 'two']);
    await closing;
    expect(c.state).toBe('closed');
    expect(c.close()).toBe(closing);
    await expectIdle(c);
  });

  test('destroy() rejects queued, sent and created jobs at once', async () => {
    const server = await fake((packet, connection) => {
      if (packet.type !== 'SUBMIT_JOB') return false;
      if (packet.payload.toString() === 'created') {
        connection.send({ type: 'JOB_CREATED', handle: 'H:d:1' });
      }
      return true;
    });
    const c = await client({ servers: [server.address], maxInFlight: 2 });
    const created = c.submit('f', 'created');
    const sent = c.submit('f', 'sent');
    const queued = c.submit('f', 'queued');
    await waitFor(() => c.stats().servers[0]?.jobs === 1);
    const cause = new Error('shutting down');
    c.destroy(cause);
    for (const job of [created, sent, queued]) {
      await expect(job).rejects.toMatchObject({ code: 'ERR_CLOSED' });
    }
    expect(await c.closed).toBe(cause);
    await expectIdle(c);
  });
});

describe('destroy during close', () => {
  test('destroy() while close() waits ends the close at once', async () => {
    const server = await fake((packet) => packet.type === 'SUBMIT_JOB'); // never answered
    const c = await client({ servers: [server.address] });
    const job = c.submit('f', 'x').catch((error: unknown) => error);
    await server.waitForPacket('SUBMIT_JOB');
    const started = Date.now();
    const closing = c.close({ timeout: 10_000 });
    c.destroy();
    await closing;
    expect(Date.now() - started).toBeLessThan(1000);
    expect(await job).toMatchObject({ code: 'ERR_CLOSED' });
    await expectIdle(c);
  });
});

describe('packets', () => {
  test('priorities, background, epoch and reduce jobs use their packet types', async () => {
    const server = await fake();
    const c = await client({ servers: [server.address] });
    await c.submitBackground('f', 'x');
    await c.submitBackground('f', 'x', { priority: 'high' });
    await c.submitBackground('f', 'x', { priority: 'low' });
    await c.submitBackground('f', 'x', { at: new Date(1_700_000_000_500) });
    await c.submitBackground('f', 'x', { reducer: 'r' });
    void c.submit('f', 'x', { priority: 'high' }).catch(() => {});
    void c.submit('f', 'x', { priority: 'low' }).catch(() => {});
    void c.submit('f', 'x', { reducer: 'r' }).catch(() => {});
    await waitFor(() => server.received.filter(isSubmit).length === 8);
    const submits = server.received.filter(isSubmit);
    expect(submits.map((p) => p.type)).toEqual([
      'SUBMIT_JOB_BG',
      'SUBMIT_JOB_HIGH_BG',
      'SUBMIT_JOB_LOW_BG',
      'SUBMIT_JOB_EPOCH',
      'SUBMIT_REDUCE_JOB_BACKGROUND',
      'SUBMIT_JOB_HIGH',
      'SUBMIT_JOB_LOW',
      'SUBMIT_REDUCE_JOB',
    ]);
    expect(submits[3]).toMatchObject({ runAt: 1_700_000_000 });
    expect(submits[4]).toMatchObject({ reducer: 'r', aggregator: '' });
  });

  test('a late iterator gets the newest maxBufferedEvents events; dropped counts the rest', async () => {
    const server = await fake((packet, connection) => {
      if (packet.type !== 'SUBMIT_JOB') return false;
      connection.send({ type: 'JOB_CREATED', handle: 'H:e:1' });
      for (let i = 0; i < 5; i++) {
        connection.send({ type: 'WORK_DATA', handle: 'H:e:1', payload: String(i) });
      }
      connection.send({ type: 'WORK_COMPLETE', handle: 'H:e:1', payload: '' });
      return true;
    });
    const c = await client({ servers: [server.address] });
    const run = c.start('f', 'x', { maxBufferedEvents: 2, encoding: 'utf8' });
    await run.result();
    const events = [];
    for await (const event of run) events.push(event);
    expect(events).toEqual([
      { type: 'data', data: '3' },
      { type: 'data', data: '4' },
    ]);
    expect(run.dropped).toBe(4);
  });

  test('getStatus asks every server for a handle and prefers one that knows it', async () => {
    const knows = await fake((packet, connection) => {
      if (packet.type !== 'GET_STATUS') return false;
      connection.send({
        type: 'STATUS_RES',
        handle: packet.handle,
        known: true,
        running: true,
        numerator: 3,
        denominator: 4,
      });
      return true;
    });
    const other = await fake();
    const c = await client({ servers: [other.address, knows.address] });
    expect(await c.getStatus('H:s:1')).toEqual({
      handle: 'H:s:1',
      known: true,
      running: true,
      numerator: 3,
      denominator: 4,
    });
    expect(await c.getStatus('H:s:1', { server: other.address })).toMatchObject({ known: false });
    expect(await c.getStatus({ unique: 'u' })).toMatchObject({ unique: 'u', known: false });
    await expectIdle(c);
  });

  test('getStatus and echo time out and abort on their own deadlines', async () => {
    const server = await fake(
      (packet) => packet.type === 'GET_STATUS' || packet.type === 'ECHO_REQ',
    );
    const c = await client({ servers: [server.address], requestTimeout: 60_000 });
    await expect(c.getStatus('H:x', { timeout: 30 })).rejects.toMatchObject({
      code: 'ERR_TIMEOUT',
    });
    const reason = new Error('enough');
    await expect(c.echo('x', { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    const controller = new AbortController();
    const echo = c.echo('x', { signal: controller.signal });
    controller.abort(reason);
    await expect(echo).rejects.toBe(reason);
  });
});
