import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import {
  createWorker,
  type Job,
  type Worker,
  type WorkerEvent,
  type WorkerOptions,
} from '../src/index.js';
import { FakeServer } from './support/fake-server.js';

// Perl's Gearman::Server knows neither GRAB_JOB_UNIQ nor GRAB_JOB_ALL (it answers each with
// ERROR server_error), and keeps a job open after WORK_EXCEPTION until WORK_FAIL.

let fake: FakeServer;
const workers: Worker[] = [];

beforeEach(async () => {
  fake = await FakeServer.start();
});

afterEach(async () => {
  for (const worker of workers.splice(0)) worker.destroy();
  await fake.close();
});

function perlLike(): void {
  fake.refuse.add('GRAB_JOB_UNIQ');
  fake.refuse.add('GRAB_JOB_ALL');
  fake.exceptionNotFinal = true;
}

async function start(options: WorkerOptions = {}): Promise<Worker> {
  const worker = await createWorker({ servers: [fake.address], functions: ['a'], ...options });
  workers.push(worker);
  return worker;
}

/** The grab-refused events among the next `count` events that are not connects. */
async function refusals(events: AsyncIterator<WorkerEvent>, count: number): Promise<unknown[]> {
  const seen: unknown[] = [];
  while (seen.length < count) {
    const { value, done } = await events.next();
    if (done) break;
    if (value.type === 'grab-refused') {
      const { error, ...rest } = value;
      seen.push({ ...rest, error: error.message });
    }
  }
  return seen;
}

/** Grab packet types the worker sent on connection `index`. */
function grabs(index = 0): string[] {
  return (fake.connections[index]?.packets ?? [])
    .map((p) => p.type)
    .filter((type) => type.startsWith('GRAB_JOB'));
}

describe('a server that refuses GRAB_JOB_UNIQ', () => {
  test('falls back to GRAB_JOB, reports the refusal, and jobs come without a unique', async () => {
    perlLike();
    const worker = await start();
    const events = worker.status();
    fake.addJob('a', 'payload', { unique: 'u-1' });
    const iterator = worker[Symbol.asyncIterator]();
    const job = (await iterator.next()).value as Job;
    expect(job).toMatchObject({ name: 'a', unique: '', reducer: '', server: fake.address });
    expect(job.text()).toBe('payload');
    await job.complete('done');
    await fake.until(() => fake.results.has(job.handle));
    expect(fake.results.get(job.handle)?.map((p) => p.type)).toEqual(['WORK_COMPLETE']);
    expect(await refusals(events, 1)).toEqual([
      {
        type: 'grab-refused',
        server: fake.address,
        packet: 'GRAB_JOB_UNIQ',
        fallback: 'GRAB_JOB',
        error: 'server_error: GRAB_JOB_UNIQ',
      },
    ]);
    // Refused once; every later GRAB on this socket is plain.
    fake.addJob('a', 'second');
    const second = (await iterator.next()).value as Job;
    await second.complete();
    expect(grabs()[0]).toBe('GRAB_JOB_UNIQ');
    expect(grabs().slice(1).length).toBeGreaterThan(0);
    expect(
      grabs()
        .slice(1)
        .every((type) => type === 'GRAB_JOB'),
    ).toBe(true);
    expect(worker.stats().servers[0]).toMatchObject({ grabRefused: 1, jobs: 0 });
    expect(worker.stats().received).toBe(2);
    await iterator.return?.();
  });

  test("grabMode 'all' steps down through GRAB_JOB_UNIQ to GRAB_JOB", async () => {
    perlLike();
    const worker = await start({ grabMode: 'all' });
    const events = worker.status();
    fake.addJob('a', 'x', { unique: 'u', reducer: 'r' });
    const iterator = worker[Symbol.asyncIterator]();
    const job = (await iterator.next()).value as Job;
    expect(job).toMatchObject({ unique: '', reducer: '' });
    await job.complete();
    const seen = await refusals(events, 2);
    expect(seen.map((e) => (e as { packet: string }).packet)).toEqual([
      'GRAB_JOB_ALL',
      'GRAB_JOB_UNIQ',
    ]);
    expect(seen.map((e) => (e as { fallback: string }).fallback)).toEqual([
      'GRAB_JOB_UNIQ',
      'GRAB_JOB',
    ]);
    expect(worker.stats().servers[0]?.grabRefused).toBe(2);
    await iterator.return?.();
  });

  test('a server that refuses only GRAB_JOB_ALL keeps the uniques', async () => {
    fake.refuse.add('GRAB_JOB_ALL');
    const worker = await start({ grabMode: 'all' });
    fake.addJob('a', 'x', { unique: 'u-2' });
    const iterator = worker[Symbol.asyncIterator]();
    const job = (await iterator.next()).value as Job;
    expect(job.unique).toBe('u-2');
    await job.complete();
    expect(grabs().slice(0, 2)).toEqual(['GRAB_JOB_ALL', 'GRAB_JOB_UNIQ']);
    expect(worker.stats().servers[0]?.grabRefused).toBe(1);
    await iterator.return?.();
  });

  test('the fallback is per socket: a reconnect tries GRAB_JOB_UNIQ again', async () => {
    perlLike();
    const worker = await start({ reconnect: { minTimeout: 10, maxTimeout: 20 } });
    void worker.process(() => 'ok');
    await fake.until(() => grabs(0).includes('GRAB_JOB'));
    fake.dropAll();
    // The server was upgraded meanwhile and knows GRAB_JOB_UNIQ now.
    fake.refuse.clear();
    await fake.until(() => grabs(1).length > 0);
    expect(grabs(1)[0]).toBe('GRAB_JOB_UNIQ');
    const handle = fake.addJob('a', 'x', { unique: 'u-3' });
    await fake.until(() => fake.results.has(handle));
    expect(grabs(1)).not.toContain('GRAB_JOB');
    expect(worker.stats().servers[0]?.grabRefused).toBe(1);
  });

  test('a server that refuses GRAB_JOB too: no job, no spin; it polls', async () => {
    perlLike();
    fake.refuse.add('GRAB_JOB');
    const worker = await start({ pollInterval: 100 });
    const events = worker.status();
    const iterator = worker[Symbol.asyncIterator]();
    void iterator.next();
    const seen = await refusals(events, 2);
    expect(seen.map((e) => (e as { fallback: unknown }).fallback)).toEqual(['GRAB_JOB', undefined]);
    await fake.until(() => worker.stats().servers[0]?.grab === 'sleeping');
    await sleep(250);
    // Polling every 100 ms, not thousands of GRABs.
    expect(grabs().length).toBeLessThan(10);
    expect(worker.state).toBe('running');
    await iterator.return?.();
  });
});

describe('WORK_EXCEPTION ends the job on every server', () => {
  test('a server that refused GRAB_JOB_UNIQ gets WORK_FAIL after WORK_EXCEPTION', async () => {
    perlLike();
    const worker = await start({ concurrency: 2 });
    const exception = fake.addJob('a', 'exception');
    const thrown = fake.addJob('a', 'throw');
    void worker.process(async (job) => {
      if (job.text() === 'exception') await job.exception('boom');
      else throw new Error('handler threw');
    });
    await fake.until(() => fake.results.get(thrown)?.length === 2);
    await fake.until(() => fake.results.get(exception)?.length === 2);
    for (const handle of [exception, thrown]) {
      expect(fake.results.get(handle)?.map((p) => p.type)).toEqual(['WORK_EXCEPTION', 'WORK_FAIL']);
    }
    expect(fake.held()).toEqual([]);
    expect(worker.stats()).toMatchObject({ exceptions: 2, failed: 0, jobNotFound: 0 });
  });

  test('and so does a job failed at its time limit there', async () => {
    perlLike();
    const worker = await start({ timeout: 30 });
    const handle = fake.addJob('a', 'slow');
    const iterator = worker[Symbol.asyncIterator]();
    const job = (await iterator.next()).value as Job;
    await fake.until(() => fake.results.get(handle)?.length === 2);
    expect(fake.results.get(handle)?.map((p) => p.type)).toEqual(['WORK_EXCEPTION', 'WORK_FAIL']);
    expect(job.signal.aborted).toBe(true);
    expect(fake.held()).toEqual([]);
    await iterator.return?.();
  });

  test('a server that knows GRAB_JOB_UNIQ gets WORK_EXCEPTION alone', async () => {
    const worker = await start();
    const handle = fake.addJob('a', 'x');
    void worker.process(() => {
      throw new Error('handler threw');
    });
    await fake.until(() => fake.results.has(handle));
    // A later job's GRAB reply comes after anything the server answered to the exception.
    const later = fake.addJob('a', 'y');
    await fake.until(() => fake.results.has(later));
    expect(fake.results.get(handle)?.map((p) => p.type)).toEqual(['WORK_EXCEPTION']);
    expect(worker.stats()).toMatchObject({ exceptions: 2, jobNotFound: 0 });
  });
});
