/**
 * Interoperability with Perl's Gearman::Client and Gearman::Worker 2.004 (libgearman-client-perl),
 * a pure-Perl implementation of the protocol.
 *
 * What it does differently: the client asks for exceptions only with `exceptions => 1` and does
 * not send a unique unless given one; the worker grabs with GRAB_JOB (no unique) and reports a
 * handler that dies as WORK_EXCEPTION carrying a Storable-frozen message. Several of its bugs
 * show up here; each test that meets one says so and asserts what the library really does.
 */
import { randomBytes } from 'node:crypto';
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
  perlClient,
  perlWorker,
  waitForWorkers,
} from './support.js';

const server = inject('gearman');

afterEach(cleanup);

describe('Perl Gearman::Client → our worker', () => {
  test('a foreground job: status, data and warning reach the callbacks in order, then the result', async () => {
    const fn = uniqueName('perl-fg');
    await ourWorker(server, fn, async (job) => {
      await job.status(1, 2);
      await job.data('chunk-1');
      await job.warning('careful');
      await job.status(2, 2);
      return Buffer.from(job.payload).reverse();
    });

    const run = await perlClient(server, { function: fn, payload: 'hello world!' });

    const events = jobEvents(run.events).map(({ event, numerator, denominator, data }) => ({
      event,
      ...(numerator !== undefined && { numerator, denominator }),
      ...(typeof data === 'string' && { data: Buffer.from(data, 'base64').toString() }),
    }));
    expect(events, run.stderr).toEqual([
      { event: 'created' },
      // Gearman::Client passes the status fields on as the strings it received.
      { event: 'status', numerator: '1', denominator: '2' },
      { event: 'data', data: 'chunk-1' },
      { event: 'warning', data: 'careful' },
      { event: 'status', numerator: '2', denominator: '2' },
      { event: 'complete', data: '!dlrow olleh' },
    ]);
  });

  test('background jobs dispatched at low, normal and high priority reach our worker high first', async () => {
    const fn = uniqueName('perl-prio');
    for (const priority of ['low', 'normal', 'high'] as const) {
      const run = await perlClient(server, {
        function: fn,
        mode: 'background',
        priority,
        payload: priority,
      });
      expect(run.events.find((e) => e.event === 'created')?.handle, run.stderr).toMatch(/\/\/H:/);
    }
    const order: string[] = [];
    await ourWorker(server, fn, (job) => {
      order.push(job.text());
    });

    await waitFor(() => order.length === 3, { timeout: 10_000, what: 'three jobs' });
    expect(order).toEqual(['high', 'normal', 'low']);
  });

  test('a background job with a unique: get_status sees our progress, then the job gone', async () => {
    const fn = uniqueName('perl-bg');
    const unique = uniqueName('u');
    let release!: () => void;
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    const uniques: string[] = [];
    await ourWorker(server, fn, async (job) => {
      uniques.push(job.unique);
      await job.status(3, 4);
      await released;
    });

    const submitted = await perlClient(server, {
      function: fn,
      mode: 'background',
      unique,
      payload: 'p',
    });
    // Gearman::Client prefixes the server's handle with the server's address.
    const handle = submitted.events.find((e) => e.event === 'created')?.handle as string;
    expect(handle, submitted.stderr).toBe(
      `${server.host}:${server.port}//${handle.split('//')[1]}`,
    );

    const running = await waitFor(
      async () => {
        const run = await perlClient(server, { mode: 'status', handle });
        const status = run.events.find((e) => e.event === 'status');
        return status?.numerator === '3' ? status : undefined;
      },
      { timeout: 10_000, what: 'status 3/4' },
    );
    expect(running).toMatchObject({ known: true, running: true, denominator: '4' });
    expect(uniques).toEqual([unique]);

    release();
    await waitFor(
      async () => {
        const run = await perlClient(server, { mode: 'status', handle });
        return run.events.find((e) => e.event === 'status')?.known === false;
      },
      { timeout: 10_000, what: 'the job to finish' },
    );
  });

  test('foreground jobs at each priority carry their unique to our worker', async () => {
    const fn = uniqueName('perl-unique');
    const seen: string[] = [];
    await ourWorker(server, fn, (job) => {
      seen.push(job.unique);
      return job.unique;
    });

    for (const priority of ['high', 'normal', 'low'] as const) {
      const unique = uniqueName(priority);
      const run = await perlClient(server, { function: fn, priority, unique, payload: 'p' });
      expect(bytes(run.events.find((e) => e.event === 'complete')).toString(), run.stderr).toBe(
        unique,
      );
    }
    // Without a unique Gearman::Client sends an empty one.
    await perlClient(server, { function: fn, payload: 'p' });
    expect(seen.at(-1)).toBe('');
  });

  test('a payload with every byte value, zero bytes included, arrives intact both ways', async () => {
    const fn = uniqueName('perl-binary');
    const payload = allByteValues();
    const received: Buffer[] = [];
    await ourWorker(server, fn, (job) => {
      received.push(Buffer.from(job.payload));
      return Buffer.from(job.payload).reverse();
    });

    const run = await perlClient(server, { function: fn, 'payload-file': payloadFile(payload) });

    expect(received).toEqual([payload]);
    expect(bytes(run.events.find((e) => e.event === 'complete')), run.stderr).toEqual(
      Buffer.from(payload).reverse(),
    );
  });

  test('a 1 MiB payload and a 1 MiB result', async () => {
    const fn = uniqueName('perl-1mib');
    const payload = randomBytes(1024 * 1024);
    await ourWorker(server, fn, (job) => Buffer.from(job.payload).reverse());

    const run = await perlClient(server, { function: fn, 'payload-file': payloadFile(payload) });

    const complete = run.events.find((e) => e.event === 'complete');
    expect(bytes(complete).equals(Buffer.from(payload).reverse()), run.stderr).toBe(true);
  });

  test('job.fail() reaches on_fail', async () => {
    const fn = uniqueName('perl-fail');
    await ourWorker(server, fn, (job) => job.fail());

    const run = await perlClient(server, { function: fn, payload: 'p' });

    expect(jobEvents(run.events), run.stderr).toEqual([
      { event: 'created', handle: expect.stringMatching(/\/\/H:/) },
      { event: 'fail', reason: 'jshandle fail' },
    ]);
  });

  test('job.exception() reaches on_exception with its data when the client asked for exceptions', async () => {
    const fn = uniqueName('perl-exception');
    await ourWorker(server, fn, (job) => job.exception(`bad input ${job.text()}`));

    const run = await perlClient(server, { function: fn, payload: 'p', exceptions: true });

    const events = jobEvents(run.events);
    // on_exception only: Gearman::Client calls neither on_fail nor on_complete after it.
    expect(
      events.map((e) => e.event),
      run.stderr,
    ).toEqual(['created', 'exception']);
    expect(bytes(events[1]).toString()).toBe('bad input p');
  });

  test('BUG in Gearman::Client: without exceptions, a job exception makes the client die', async () => {
    // gearmand passes WORK_EXCEPTION on to a client that did not ask for exceptions as WORK_FAIL
    // whose body is the handle plus one zero byte (protocol.md section 11, item 11).
    // Gearman::Client looks the whole body up as the handle, finds no task and croaks.
    const fn = uniqueName('perl-exception-off');
    await ourWorker(server, fn, (job) => job.exception('bad input'));

    const run = await perlClient(server, { function: fn, payload: 'p' });

    const died = run.events.find((e) => e.event === 'died');
    expect(died?.error, run.stderr).toMatch(
      /^Job server failure: Got work_fail for unknown handle: H:\S+\0 at /,
    );
    expect(run.events.some((e) => e.event === 'fail')).toBe(false);
  });

  test('BUG in Gearman::Client: a payload of "0" is sent as an empty payload', async () => {
    // Gearman::Task::pack_submit_packet writes `${ $self->{argref} } || ''`.
    const fn = uniqueName('perl-zero');
    const payloads: Buffer[] = [];
    await ourWorker(server, fn, (job) => {
      payloads.push(Buffer.from(job.payload));
      return `got ${job.payload.length} bytes`;
    });

    const run = await perlClient(server, { function: fn, payload: '0' });

    expect(bytes(run.events.find((e) => e.event === 'complete')).toString(), run.stderr).toBe(
      'got 0 bytes',
    );
    expect(payloads).toEqual([Buffer.alloc(0)]);
  });
});

describe('our client → Perl Gearman::Worker', () => {
  test('a foreground job with progress: every event arrives, then the result', async () => {
    const fn = uniqueName('perl-w-progress');
    perlWorker(server, { function: fn, mode: 'progress' });
    await waitForWorkers(server, fn);
    const client = await ourClient(server);

    const run = client.start(fn, 'p', { encoding: 'utf8', priority: 'high' });
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

  test('background jobs at low, normal and high priority reach the Perl worker high first', async () => {
    const fn = uniqueName('perl-w-prio');
    const client = await ourClient(server);
    for (const priority of ['low', 'normal', 'high'] as const) {
      await client.submitBackground(fn, priority, { priority });
    }
    const worker = perlWorker(server, { function: fn, mode: 'echo', count: 3 });

    expect(await worker.exited, worker.describe()).toMatchObject({ code: 0 });
    const order = worker.events.filter((e) => e.event === 'job').map((e) => bytes(e).toString());
    expect(order).toEqual(['high', 'normal', 'low']);
  });

  test('every byte value and a 1 MiB payload round-trip through the Perl worker', async () => {
    const fn = uniqueName('perl-w-bytes');
    perlWorker(server, { function: fn, mode: 'reverse' });
    await waitForWorkers(server, fn);
    const client = await ourClient(server);
    const binary = allByteValues();
    const large = randomBytes(1024 * 1024);

    expect(await client.submit(fn, binary)).toEqual(Buffer.from(binary).reverse());
    expect((await client.submit(fn, large)).equals(Buffer.from(large).reverse())).toBe(true);
  });

  test('a handler returning undef rejects our submit with ERR_JOB_FAILED', async () => {
    const fn = uniqueName('perl-w-fail');
    perlWorker(server, { function: fn, mode: 'fail' });
    await waitForWorkers(server, fn);
    const client = await ourClient(server);

    await expect(client.submit(fn, 'p')).rejects.toMatchObject({ code: 'ERR_JOB_FAILED' });
  });

  test('send_work_exception rejects our submit with ERR_JOB_EXCEPTION and its data', async () => {
    const fn = uniqueName('perl-w-exception');
    perlWorker(server, { function: fn, mode: 'exception' });
    await waitForWorkers(server, fn);
    const client = await ourClient(server);

    await expect(client.submit(fn, 'p')).rejects.toMatchObject({
      code: 'ERR_JOB_EXCEPTION',
      data: Buffer.from('perl exception: p'),
    });
  });

  test('BUG in Gearman::Worker: a handler that dies gives us ERR_JOB_EXCEPTION, then the worker process dies', async () => {
    // Gearman::Worker sends WORK_EXCEPTION with the Storable-frozen message and then WORK_FAIL
    // as well. gearmand answers the second with ERROR JOB_NOT_FOUND, which the worker reads as
    // the reply to its next GRAB_JOB, and dies.
    const fn = uniqueName('perl-w-die');
    const worker = perlWorker(server, { function: fn, mode: 'die' });
    await waitForWorkers(server, fn);
    const client = await ourClient(server);

    const error = await client.submit(fn, 'p').then(
      () => undefined,
      (e: unknown) => e as { code: string; data: Buffer },
    );

    expect(error?.code).toBe('ERR_JOB_EXCEPTION');
    // The data is Storable's nfreeze of the message: a binary header (major version 2 shifted
    // left, so 0x05), the type of a scalar (0x0a), its length, then the bytes.
    const message = 'perl died: p\n';
    expect(error?.data).toEqual(
      Buffer.concat([
        Buffer.from([0x05, error?.data[1] ?? -1, 0x0a, message.length]),
        Buffer.from(message),
      ]),
    );
    expect(await worker.exited).toMatchObject({ code: 255 });
    expect(worker.stderr()).toContain(
      'unexpected packet type: error [JOB_NOT_FOUND -- Job given in work result not found]',
    );
  });

  test('a Perl worker killed mid-job: the job re-runs on our worker', async () => {
    const fn = uniqueName('perl-w-kill');
    const dying = perlWorker(server, { function: fn, mode: 'kill' });
    await waitForWorkers(server, fn);
    const client = await ourClient(server);

    const run = client.start(fn, 'again', { encoding: 'utf8' });
    await dying.waitForEvent('dying');
    expect(await dying.exited).toMatchObject({ signal: 'SIGKILL' });
    const attempts: string[] = [];
    await ourWorker(server, fn, (job) => {
      attempts.push(job.handle);
      return `ours: ${job.text()}`;
    });

    expect(await run.result()).toBe('ours: again');
    expect(attempts).toEqual([run.handle]);
  });

  test('BUG in Gearman::Worker: a result of "0" is sent without its separator, and the job loops', async () => {
    // Gearman::Worker::_job_request writes `$v ? join("\0", $handle, $v) : $handle`, so a false
    // result ("0" or "") becomes a WORK_COMPLETE without the result field. gearmand drops the
    // connection (protocol.md section 11, item 6) and re-queues the job; the worker reconnects
    // and gets it again, without end. Our submit only ends at its timeout.
    const gearmand = await startGearmand();
    defer(() => gearmand.stop());
    const own = { host: gearmand.host, port: gearmand.port };
    const fn = uniqueName('perl-w-zero');
    const worker = perlWorker(own, { function: fn, mode: 'echo' });
    await waitForWorkers(own, fn);
    const client = await ourClient(own);

    const outcome = client.submit(fn, '0', { timeout: 2_000 }).then(
      () => 'completed',
      (error: unknown) => error,
    );
    const deliveries = (): number => worker.events.filter((e) => e.event === 'job').length;
    await waitFor(() => deliveries() >= 3, { timeout: 10_000, what: 'three deliveries' });

    expect(await outcome).toMatchObject({ code: 'ERR_TIMEOUT' });
    const handles = new Set(worker.events.filter((e) => e.event === 'job').map((e) => e.handle));
    expect(handles.size).toBe(1);
  });
});
