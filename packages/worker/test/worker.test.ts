import { setTimeout as sleep } from 'node:timers/promises';
import { Connection } from '@gearmanode/core';
import { COPY_THRESHOLD } from '@gearmanode/protocol';
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import { type FakeServer, startFakeServer } from '../../../test/fake-server.js';
import { freePort } from '../../../test/helpers.js';
import {
  createWorker,
  type Job,
  type Worker,
  type WorkerEvent,
  type WorkerOptions,
} from '../src/index.js';

let fake: FakeServer;
const workers: Worker[] = [];
const fakes: FakeServer[] = [];

beforeEach(async () => {
  fake = await startFakeServer();
  fakes.push(fake);
});

afterEach(async () => {
  for (const worker of workers.splice(0)) worker.destroy();
  for (const server of fakes.splice(0)) await server.close();
});

async function start(options: WorkerOptions = {}): Promise<Worker> {
  const worker = await createWorker({ servers: [fake.address], functions: ['a'], ...options });
  workers.push(worker);
  return worker;
}

/** Types of the packets the worker sent, in order, from the first connection. */
function types(connection = fake.connections[0]): string[] {
  return (connection?.received ?? []).map((p) => p.type);
}

describe('pulling jobs', () => {
  test('sends the client id and registrations first, and no GRAB until the loop asks', async () => {
    const worker = await start({ clientId: 'w1', functions: ['a', 'b'] });
    await fake.until(() => types().length >= 4);
    await sleep(30);
    // The ECHO_REQ is the connection's handshake: the socket counts as up once it is answered.
    expect(types()).toEqual(['ECHO_REQ', 'SET_CLIENT_ID', 'CAN_DO', 'CAN_DO']);
    expect(fake.connections[0]?.clientId).toBe('w1');
    expect(fake.connections[0]?.functions).toEqual(['a', 'b']);

    const iterator = worker[Symbol.asyncIterator]();
    const next = iterator.next();
    await fake.until(() => fake.count('PRE_SLEEP') === 1);
    expect(types().slice(4)).toEqual(['GRAB_JOB_UNIQ', 'PRE_SLEEP']);
    fake.addJob('b', Buffer.from([0, 1, 0]), { unique: 'u-1' });
    const { value: job } = await next;
    expect(job).toMatchObject({ name: 'b', unique: 'u-1', reducer: '', server: fake.address });
    expect(job?.payload).toEqual(Buffer.from([0, 1, 0]));
    await job?.complete('ok');
    await iterator.return?.();
  });

  test('a loop that awaits each job holds one job at a time', async () => {
    const worker = await start({ concurrency: 4 });
    for (let i = 0; i < 10; i++) fake.addJob('a', `p${i}`);
    let done = 0;
    let maxHeld = 0;
    for await (const job of worker) {
      maxHeld = Math.max(
        maxHeld,
        fake.held().length,
        worker.stats().inFlight + worker.stats().buffered,
      );
      await sleep(2);
      await job.complete(job.payload);
      if (++done === 10) break;
    }
    expect(maxHeld).toBe(1);
    await fake.until(() => fake.results.size === 10);
  });

  test('a loop that does not await runs up to concurrency jobs at once, never more', async () => {
    const worker = await start({ concurrency: 4 });
    for (let i = 0; i < 60; i++) fake.addJob('a', `p${i}`);
    let active = 0;
    let maxActive = 0;
    let maxHeld = 0;
    let finished = 0;
    const handle = async (job: Job): Promise<void> => {
      active++;
      maxActive = Math.max(maxActive, active);
      const stats = worker.stats();
      maxHeld = Math.max(
        maxHeld,
        fake.held().length,
        stats.inFlight + stats.buffered + stats.grabsInFlight,
      );
      await sleep(Math.random() * 8);
      active--;
      finished++;
      await job.complete(job.payload);
    };
    let received = 0;
    for await (const job of worker) {
      void handle(job);
      if (++received === 60) break;
    }
    await fake.until(() => fake.results.size === 60);
    expect(finished).toBe(60);
    expect(maxActive).toBe(4);
    expect(maxHeld).toBeLessThanOrEqual(4);
  });

  test('break stops grabbing; a job yielded before still has to be settled', async () => {
    const worker = await start({ concurrency: 2 });
    for (let i = 0; i < 5; i++) fake.addJob('a', `p${i}`);
    let held: Job | undefined;
    for await (const job of worker) {
      held = job;
      break;
    }
    const grabs = fake.count('GRAB_JOB_UNIQ');
    await sleep(100);
    expect(fake.count('GRAB_JOB_UNIQ')).toBe(grabs);
    expect(worker.stats().inFlight).toBe(1);
    await held?.complete('late but fine');
    expect(worker.stats().inFlight).toBe(0);
    await fake.until(() => fake.results.size === 1);
    await sleep(50);
    expect(fake.count('GRAB_JOB_UNIQ')).toBe(grabs);
  });

  test('jobs that arrived for a loop that broke off go to the next loop', async () => {
    const worker = await start({ concurrency: 8 });
    for (let i = 0; i < 20; i++) fake.addJob('a', `p${i}`);
    const seen: string[] = [];
    const pending: Promise<void>[] = [];
    for await (const job of worker) {
      seen.push(job.text());
      pending.push(sleep(20).then(() => job.complete()));
      if (seen.length === 3) break;
    }
    for await (const job of worker) {
      seen.push(job.text());
      await job.complete();
      if (seen.length === 20) break;
    }
    await Promise.all(pending);
    expect(seen.sort()).toEqual(Array.from({ length: 20 }, (_, i) => `p${i}`).sort());
  });

  test('only one loop or process() consumes jobs at a time', async () => {
    const worker = await start();
    const first = worker[Symbol.asyncIterator]();
    expect(() => worker[Symbol.asyncIterator]()).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }),
    );
    expect(() => worker.process(() => 'x')).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }),
    );
    await first.return?.();
    const second = worker[Symbol.asyncIterator]();
    await second.return?.();
  });
});

describe('the grab cycle against a misbehaving server', () => {
  test('one job at a time: PRE_SLEEP goes out with the result; no job is lost', async () => {
    // A poll far off: every job must come through a NOOP, not the poll.
    const worker = await start({ pollInterval: 60_000 });
    void worker.process((job) => job.payload);
    await fake.until(() => fake.count('PRE_SLEEP') === 1);
    for (let i = 1; i <= 4; i++) {
      fake.addJob('a', `one ${i}`);
      await fake.until(() => fake.count('PRE_SLEEP') === i + 1);
      await fake.until(() => fake.connections[0]?.sleeping === true);
      // NOOP woke it: GRAB, the job, then its result with PRE_SLEEP, and a GRAB between them
      // every other time (the probe whose NO_JOB shows the queue is empty).
      const after = i % 2 === 1 ? ['GRAB_JOB_UNIQ', 'PRE_SLEEP'] : ['PRE_SLEEP'];
      expect(types().slice(-2 - after.length)).toEqual([
        'GRAB_JOB_UNIQ',
        'WORK_COMPLETE',
        ...after,
      ]);
      expect(fake.results.size).toBe(i);
    }
    // Several queued at once: the GRAB sent with PRE_SLEEP gets a job, the server answers the
    // PRE_SLEEP with NOOP at once, and the loop keeps grabbing until the queue is empty.
    for (let i = 0; i < 5; i++) fake.addJob('a', `many ${i}`);
    await fake.until(() => fake.results.size === 9);
    await fake.until(() => fake.connections[0]?.sleeping === true);
    const grabs = fake.count('GRAB_JOB_UNIQ');
    await sleep(50);
    expect(fake.count('GRAB_JOB_UNIQ')).toBe(grabs); // asleep, not spinning
    fake.addJob('a', 'last');
    await fake.until(() => fake.results.size === 10);
    expect(worker.stats().completed).toBe(10);
  });

  test('stray NOOPs start no GRAB while nobody asks', async () => {
    const worker = await start();
    await fake.until(() => fake.workers.length === 1);
    const connection = fake.connections[0]!;
    for (let i = 0; i < 5; i++) connection.send({ type: 'NOOP' });
    await sleep(50);
    expect(fake.count('GRAB_JOB_UNIQ')).toBe(0);
    expect(worker.state).toBe('running');
  });

  test('backs off instead of spinning when PRE_SLEEP is answered by NOOP forever', async () => {
    const worker = await start({ pollInterval: 1000 });
    fake.spin = true;
    const iterator = worker[Symbol.asyncIterator]();
    const next = iterator.next();
    await sleep(1000);
    // Unbounded this is thousands of GRABs a second.
    expect(fake.count('GRAB_JOB_UNIQ')).toBeGreaterThan(3);
    expect(fake.count('GRAB_JOB_UNIQ')).toBeLessThan(20);
    fake.spin = false;
    fake.addJob('a', 'finally');
    expect((await next).value?.text()).toBe('finally');
    await iterator.return?.();
  });

  test('polls while idle: a job that becomes available without a NOOP is picked up', async () => {
    const worker = await start({ pollInterval: 100 });
    const iterator = worker[Symbol.asyncIterator]();
    const next = iterator.next();
    await fake.until(() => fake.count('PRE_SLEEP') === 1);
    fake.addJob('a', 'due', { hidden: true }); // queued, but wakes nobody
    await sleep(20);
    fake.release(); // falls due silently, like an epoch job on gearmand
    const started = Date.now();
    expect((await next).value?.text()).toBe('due');
    expect(Date.now() - started).toBeLessThan(600);
    await iterator.return?.();
  });

  test('counts ERROR JOB_NOT_FOUND and keeps working', async () => {
    const worker = await start();
    fake.addJob('a', 'one');
    fake.addJob('a', 'two');
    const iterator = worker[Symbol.asyncIterator]();
    const first = (await iterator.next()).value as Job;
    // The server takes the job back behind the worker's back (a server-side timeout).
    fake.jobs.get(first.handle)!.holder = undefined;
    await first.complete('too late');
    await fake.until(() => worker.stats().jobNotFound === 1);
    const second = (await iterator.next()).value as Job;
    await second.complete('fine');
    await fake.until(() => fake.results.has(second.handle));
    expect(worker.state).toBe('running');
    await iterator.return?.();
  });
});

describe('refused reports', () => {
  test('a refused WORK_DATA or WORK_WARNING costs that report only: the job completes', async () => {
    // Perl's Gearman::Server does not know either and answers each with ERROR server_error.
    fake.refuse.add('WORK_DATA');
    fake.refuse.add('WORK_WARNING');
    const worker = await start();
    const events = worker.status();
    fake.addJob('a', 'one');
    const iterator = worker[Symbol.asyncIterator]();
    const job = (await iterator.next()).value as Job;
    await job.data('partial');
    await job.warning('careful');
    await job.status(1, 2);
    await job.complete('done');
    await fake.until(() => worker.stats().reportRefused === 2);
    // The refused reports never reached the job; the rest did, and the job is over.
    expect(fake.results.get(job.handle)?.map((p) => p.type)).toEqual([
      'WORK_STATUS',
      'WORK_COMPLETE',
    ]);
    expect(fake.jobs.get(job.handle)?.holder).toBeUndefined();
    const refused: WorkerEvent[] = [];
    while (refused.length < 2) {
      const next = await events.next();
      if (next.done) break;
      if (next.value.type === 'report-refused') refused.push(next.value);
    }
    expect(refused).toEqual([
      { type: 'report-refused', server: fake.address, code: 'server_error', message: 'WORK_DATA' },
      {
        type: 'report-refused',
        server: fake.address,
        code: 'server_error',
        message: 'WORK_WARNING',
      },
    ]);
    // The socket is the first one still, and it keeps grabbing.
    fake.addJob('a', 'two');
    const second = (await iterator.next()).value as Job;
    await second.complete('fine');
    await fake.until(() => fake.results.has(second.handle));
    expect(worker.stats()).toMatchObject({ completed: 2, jobNotFound: 0, lost: 0 });
    expect(worker.stats().servers[0]?.generation).toBe(1);
    await iterator.return?.();
  });
});

describe('registration', () => {
  test('register() sends CAN_DO once and wakes a sleeping worker for queued jobs', async () => {
    const worker = await start();
    const iterator = worker[Symbol.asyncIterator]();
    const next = iterator.next();
    await fake.until(() => fake.count('PRE_SLEEP') === 1);
    fake.addJob('b', 'queued before anyone could do it');
    await sleep(20);
    worker.register('b');
    worker.register('b'); // again: no second registration on the server
    expect((await next).value?.name).toBe('b');
    expect(fake.connections[0]?.functions).toEqual(['a', 'b']);
    expect(worker.functions).toEqual(['a', 'b']);
    await iterator.return?.();
  });

  test('unregister() waits with CANT_DO until the jobs of that function it holds are settled', async () => {
    const worker = await start({ functions: ['a', 'b'] });
    fake.addJob('a', 'held');
    const iterator = worker[Symbol.asyncIterator]();
    const job = (await iterator.next()).value as Job;
    worker.unregister('a');
    worker.unregister('b'); // holds none: at once
    await fake.until(() => fake.count('CANT_DO') === 1);
    expect(fake.connections[0]?.functions).toEqual(['a']);
    await sleep(20);
    expect(fake.count('CANT_DO')).toBe(1);
    await job.complete('kept');
    await fake.until(() => fake.count('CANT_DO') === 2);
    const sent = types();
    expect(sent.indexOf('WORK_COMPLETE')).toBeLessThan(sent.lastIndexOf('CANT_DO'));
    expect(fake.results.get(job.handle)?.[0]?.type).toBe('WORK_COMPLETE');
    expect(fake.connections[0]?.functions).toEqual([]);
    worker.unregister('nothing'); // unknown: ignored
    await iterator.return?.();
  });

  test('re-registering before a deferred CANT_DO cancels it', async () => {
    const worker = await start();
    fake.addJob('a', 'held');
    const iterator = worker[Symbol.asyncIterator]();
    const job = (await iterator.next()).value as Job;
    worker.unregister('a');
    worker.register('a');
    await job.complete();
    await sleep(30);
    expect(fake.count('CANT_DO')).toBe(0);
    expect(fake.count('CAN_DO')).toBe(1);
    await iterator.return?.();
  });

  test("grabMode 'all' sends GRAB_JOB_ALL and shows a reduce job's reducer", async () => {
    const worker = await start({ grabMode: 'all', concurrency: 2 });
    fake.addJob('a', 'reduce me', { reducer: 'sum' });
    fake.addJob('a', 'plain');
    const jobs: Job[] = [];
    for await (const job of worker) {
      jobs.push(job);
      await job.complete();
      if (jobs.length === 2) break;
    }
    expect(jobs.map((j) => [j.text(), j.reducer])).toEqual([
      ['reduce me', 'sum'],
      ['plain', ''],
    ]);
    expect(fake.count('GRAB_JOB_ALL')).toBeGreaterThan(0);
    expect(fake.count('GRAB_JOB_UNIQ')).toBe(0);
  });

  test('serverTimeout registers functions that have a time limit with CAN_DO_TIMEOUT', async () => {
    await start({ serverTimeout: true, functions: [{ name: 'a', timeout: 5000 }, 'b'] });
    await fake.until(() => fake.workers[0]?.functions.length === 2);
    expect(fake.connections[0]?.received).toEqual([
      { type: 'ECHO_REQ', payload: Buffer.alloc(0) },
      { type: 'CAN_DO_TIMEOUT', functionName: 'a', timeout: 5000 },
      { type: 'CAN_DO', functionName: 'b' },
    ]);
  });

  test('serverTimeout: no PRE_SLEEP while holding a job (it would stop the timer)', async () => {
    const worker = await start({ serverTimeout: true, pollInterval: 60_000 });
    void worker.process((job) => job.payload);
    await fake.until(() => fake.count('PRE_SLEEP') === 1);
    for (let i = 1; i <= 3; i++) {
      fake.addJob('a', `one ${i}`);
      await fake.until(() => fake.count('PRE_SLEEP') === i + 1);
      // PRE_SLEEP only once the GRAB after the job was answered NO_JOB.
      expect(types().slice(-3)).toEqual(['WORK_COMPLETE', 'GRAB_JOB_UNIQ', 'PRE_SLEEP']);
    }
  });
});

describe('time limits', () => {
  test('fails a job at its deadline with WORK_EXCEPTION and aborts its signal', async () => {
    const worker = await start({ functions: [], timeout: 0 });
    worker.register('slow', { timeout: 100 });
    fake.addJob('slow', 'x');
    const iterator = worker[Symbol.asyncIterator]();
    const job = (await iterator.next()).value as Job;
    const started = Date.now();
    const reason = await new Promise<unknown>((resolve) => {
      job.signal.addEventListener('abort', () => resolve(job.signal.reason));
    });
    expect(Date.now() - started).toBeGreaterThanOrEqual(90);
    expect(Date.now() - started).toBeLessThan(400);
    expect(reason).toMatchObject({ name: 'JobTimeoutError', code: 'ERR_TIMEOUT', timeout: 100 });
    await fake.until(() => fake.results.has(job.handle));
    const [packet] = fake.results.get(job.handle) ?? [];
    expect(packet?.type).toBe('WORK_EXCEPTION');
    expect(String((packet as { payload: Buffer }).payload)).toMatch(/time limit of 100 ms/);
    // The handler finishing later changes nothing and throws nothing.
    await job.complete('too late');
    await sleep(20);
    expect(fake.results.get(job.handle)).toHaveLength(1);
    expect(worker.stats()).toMatchObject({ timeouts: 1, inFlight: 0, completed: 0 });
    await iterator.return?.();
  });
});

describe('connections', () => {
  test('a lost connection aborts its jobs, drops their results, and the worker registers again', async () => {
    const worker = await start({
      clientId: 'again',
      reconnect: { minTimeout: 10, maxTimeout: 50 },
    });
    fake.addJob('a', 'first');
    const iterator = worker[Symbol.asyncIterator]();
    const job = (await iterator.next()).value as Job;
    fake.dropAll();
    await fake.until(() => job.signal.aborted);
    expect(job.signal.reason).toMatchObject({ name: 'JobLostError', code: 'ERR_CONNECTION' });
    await job.complete('nobody wants this now');
    expect(worker.stats()).toMatchObject({ lost: 1, droppedResults: 1, inFlight: 0 });

    // The server put the job back; the worker reconnects, registers, and gets it again.
    const again = (await iterator.next()).value as Job;
    expect(again.handle).toBe(job.handle);
    const second = fake.connections[1]!;
    expect(second.received.map((p) => p.type).slice(0, 4)).toEqual([
      'ECHO_REQ',
      'SET_CLIENT_ID',
      'CAN_DO',
      'GRAB_JOB_UNIQ',
    ]);
    await again.complete('second run');
    await fake.until(() => fake.results.has(job.handle));
    expect(fake.results.get(job.handle)?.map((p) => p.type)).toEqual(['WORK_COMPLETE']);
    expect(worker.stats().servers[0]?.generation).toBe(2);
    await iterator.return?.();
  });

  test('several servers: one that is down does not stop the start, jobs come from the others', async () => {
    const other = await startFakeServer();
    fakes.push(other);
    const down = `127.0.0.1:${await freePort()}`;
    const started = Date.now();
    const worker = await start({
      servers: [fake.address, down, other.address],
      concurrency: 4,
      reconnect: { minTimeout: 1000 },
    });
    expect(Date.now() - started).toBeLessThan(1000);
    for (let i = 0; i < 10; i++) {
      fake.addJob('a', `one-${i}`);
      other.addJob('a', `two-${i}`);
    }
    const servers = new Map<string, number>();
    let count = 0;
    for await (const job of worker) {
      servers.set(job.server, (servers.get(job.server) ?? 0) + 1);
      await job.complete();
      if (++count === 20) break;
    }
    expect(servers).toEqual(
      new Map([
        [fake.address, 10],
        [other.address, 10],
      ]),
    );
    const states = worker.stats().servers.map((s) => [s.server, s.connection]);
    expect(states).toContainEqual([down, 'reconnecting']);
  });

  test('status() reports connect and disconnect events', async () => {
    const worker = await start({ reconnect: { minTimeout: 10, maxTimeout: 20 } });
    const events = worker.status();
    await fake.until(() => fake.workers.length === 1);
    fake.dropAll();
    const seen: string[] = [];
    for await (const event of events) {
      seen.push(event.type);
      if (event.type === 'connect') break;
    }
    expect(seen).toEqual(['disconnect', 'connect']);
  });
});

describe('process()', () => {
  test('completes with the return value and sends WORK_EXCEPTION for a throw', async () => {
    const worker = await start({ concurrency: 3 });
    void worker.process(async (job) => {
      if (job.text() === 'throw') throw new Error('handler failed');
      if (job.text() === 'bad') return { not: 'bytes' } as unknown as string;
      if (job.text() === 'self') {
        await job.data('partial');
        await job.complete('settled myself');
        return 'ignored';
      }
      return Buffer.concat([Buffer.from('ok:'), job.payload]);
    });
    const ok = fake.addJob('a', 'x');
    const thrown = fake.addJob('a', 'throw');
    const bad = fake.addJob('a', 'bad');
    const self = fake.addJob('a', 'self');
    await fake.until(() => fake.results.size === 4 && fake.results.get(self)?.length === 2);
    const result = (handle: string) =>
      fake.results.get(handle)?.map((p) => [p.type, 'payload' in p ? String(p.payload) : '']);
    expect(result(ok)).toEqual([['WORK_COMPLETE', 'ok:x']]);
    expect(result(thrown)).toEqual([['WORK_EXCEPTION', 'handler failed']]);
    expect(result(bad)?.[0]?.[0]).toBe('WORK_EXCEPTION');
    expect(result(bad)?.[0]?.[1]).toMatch(/payload/);
    expect(result(self)).toEqual([
      ['WORK_DATA', 'partial'],
      ['WORK_COMPLETE', 'settled myself'],
    ]);
    expect(worker.stats()).toMatchObject({ completed: 2, exceptions: 2 });
  });

  test('a result over maxPacketSize is refused as before: WORK_EXCEPTION, then nothing else', async () => {
    const worker = await start({ maxPacketSize: 64 });
    void worker.process((job) => (job.text() === 'big' ? Buffer.alloc(100, 0x61) : job.payload));
    const big = fake.addJob('a', 'big', { unique: 'ü-1' });
    const small = fake.addJob('a', 'small');
    await fake.until(() => fake.results.size === 2);
    const result = (handle: string) =>
      fake.results.get(handle)?.map((p) => [p.type, 'payload' in p ? String(p.payload) : '']);
    expect(result(big)?.map(([type]) => type)).toEqual(['WORK_EXCEPTION']);
    expect(result(big)?.[0]?.[1]).toMatch(/maxPacketSize/);
    expect(result(small)).toEqual([['WORK_COMPLETE', 'small']]);
    expect(worker.stats()).toMatchObject({ completed: 1, exceptions: 1 });
  });

  test('a large result is written uncopied behind a head, not copied into one frame', async () => {
    const worker = await start();
    const result = Buffer.alloc(COPY_THRESHOLD, 0x62);
    const frames = vi.spyOn(Connection.prototype, 'sendFrame');
    try {
      void worker.process((job) => (job.text() === 'large' ? result : job.payload));
      const large = fake.addJob('a', 'large');
      const small = fake.addJob('a', 'small');
      await fake.until(() => fake.results.size === 2);
      const sent = fake.results.get(large)?.[0];
      expect(sent?.type).toBe('WORK_COMPLETE');
      expect(sent !== undefined && 'payload' in sent && sent.payload.equals(result)).toBe(true);
      expect(fake.results.get(small)?.[0]?.type).toBe('WORK_COMPLETE');
      // Only the small result took the frame path.
      expect(frames).toHaveBeenCalledTimes(1);
    } finally {
      frames.mockRestore();
    }
  });

  test('runs at most its concurrency at once and resolves once the worker closed', async () => {
    const worker = await start({ concurrency: 8 });
    let active = 0;
    let maxActive = 0;
    const done = worker.process(
      async () => {
        active++;
        maxActive = Math.max(maxActive, active);
        await sleep(5);
        active--;
        return 'x';
      },
      { concurrency: 3 },
    );
    for (let i = 0; i < 30; i++) fake.addJob('a', `p${i}`);
    await fake.until(() => fake.results.size === 30);
    expect(maxActive).toBe(3);
    let resolved = false;
    void done.then(() => {
      resolved = true;
    });
    await sleep(10);
    expect(resolved).toBe(false);
    await worker.close();
    await done;
  });
});

describe('register(name, handler)', () => {
  const result = (handle: string) =>
    fake.results.get(handle)?.map((p) => [p.type, 'payload' in p ? String(p.payload) : '']);

  test("process() runs a function's own handler in preference to the one it was given", async () => {
    const worker = await start({ concurrency: 2 });
    worker.register('b', (job) => `b:${job.text()}`);
    worker.register('c', { timeout: 5000 }, async (job) => `c:${job.text()}`);
    void worker.process((job) => `fallback:${job.name}:${job.text()}`);
    const a = fake.addJob('a', '1');
    const b = fake.addJob('b', '2');
    const c = fake.addJob('c', '3');
    await fake.until(() => fake.results.size === 3);
    expect(result(a)).toEqual([['WORK_COMPLETE', 'fallback:a:1']]);
    expect(result(b)).toEqual([['WORK_COMPLETE', 'b:2']]);
    expect(result(c)).toEqual([['WORK_COMPLETE', 'c:3']]);
    expect(worker.functions).toEqual(['a', 'b', 'c']);
    expect(fake.connections[0]?.functions).toEqual(['a', 'b', 'c']);
  });

  test('process() without a handler runs the registered ones; a throw sends WORK_EXCEPTION', async () => {
    const worker = await start({ functions: [] });
    worker.register('ok', (job) => job.payload);
    worker.register('boom', () => {
      throw new Error('boom failed');
    });
    void worker.process();
    const ok = fake.addJob('ok', 'x');
    const boom = fake.addJob('boom', 'y');
    await fake.until(() => fake.results.size === 2);
    expect(result(ok)).toEqual([['WORK_COMPLETE', 'x']]);
    expect(result(boom)).toEqual([['WORK_EXCEPTION', 'boom failed']]);
  });

  test('registering a name again replaces its handler and keeps it when given none', async () => {
    const worker = await start({ functions: [] });
    worker.register('f', () => 'first');
    worker.register('f', () => 'second');
    worker.register('f', { timeout: 1000 });
    void worker.process();
    const job = fake.addJob('f', 'x');
    await fake.until(() => fake.results.size === 1);
    expect(result(job)).toEqual([['WORK_COMPLETE', 'second']]);
    expect(fake.count('CAN_DO')).toBe(1);
  });

  test('a job of a function registered later without a handler gets WORK_EXCEPTION', async () => {
    const worker = await start({ functions: [] });
    void worker.process();
    worker.register('bare');
    const job = fake.addJob('bare', 'x');
    await fake.until(() => fake.results.size === 1);
    expect(result(job)).toEqual([['WORK_EXCEPTION', 'no handler for function bare']]);
  });

  test('process() without a handler refuses functions that have none', async () => {
    const worker = await start({ functions: ['a'] });
    expect(() => worker.process()).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT', field: 'handler' }),
    );
    expect(() => worker.process({ concurrency: 1 })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT', field: 'handler' }),
    );
    worker.register('a', () => 'now it has one');
    void worker.process({ concurrency: 1 });
    const job = fake.addJob('a', 'x');
    await fake.until(() => fake.results.size === 1);
    expect(result(job)).toEqual([['WORK_COMPLETE', 'now it has one']]);
  });

  test('rejects a handler that is not a function', async () => {
    const worker = await start();
    const bad = 'x' as unknown as () => string;
    expect(() => worker.register('b', bad)).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT', field: 'options' }),
    );
    expect(() => worker.register('b', {}, bad)).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT', field: 'handler' }),
    );
    expect(() => worker.process(bad)).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT', field: 'handler' }),
    );
    expect(worker.functions).toEqual(['a']);
  });
});

describe('close()', () => {
  test('stops grabbing at once, sends the results of jobs in flight, then ends the loop', async () => {
    const worker = await start({ concurrency: 4 });
    for (let i = 0; i < 10; i++) fake.addJob('a', `p${i}`);
    const running: Job[] = [];
    const loop = (async () => {
      for await (const job of worker) running.push(job);
    })();
    await fake.until(() => running.length === 4);
    const grabs = fake.count('GRAB_JOB_UNIQ');
    const closing = worker.close({ timeout: 5000 });
    expect(worker.state).toBe('draining');
    await loop; // the iteration ends at once
    await sleep(30);
    for (const job of running) await job.complete(`done ${job.text()}`);
    await closing;
    expect(worker.state).toBe('closed');
    expect(fake.count('GRAB_JOB_UNIQ')).toBe(grabs);
    expect(fake.count('RESET_ABILITIES') + fake.count('CANT_DO')).toBe(0);
    expect(running.map((job) => fake.results.get(job.handle)?.[0]?.type)).toEqual(
      Array(4).fill('WORK_COMPLETE'),
    );
    await fake.until(() => fake.queue.length === 6); // the rest went back to the queue
    expect(await worker.closed).toBeUndefined();
  });

  test('past its timeout aborts the signals of jobs still running and returns', async () => {
    const worker = await start({ concurrency: 2 });
    fake.addJob('a', 'stuck');
    const iterator = worker[Symbol.asyncIterator]();
    const job = (await iterator.next()).value as Job;
    const started = Date.now();
    await worker.close({ timeout: 150 });
    const elapsed = Date.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(140);
    expect(elapsed).toBeLessThan(1000);
    expect(job.signal.reason).toMatchObject({ name: 'WorkerClosingError', code: 'ERR_CLOSED' });
    await job.complete('too late'); // dropped quietly: the server re-runs the job elsewhere
    expect(worker.stats()).toMatchObject({ abandoned: 1, inFlight: 0 });
    await fake.until(() => fake.queue.length === 1);
    expect(fake.results.size).toBe(0);
    expect(await iterator.next()).toEqual({ value: undefined, done: true });
  });

  test('close and destroy are idempotent; asyncDispose closes', async () => {
    const worker = await start();
    const a = worker.close();
    const b = worker.close();
    expect(a).toBe(b);
    await a;
    worker.destroy();
    await worker.close();
    expect(worker.state).toBe('closed');
    expect(() => worker.register('late')).toThrow(expect.objectContaining({ code: 'ERR_CLOSED' }));

    {
      await using disposable = await start();
      expect(disposable.state).toBe('running');
      workers.push(disposable);
    }
    expect(workers.at(-1)?.state).toBe('closed');
  });

  test('destroy() aborts running jobs at once and resolves closed with the cause', async () => {
    const worker = await start();
    fake.addJob('a', 'x');
    const iterator = worker[Symbol.asyncIterator]();
    const job = (await iterator.next()).value as Job;
    const pending = iterator.next();
    const cause = new Error('shutting down hard');
    worker.destroy(cause);
    expect(job.signal.reason).toMatchObject({ code: 'ERR_CLOSED', cause });
    expect(await pending).toEqual({ value: undefined, done: true });
    expect(await worker.closed).toBe(cause);
  });
});
