/**
 * Interoperability with PHP's gearman extension (php-gearman 2.1 on libgearman 1.1): PHP's
 * GearmanClient against our worker, and our client against PHP's GearmanWorker.
 *
 * What libgearman does that matters here: it sends OPTION_REQ "exceptions" on every
 * connection (so PHP clients receive WORK_EXCEPTION), it gives every job a UUID unique when the
 * caller sets none, and its workers grab with GRAB_JOB_ALL.
 */
import { randomBytes } from 'node:crypto';
import type { Job } from '@gearmanode/worker';
import { afterEach, describe, expect, inject, test } from 'vitest';
import { startGearmand } from '../gearmand.js';
import { uniqueName, waitFor } from '../helpers.js';
import {
  allByteValues,
  bytes,
  cleanup,
  defer,
  jobEvents,
  ourClient,
  ourWorker,
  payloadFile,
  perlWorker,
  phpClient,
  phpWorker,
  waitForWorkers,
} from './support.js';

const server = inject('gearman');

afterEach(cleanup);

const reverse = (job: Job): Buffer => Buffer.from(job.payload).reverse();

describe('PHP GearmanClient → our worker', () => {
  test('a foreground job returns the result and carries the UUID unique libgearman made up', async () => {
    const fn = uniqueName('php-fg');
    const uniques: string[] = [];
    await ourWorker(server, fn, (job) => {
      uniques.push(job.unique);
      return reverse(job);
    });

    const run = await phpClient(server, { function: fn, payload: 'hello world!' });

    const events = jobEvents(run.events);
    expect(
      events.map((e) => e.event),
      run.stderr,
    ).toEqual(['created', 'complete']);
    expect(bytes(events[1]).toString()).toBe('!dlrow olleh');
    expect(events[0]?.unique).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/,
    );
    expect(uniques).toEqual([events[0]?.unique]);
  });

  test.each(['high', 'normal', 'low'] as const)(
    'a foreground job at %s priority (doHigh/doNormal/doLow) completes',
    async (priority) => {
      const fn = uniqueName(`php-${priority}`);
      await ourWorker(server, fn, (job) => `${priority}:${job.text()}`);

      const run = await phpClient(server, { function: fn, mode: 'do', priority, payload: 'x' });

      const result = run.events.find((e) => e.event === 'result');
      expect(result?.returnCode, run.stderr).toBe(0); // GEARMAN_SUCCESS
      expect(bytes(result).toString()).toBe(`${priority}:x`);
    },
  );

  test('background jobs queued at low, normal and high priority reach our worker high first', async () => {
    const fn = uniqueName('php-prio');
    for (const priority of ['low', 'normal', 'high'] as const) {
      const run = await phpClient(server, {
        function: fn,
        mode: 'background',
        priority,
        payload: priority,
      });
      expect(run.events.find((e) => e.event === 'created')?.handle).toMatch(/^H:/);
    }
    const order: string[] = [];
    await ourWorker(server, fn, (job) => {
      order.push(job.text());
    });

    await waitFor(() => order.length === 3, { timeout: 10_000, what: 'three jobs' });
    expect(order).toEqual(['high', 'normal', 'low']);
  });

  test('a background job with a unique: PHP reads its status by handle while our worker runs it', async () => {
    const fn = uniqueName('php-bg');
    const unique = uniqueName('u');
    let release!: () => void;
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    const seen: { unique: string; payload: string }[] = [];
    await ourWorker(server, fn, async (job) => {
      seen.push({ unique: job.unique, payload: job.text() });
      await job.status(2, 5);
      await released;
    });

    const submitted = await phpClient(server, {
      function: fn,
      mode: 'background',
      unique,
      payload: 'in the background',
    });
    const handle = submitted.events.find((e) => e.event === 'created')?.handle as string;
    expect(handle, submitted.stderr).toMatch(/^H:/);
    await waitFor(() => seen.length === 1, { timeout: 10_000, what: 'the job' });
    expect(seen).toEqual([{ unique, payload: 'in the background' }]);

    const running = await waitFor(
      async () => {
        const run = await phpClient(server, { mode: 'status', handle });
        const status = run.events.find((e) => e.event === 'status');
        return status?.numerator === 2 ? status : undefined;
      },
      { timeout: 10_000, what: 'status 2/5' },
    );
    expect(running).toMatchObject({ known: true, running: true, numerator: 2, denominator: 5 });

    release();
    const finished = await waitFor(
      async () => {
        const run = await phpClient(server, { mode: 'status', handle });
        const status = run.events.find((e) => e.event === 'status');
        return status?.known === false ? status : undefined;
      },
      { timeout: 10_000, what: 'the job to finish' },
    );
    expect(finished).toMatchObject({ known: false, running: false });
  });

  test('two PHP clients with the same unique share one run of the job', async () => {
    const fn = uniqueName('php-unique');
    const unique = uniqueName('same');
    let release!: () => void;
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    let runs = 0;
    await ourWorker(server, fn, async (job) => {
      runs += 1;
      await released;
      return `ran ${job.text()}`;
    });
    const client = await ourClient(server);

    const first = phpClient(server, { function: fn, unique, payload: 'first' });
    await waitFor(async () => (await client.getStatus({ unique })).running, {
      timeout: 10_000,
      what: 'the first submission to run',
    });
    const second = phpClient(server, { function: fn, unique, payload: 'second' });
    await waitFor(async () => (await client.getStatus({ unique })).waitingClients === 2, {
      timeout: 10_000,
      what: 'the second submission to join',
    });
    release();

    const results = await Promise.all([first, second]);
    for (const run of results) {
      const complete = run.events.find((e) => e.event === 'complete');
      expect(bytes(complete).toString(), run.stderr).toBe('ran first');
    }
    const handles = results.map((run) => run.events.find((e) => e.event === 'created')?.handle);
    expect(handles[0]).toBe(handles[1]);
    expect(runs).toBe(1);
  });

  test('a payload with every byte value, zero bytes included, arrives intact both ways', async () => {
    const fn = uniqueName('php-binary');
    const payload = allByteValues();
    const received: Buffer[] = [];
    await ourWorker(server, fn, (job) => {
      received.push(Buffer.from(job.payload));
      return Buffer.concat([Buffer.from([0]), job.payload, Buffer.from([0])]);
    });

    const run = await phpClient(server, { function: fn, 'payload-file': payloadFile(payload) });

    expect(received).toEqual([payload]);
    const complete = run.events.find((e) => e.event === 'complete');
    expect(bytes(complete), run.stderr).toEqual(
      Buffer.concat([Buffer.from([0]), payload, Buffer.from([0])]),
    );
  });

  test('a 1 MiB payload and a 1 MiB result', async () => {
    const fn = uniqueName('php-1mib');
    const payload = randomBytes(1024 * 1024);
    await ourWorker(server, fn, reverse);

    const run = await phpClient(server, { function: fn, 'payload-file': payloadFile(payload) });

    const complete = run.events.find((e) => e.event === 'complete');
    expect(bytes(complete).equals(Buffer.from(payload).reverse()), run.stderr).toBe(true);
  });

  test('status, data and warning updates reach the PHP callbacks in order', async () => {
    const fn = uniqueName('php-progress');
    await ourWorker(server, fn, async (job) => {
      await job.status(1, 3);
      await job.data('chunk-1');
      await job.status(2, 3);
      await job.warning('careful');
      await job.data(Buffer.from([0, 1, 0]));
      await job.status(3, 3);
      return 'done';
    });

    const run = await phpClient(server, { function: fn, payload: 'p' });

    const events = jobEvents(run.events).map(({ event, numerator, denominator, data }) => ({
      event,
      ...(numerator !== undefined && { numerator, denominator }),
      ...(typeof data === 'string' && { data: Buffer.from(data, 'base64') }),
    }));
    expect(events.slice(1), run.stderr).toEqual([
      { event: 'status', numerator: 1, denominator: 3 },
      { event: 'data', data: Buffer.from('chunk-1') },
      { event: 'status', numerator: 2, denominator: 3 },
      { event: 'warning', data: Buffer.from('careful') },
      { event: 'data', data: Buffer.from([0, 1, 0]) },
      { event: 'status', numerator: 3, denominator: 3 },
      { event: 'complete', data: Buffer.from('done') },
    ]);
  });

  test('job.fail() reaches PHP as the fail callback and GEARMAN_WORK_FAIL', async () => {
    const fn = uniqueName('php-fail');
    await ourWorker(server, fn, (job) => job.fail());

    const task = await phpClient(server, { function: fn, payload: 'p' });
    const blocking = await phpClient(server, { function: fn, mode: 'do', payload: 'p' });

    expect(
      jobEvents(task.events).map((e) => e.event),
      task.stderr,
    ).toEqual(['created', 'fail']);
    expect(blocking.events.find((e) => e.event === 'result')).toMatchObject({
      returnCode: 24, // GEARMAN_WORK_FAIL
      error: 'GEARMAN_WORK_FAIL',
    });
  });

  test('job.exception() reaches PHP as the exception callback with its data', async () => {
    const fn = uniqueName('php-exception');
    await ourWorker(server, fn, (job) => job.exception(new Error(`bad input ${job.text()}`)));

    const task = await phpClient(server, { function: fn, payload: 'p' });
    const blocking = await phpClient(server, { function: fn, mode: 'do', payload: 'p' });

    const events = jobEvents(task.events);
    expect(
      events.map((e) => e.event),
      task.stderr,
    ).toEqual(['created', 'exception']);
    expect(bytes(events[1]).toString()).toBe('bad input p');
    // doNormal() reports the exception by its return code only; the data is not returned.
    expect(blocking.events.find((e) => e.event === 'result')).toMatchObject({
      returnCode: 23, // GEARMAN_WORK_EXCEPTION
      data: '',
    });
  });
});

describe('our client → PHP GearmanWorker', () => {
  test('a foreground job returns the result; the worker sees our unique, or none', async () => {
    const fn = uniqueName('php-w-fg');
    const worker = phpWorker(server, { function: fn, mode: 'reverse' });
    await waitForWorkers(server, fn);
    const client = await ourClient(server);
    const unique = uniqueName('u');

    expect((await client.submit(fn, 'hello world!', { unique })).toString()).toBe('!dlrow olleh');
    expect((await client.submit(fn, 'abc')).toString()).toBe('cba');

    // The worker prints its job line and sends the result independently: the result may win.
    const jobs = await waitFor(
      () => {
        const seen = worker.events.filter((e) => e.event === 'job');
        return seen.length >= 2 ? seen : undefined;
      },
      { timeout: 10_000, what: "the PHP worker's two job lines" },
    );
    expect(jobs.map((e) => e.unique)).toEqual([unique, '']);
  });

  test('background jobs queued at low, normal and high priority reach the PHP worker high first', async () => {
    const fn = uniqueName('php-w-prio');
    const client = await ourClient(server);
    for (const priority of ['low', 'normal', 'high'] as const) {
      await client.submitBackground(fn, priority, { priority });
    }
    const worker = phpWorker(server, { function: fn, mode: 'echo', count: 3 });

    expect(await worker.exited).toMatchObject({ code: 0 });
    const order = worker.events.filter((e) => e.event === 'job').map((e) => bytes(e).toString());
    expect(order, worker.describe()).toEqual(['high', 'normal', 'low']);
  });

  test('foreground jobs at each priority complete on the PHP worker', async () => {
    const fn = uniqueName('php-w-prios');
    phpWorker(server, { function: fn, mode: 'reverse' });
    await waitForWorkers(server, fn);
    const client = await ourClient(server);

    const results = await Promise.all(
      (['high', 'normal', 'low'] as const).map((priority) =>
        client.submit(fn, priority, { priority }),
      ),
    );

    expect(results.map(String)).toEqual(['hgih', 'lamron', 'wol']);
  });

  test('a background job: getStatus by handle and by unique until the PHP worker has run it', async () => {
    const fn = uniqueName('php-w-bg');
    const client = await ourClient(server);
    const unique = uniqueName('u');
    const handle = await client.submitBackground(fn, 'later', { unique });

    expect(await client.getStatus(handle)).toMatchObject({ handle, known: true, running: false });
    expect(await client.getStatus({ unique })).toMatchObject({
      unique,
      known: true,
      waitingClients: 0,
    });

    const worker = phpWorker(server, { function: fn, mode: 'echo', count: 1 });
    const job = await worker.waitForEvent('job');
    expect(job).toMatchObject({ handle, unique });
    expect(bytes(job).toString()).toBe('later');
    await worker.exited;
    expect(await client.getStatus(handle)).toMatchObject({ known: false, running: false });
  });

  test('every byte value and a 1 MiB payload round-trip through the PHP worker', async () => {
    const fn = uniqueName('php-w-bytes');
    phpWorker(server, { function: fn, mode: 'echo' });
    await waitForWorkers(server, fn);
    const client = await ourClient(server);
    const binary = allByteValues();
    const large = randomBytes(1024 * 1024);

    expect(await client.submit(fn, binary)).toEqual(binary);
    expect((await client.submit(fn, large)).equals(large)).toBe(true);
  });

  test('status, data and warning from the PHP worker arrive as events, in order', async () => {
    const fn = uniqueName('php-w-progress');
    phpWorker(server, { function: fn, mode: 'progress' });
    await waitForWorkers(server, fn);
    const client = await ourClient(server);

    const run = client.start(fn, 'p', { encoding: 'utf8' });
    const events = [];
    for await (const event of run) events.push(event);

    expect(events).toEqual([
      { type: 'created', handle: expect.stringMatching(/^H:/) },
      { type: 'status', numerator: 1, denominator: 3 },
      { type: 'data', data: 'chunk-1' },
      { type: 'status', numerator: 2, denominator: 3 },
      { type: 'warning', data: 'careful' },
      { type: 'data', data: 'chunk-2' },
      { type: 'status', numerator: 3, denominator: 3 },
    ]);
    expect(await run.result()).toBe('done:p');
  });

  test('sendFail() rejects our submit with ERR_JOB_FAILED', async () => {
    const fn = uniqueName('php-w-fail');
    phpWorker(server, { function: fn, mode: 'fail' });
    await waitForWorkers(server, fn);
    const client = await ourClient(server);

    await expect(client.submit(fn, 'p')).rejects.toMatchObject({
      code: 'ERR_JOB_FAILED',
      handle: expect.stringMatching(/^H:/),
    });
  });

  test('sendException() rejects our submit with ERR_JOB_EXCEPTION and its data', async () => {
    const fn = uniqueName('php-w-exception');
    phpWorker(server, { function: fn, mode: 'exception' });
    await waitForWorkers(server, fn);
    const client = await ourClient(server);

    const error = await client.submit(fn, 'p').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toMatchObject({
      code: 'ERR_JOB_EXCEPTION',
      data: Buffer.from('php exception: p'),
    });
  });

  test('a PHP worker killed mid-job: the job re-runs on a surviving Perl worker', async () => {
    const fn = uniqueName('php-w-die');
    const dying = phpWorker(server, { function: fn, mode: 'die' });
    await waitForWorkers(server, fn);
    const client = await ourClient(server);

    const run = client.start(fn, 'survive me', { encoding: 'utf8' });
    const events: unknown[] = [];
    const iterated = (async () => {
      for await (const event of run) events.push(event);
    })();
    await dying.waitForEvent('dying');
    expect(await dying.exited).toMatchObject({ signal: 'SIGKILL' });
    // Started only now, so that the job cannot have gone to it first.
    const survivor = perlWorker(server, { function: fn, mode: 'reverse' });

    expect(await run.result()).toBe('em evivrus');
    await iterated;
    // The first attempt's progress reached us; nothing tells a client that the job was retried.
    expect(events).toEqual([
      { type: 'created', handle: expect.stringMatching(/^H:/) },
      { type: 'status', numerator: 1, denominator: 2 },
    ]);
    // Its job line and its result travel apart; wait for the line rather than race it.
    await survivor.waitForEvent('job');
    expect(survivor.events.filter((e) => e.event === 'job')).toHaveLength(1);
  });

  test('exit() inside a PHP worker function reaches us as ERR_JOB_EXCEPTION "Unable to add worker function"', async () => {
    // A php-gearman quirk: when the callback does not return (exit), the extension still sends
    // WORK_EXCEPTION, with a misleading message, instead of leaving the job to be re-run.
    const fn = uniqueName('php-w-exit');
    const worker = phpWorker(server, { function: fn, mode: 'exit' });
    await waitForWorkers(server, fn);
    const client = await ourClient(server);

    await expect(client.submit(fn, 'p')).rejects.toMatchObject({
      code: 'ERR_JOB_EXCEPTION',
      data: Buffer.from('Unable to add worker function'),
    });
    expect(await worker.exited).toMatchObject({ code: 3 });
  });

  test('with gearmand --job-retries 1, a PHP worker killed mid-job fails our submit with ERR_JOB_FAILED', async () => {
    const gearmand = await startGearmand({ args: ['--job-retries', '1'] });
    defer(() => gearmand.stop());
    const own = { host: gearmand.host, port: gearmand.port };
    const fn = uniqueName('php-w-retries');
    const dying = phpWorker(own, { function: fn, mode: 'die' });
    await waitForWorkers(own, fn);
    const client = await ourClient(own);

    const outcome = client.submit(fn, 'p').then(
      () => 'completed',
      (error: unknown) => error,
    );
    await dying.exited;

    expect(await outcome).toMatchObject({ code: 'ERR_JOB_FAILED' });
  });
});
