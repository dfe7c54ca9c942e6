import { randomBytes } from 'node:crypto';
import { type Client, createClient, type JobEvent } from '@gearmanode/client';
import { afterAll, afterEach, beforeAll, describe, expect, inject, test } from 'vitest';
import { uniqueName, waitFor } from '../../../test/helpers.js';
import { expectIdle } from './support/idle.js';
import { type Script, scripts, startTestWorker, type TestWorker } from './support/workers.js';

const gearman = inject('gearman');
const servers = [`${gearman.host}:${gearman.port}`];
let worker: TestWorker;
const clients: Client[] = [];

beforeAll(async () => {
  worker = await startTestWorker({ ...gearman, functions: {}, concurrency: 64 });
});
afterAll(async () => {
  await worker.close();
});
afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close({ timeout: 1000 })));
});

async function client(options: Parameters<typeof createClient>[0] = {}): Promise<Client> {
  const created = await createClient({ servers, ...options });
  clients.push(created);
  return created;
}

function fn(prefix: string, script: Script): string {
  const name = uniqueName(prefix);
  worker.add(name, script);
  return name;
}

describe('client against gearmand', () => {
  test('runs thousands of concurrent submits and returns each its own result', async () => {
    const name = fn('reverse', scripts.reverse);
    const c = await client({ maxInFlight: 256 });
    const inputs = Array.from({ length: 5000 }, (_, i) => `job-${i}-${'x'.repeat(i % 50)}`);
    const results = await Promise.all(inputs.map((input) => c.submit(name, input)));
    results.forEach((result, i) => {
      expect(result.toString()).toBe([...(inputs[i] as string)].reverse().join(''));
    });
    expect(c.stats()).toMatchObject({ submitted: 5000, completed: 5000, inFlight: 0 });
    await expectIdle(c);
  });

  test('large results arrive whole and exact, several back to back, small ones between', async () => {
    const name = fn('reverse', scripts.reverse);
    const c = await client();
    const inputs = [
      randomBytes(3 * 1024 * 1024),
      Buffer.from('small'),
      randomBytes(64 * 1024 + 1),
      randomBytes(700_000),
      Buffer.alloc(0),
      randomBytes(1024 * 1024),
    ];
    const results = await Promise.all(inputs.map((input) => c.submit(name, input)));
    results.forEach((result, i) => {
      expect(result.equals(Buffer.from(inputs[i] as Buffer).reverse())).toBe(true);
    });
  });

  test('start() yields progress events in order, then the result', async () => {
    const name = fn('progress', scripts.progress);
    const c = await client();
    const run = c.start(name, 'hello', { encoding: 'utf8' });
    const events: JobEvent<string>[] = [];
    for await (const event of run) events.push(event);
    expect(await run.result()).toBe('HELLO');
    expect(events.map((e) => e.type)).toEqual([
      'created',
      'status',
      'data',
      'status',
      'warning',
      'status',
    ]);
    expect(events[0]).toEqual({ type: 'created', handle: run.handle });
    expect(events.filter((e) => e.type === 'status')).toEqual([
      { type: 'status', numerator: 1, denominator: 3 },
      { type: 'status', numerator: 2, denominator: 3 },
      { type: 'status', numerator: 3, denominator: 3 },
    ]);
    expect(events[2]).toEqual({ type: 'data', data: 'data:hello' });
    expect(events[4]).toEqual({ type: 'warning', data: 'careful' });
    await expectIdle(c);
  });

  test('events are kept for an iterator that starts after the job finished', async () => {
    const name = fn('late', scripts.progress);
    const c = await client();
    const run = c.start(name, 'late');
    expect((await run.result()).toString()).toBe('LATE');
    const types: string[] = [];
    for await (const event of run) types.push(event.type);
    expect(types).toEqual(['created', 'status', 'data', 'status', 'warning', 'status']);
    await expectIdle(c);
  });

  test('a background job resolves with its handle; status by handle and by unique', async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const name = fn('bg', async (job) => {
      await job.status(5, 10);
      await gate;
      return 'done';
    });
    const c = await client();
    const unique = uniqueName('bg-u');
    const handle = await c.submitBackground(name, 'payload', { unique });
    expect(handle).toMatch(/^H:/);
    const running = await waitFor(async () => {
      const status = await c.getStatus(handle);
      return status.running && status.numerator === 5 ? status : undefined;
    });
    expect(running).toEqual({ handle, known: true, running: true, numerator: 5, denominator: 10 });
    expect(await c.getStatus({ unique })).toEqual({
      unique,
      known: true,
      running: true,
      numerator: 5,
      denominator: 10,
      waitingClients: 0,
    });
    release();
    await waitFor(async () => !(await c.getStatus(handle)).known);
    expect(await c.getStatus({ unique })).toMatchObject({ known: false, running: false });
    expect(c.stats().created).toBe(1);
    await expectIdle(c);
  });

  test('a background job without a unique is sent with a random one; a foreground job is not', async () => {
    const uniques: string[] = [];
    const name = fn('bg-auto', (job) => {
      uniques.push(job.unique);
      return '';
    });
    const c = await client();
    await c.submitBackground(name, 'a');
    await c.submitBackground(name, 'b');
    await c.submit(name, 'c');
    await waitFor(() => uniques.length === 3);
    const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
    const [first, second, third] = [...uniques].sort();
    expect(third).toMatch(uuid);
    expect(second).toMatch(uuid);
    expect(second).not.toBe(third);
    expect(first).toBe(''); // the foreground one
    await expectIdle(c);
  });

  test('two submits with one unique coalesce: one run, both get the result', async () => {
    const name = fn('coalesce', scripts.sleep(300));
    const c = await client();
    const other = await client();
    const unique = uniqueName('co');
    const before = worker.jobs.length;
    const first = c.start(name, 'first', { unique, encoding: 'utf8' });
    await waitFor(() => first.handle);
    const [a, b, d] = await Promise.all([
      first.result(),
      other.submit(name, 'second', { unique, encoding: 'utf8' }),
      c.submit(name, 'third', { unique, encoding: 'utf8' }), // same connection, same unique
    ]);
    expect([a, b, d]).toEqual(['first', 'first', 'first']);
    expect(worker.jobs.slice(before).filter((job) => job.name === name)).toHaveLength(1);
    await expectIdle(c);
    await expectIdle(other);
  });

  test('one connection submitting one unique twice: each run gets every event once', async () => {
    const name = fn('twice', async (job) => {
      await new Promise((resolve) => setTimeout(resolve, 100));
      return scripts.progress(job);
    });
    const c = await client();
    const unique = uniqueName('twice');
    const runs = [c.start(name, 'a', { unique }), c.start(name, 'b', { unique })];
    const collected = await Promise.all(
      runs.map(async (run) => {
        const types: string[] = [];
        for await (const event of run) types.push(event.type);
        return { types, result: (await run.result()).toString() };
      }),
    );
    for (const { types, result } of collected) {
      expect(types).toEqual(['created', 'status', 'data', 'status', 'warning', 'status']);
      expect(result).toBe('A');
    }
    await expectIdle(c);
  });

  test('a scheduled (epoch) job does not run before its time', async () => {
    const name = fn('epoch', scripts.echo);
    const c = await client();
    const at = new Date((Math.floor(Date.now() / 1000) + 2) * 1000);
    const handle = await c.submitBackground(name, 'later', { at });
    const status = await c.getStatus(handle);
    expect(status).toMatchObject({ known: true, running: false });
    const job = await waitFor(() => worker.jobs.find((j) => j.handle === handle), {
      timeout: 6000,
    });
    expect(job.receivedAt).toBeGreaterThanOrEqual(at.getTime() - 50);
    await expectIdle(c);
  });

  test('WORK_FAIL rejects with JobFailedError, WORK_EXCEPTION with JobExceptionError', async () => {
    const failing = fn('fail', scripts.fail);
    const throwing = fn('exception', scripts.exception);
    const c = await client();
    await expect(c.submit(failing, 'x')).rejects.toMatchObject({
      name: 'JobFailedError',
      code: 'ERR_JOB_FAILED',
      handle: expect.stringMatching(/^H:/),
    });
    const error = await c.submit(throwing, 'x').catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'JobExceptionError', code: 'ERR_JOB_EXCEPTION' });
    expect((error as { data: Buffer }).data.toString()).toBe('it broke');
    expect(c.stats()).toMatchObject({ failed: 1, exceptions: 1 });
    await expectIdle(c);
  });

  test('timeout and abort stop the waiting, not the job', async () => {
    const name = fn('slow', scripts.sleep(300));
    const c = await client();
    const before = worker.jobs.length;
    await expect(c.submit(name, 't', { timeout: 50 })).rejects.toMatchObject({
      code: 'ERR_TIMEOUT',
    });
    const controller = new AbortController();
    const reason = new Error('user gave up');
    const aborted = c.submit(name, 'a', { signal: controller.signal });
    setTimeout(() => controller.abort(reason), 50);
    await expect(aborted).rejects.toBe(reason);
    await expect(c.submit(name, 'x', { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    expect(c.stats()).toMatchObject({ timeouts: 1, aborted: 1 });
    // Both jobs still ran on the worker; their ghosts leave with the results.
    await waitFor(() => worker.jobs.slice(before).filter((j) => j.name === name).length === 2);
    await expectIdle(c);
  });

  test('priorities order the queue of one function', async () => {
    const name = uniqueName('prio');
    const c = await client();
    const order: string[] = [];
    const submits = [
      c.submitBackground(name, 'low', { priority: 'low' }),
      c.submitBackground(name, 'normal', { priority: 'normal' }),
      c.submitBackground(name, 'high', { priority: 'high' }),
    ];
    await Promise.all(submits);
    const solo = await startTestWorker({
      ...gearman,
      concurrency: 1,
      functions: {
        [name]: (job) => {
          order.push(job.text());
          return '';
        },
      },
    });
    try {
      await waitFor(() => order.length === 3);
      expect(order).toEqual(['high', 'normal', 'low']);
      await expectIdle(c);
    } finally {
      await solo.close();
    }
  });

  test('reduce jobs carry their reducer (SUBMIT_REDUCE_JOB, five fields)', async () => {
    const name = fn('reduce', scripts.echo);
    const c = await client();
    expect((await c.submit(name, 'a\0b', { reducer: 'sum' })).toString()).toBe('a\0b');
    const handle = await c.submitBackground(name, 'bg', { reducer: 'sum' });
    expect(handle).toMatch(/^H:/);
    await expect(c.submit(name, 'x', { reducer: 'sum', priority: 'high' })).rejects.toMatchObject({
      code: 'ERR_INVALID_ARGUMENT',
      field: 'priority',
    });
    await expectIdle(c);
  });

  test('echo, setClientId and clientId', async () => {
    const c = await client({ clientId: 'client-one' });
    expect(await c.echo('ping')).toEqual(Buffer.from('ping'));
    expect(await c.echo()).toEqual(Buffer.alloc(0));
    c.setClientId('client-two');
    expect(() => c.setClientId('has space')).toThrow(/printable/);
    await expectIdle(c);
  });

  test('close() waits for jobs in flight; destroy() rejects them at once', async () => {
    const name = fn('closing', scripts.sleep(200));
    const c = await createClient({ servers });
    const pending = c.submit(name, 'finish me');
    await new Promise((resolve) => setTimeout(resolve, 20));
    const closing = c.close();
    expect(c.state).toBe('draining');
    await expect(c.submit(name, 'late')).rejects.toMatchObject({ code: 'ERR_CLOSED' });
    expect((await pending).toString()).toBe('finish me');
    await closing;
    expect(c.state).toBe('closed');
    await c.close(); // idempotent

    const d = await createClient({ servers });
    const doomed = d.submit(name, 'x');
    await new Promise((resolve) => setTimeout(resolve, 20));
    d.destroy();
    d.destroy();
    await expect(doomed).rejects.toMatchObject({ code: 'ERR_CLOSED' });
    expect(await d.closed).toBeUndefined();
  });

  test('close({ timeout }) rejects what is still running when the time is up', async () => {
    const name = fn('stuck', scripts.sleep(2000));
    const c = await createClient({ servers });
    const pending = c.submit(name, 'x').catch((error: unknown) => error);
    await new Promise((resolve) => setTimeout(resolve, 20));
    const started = Date.now();
    await c.close({ timeout: 100 });
    expect(Date.now() - started).toBeLessThan(1000);
    expect(await pending).toMatchObject({ code: 'ERR_CLOSED' });
  });

  test('await using closes the client', async () => {
    const name = fn('dispose', scripts.echo);
    let closed: Promise<unknown>;
    {
      await using c = await createClient({ servers });
      closed = c.closed;
      expect((await c.submit(name, 'x')).toString()).toBe('x');
    }
    expect(await closed).toBeUndefined();
  });
});
