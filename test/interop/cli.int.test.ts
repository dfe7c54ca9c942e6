/**
 * Interoperability with the C library: the `gearman` command-line tool of gearman-tools 1.1.20
 * (libgearman). As a client it submits its arguments (one job each) or stdin, prints WORK_DATA
 * and the result to stdout, status as "N% Complete" lines and warnings to stderr. As a worker
 * (`-w`) it runs a command per job with the payload on stdin and sends back its stdout.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, inject, test } from 'vitest';
import { uniqueName, waitFor } from '../helpers.js';
import {
  allByteValues,
  cleanup,
  functionStatus,
  gearmanClient,
  gearmanWorker,
  ourClient,
  ourWorker,
  payloadFile,
  waitForWorkers,
} from './support.js';

const server = inject('gearman');

afterEach(cleanup);

/** Reads all of stdin before writing, so large payloads cannot fill both pipes at once. */
const BUFFERED_CAT = ['sh', '-c', 'f=$(mktemp); cat > "$f"; cat "$f"; rm -f "$f"'];

describe('gearman CLI client → our worker', () => {
  test('a foreground job prints the result; libgearman made up a UUID unique', async () => {
    const fn = uniqueName('cli-fg');
    const uniques: string[] = [];
    await ourWorker(server, fn, (job) => {
      uniques.push(job.unique);
      return Buffer.from(job.payload).reverse();
    });

    const run = await gearmanClient(server, ['-f', fn, '--', 'hello world!']);

    expect(run.stdout.toString(), run.stderr).toBe('!dlrow olleh');
    expect(run.code).toBe(0);
    expect(uniques).toEqual([expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-/)]);
  });

  test('-u sends our worker the unique', async () => {
    const fn = uniqueName('cli-unique');
    const unique = uniqueName('u');
    await ourWorker(server, fn, (job) => job.unique);

    const run = await gearmanClient(server, ['-u', unique, '-f', fn, '--', 'p']);

    expect(run.stdout.toString(), run.stderr).toBe(unique);
  });

  test('-b submits a background job that our worker runs', async () => {
    const fn = uniqueName('cli-bg');
    const payloads: string[] = [];
    await ourWorker(server, fn, (job) => {
      payloads.push(job.text());
    });

    const run = await gearmanClient(server, ['-v', '-b', '-f', fn, '--', 'in the background']);

    expect(run.stdout.toString(), run.stderr).toMatch(/^Task created: H:\S+\n$/);
    await waitFor(() => payloads.length === 1, { timeout: 10_000, what: 'the job' });
    expect(payloads).toEqual(['in the background']);
  });

  test('-L, default and -I background jobs reach our worker high first', async () => {
    const fn = uniqueName('cli-prio');
    for (const [flag, payload] of [
      ['-L', 'low'],
      [undefined, 'normal'],
      ['-I', 'high'],
    ] as const) {
      const run = await gearmanClient(server, [
        '-b',
        ...(flag ? [flag] : []),
        '-f',
        fn,
        '--',
        payload,
      ]);
      expect(run.code, run.stderr).toBe(0);
    }
    const order: string[] = [];
    await ourWorker(server, fn, (job) => {
      order.push(job.text());
    });

    await waitFor(() => order.length === 3, { timeout: 10_000, what: 'three jobs' });
    expect(order).toEqual(['high', 'normal', 'low']);
  });

  test('-I and -L foreground jobs complete', async () => {
    const fn = uniqueName('cli-prio-fg');
    await ourWorker(server, fn, (job) => `ok ${job.text()}`);

    const high = await gearmanClient(server, ['-I', '-f', fn, '--', 'high']);
    const low = await gearmanClient(server, ['-L', '-f', fn, '--', 'low']);

    expect([high.stdout.toString(), low.stdout.toString()]).toEqual(['ok high', 'ok low']);
  });

  test('a payload with every byte value, on stdin, comes back intact on stdout', async () => {
    const fn = uniqueName('cli-binary');
    const payload = allByteValues();
    const received: Buffer[] = [];
    await ourWorker(server, fn, (job) => {
      received.push(Buffer.from(job.payload));
      return job.payload;
    });

    const run = await gearmanClient(server, ['-f', fn], { stdin: payload });

    expect(received).toEqual([payload]);
    expect(run.stdout).toEqual(payload);
  });

  test('a 1 MiB payload on stdin and a 1 MiB result', async () => {
    const fn = uniqueName('cli-1mib');
    const payload = randomBytes(1024 * 1024);
    await ourWorker(server, fn, (job) => Buffer.from(job.payload).reverse());

    const run = await gearmanClient(server, ['-f', fn], { stdin: payload });

    expect(run.stdout.equals(Buffer.from(payload).reverse()), run.stderr).toBe(true);
  });

  test('data, status and warnings are printed as they arrive', async () => {
    const fn = uniqueName('cli-progress');
    await ourWorker(server, fn, async (job) => {
      await job.data('chunk-1;');
      await job.status(1, 4);
      await job.warning('careful');
      await job.data('chunk-2;');
      await job.status(2, 4);
      await job.status(4, 4);
      return 'done';
    });

    const run = await gearmanClient(server, ['-f', fn, '--', 'p']);

    // Data and the result go to stdout unbuffered, the status lines through a buffered stream,
    // so the two do not interleave in arrival order.
    const stdout = run.stdout.toString();
    expect(stdout.replace(/\d+% Complete\n/g, ''), run.stderr).toBe('chunk-1;chunk-2;done');
    expect(stdout.match(/\d+% Complete/g)).toEqual([
      '25% Complete',
      '50% Complete',
      '100% Complete',
    ]);
    expect(run.stderr).toBe('careful');
  });

  test('job.fail() makes the tool print "Job failed" and exit 1', async () => {
    const fn = uniqueName('cli-fail');
    await ourWorker(server, fn, (job) => job.fail());

    const run = await gearmanClient(server, ['-f', fn, '--', 'p']);

    expect(run).toMatchObject({ code: 1, stderr: 'Job failed\n' });
    expect(run.stdout.length).toBe(0);
  });

  test('BUG in libgearman: after job.exception() the tool never finishes, and exits 0 at -t', async () => {
    // The tool does not ask for exceptions, so gearmand sends it WORK_FAIL with the handle plus
    // a zero byte (protocol.md section 11, item 11). libgearman finds no task for that handle and
    // keeps waiting; with -t it gives up with GEARMAN_TIMEOUT yet exits with status 0.
    const fn = uniqueName('cli-exception');
    let ran = 0;
    await ourWorker(server, fn, (job) => {
      ran += 1;
      return job.exception('bad input');
    });

    const run = await gearmanClient(server, ['-t', '1000', '-f', fn, '--', 'p']);

    expect(ran).toBe(1);
    expect(run.code).toBe(0);
    expect(run.stdout.length).toBe(0);
    expect(run.stderr).toContain('GEARMAN_TIMEOUT');
  });
});

describe('our client → gearman CLI worker', () => {
  test('a foreground job runs the command on the payload', async () => {
    const fn = uniqueName('cli-w-rev');
    gearmanWorker(server, fn, ['--', 'rev']);
    await waitForWorkers(server, fn);
    const client = await ourClient(server);

    expect(await client.submit(fn, 'hello world!', { encoding: 'utf8' })).toBe('!dlrow olleh');
  });

  test('background jobs at low, normal and high priority reach the CLI worker high first', async () => {
    const fn = uniqueName('cli-w-prio');
    const client = await ourClient(server);
    for (const priority of ['low', 'normal', 'high'] as const) {
      await client.submitBackground(fn, `${priority}\n`, { priority });
    }
    const log = join(payloadFile(Buffer.alloc(0)), '..', 'order.log');
    const worker = gearmanWorker(server, fn, ['-c', '3', '--', 'sh', '-c', `cat >> '${log}'`]);

    await worker.exited;
    expect(readFileSync(log, 'utf8'), worker.describe()).toBe('high\nnormal\nlow\n');
  });

  test('every byte value and a 1 MiB payload round-trip through the CLI worker', async () => {
    const fn = uniqueName('cli-w-bytes');
    gearmanWorker(server, fn, ['--', ...BUFFERED_CAT]);
    await waitForWorkers(server, fn);
    const client = await ourClient(server);
    const binary = allByteValues();
    const large = randomBytes(1024 * 1024);

    expect(await client.submit(fn, binary)).toEqual(binary);
    expect((await client.submit(fn, large)).equals(large)).toBe(true);
  });

  test('a command that fails: its output arrives as data, then ERR_JOB_FAILED', async () => {
    const fn = uniqueName('cli-w-fail');
    gearmanWorker(server, fn, ['--', 'sh', '-c', 'echo "partial output"; exit 3']);
    await waitForWorkers(server, fn);
    const client = await ourClient(server);

    const run = client.start(fn, 'p', { encoding: 'utf8' });
    const events = [];
    for await (const event of run) events.push(event);

    expect(events).toEqual([
      { type: 'created', handle: expect.stringMatching(/^H:/) },
      { type: 'data', data: 'partial output\n' },
    ]);
    await expect(run.result()).rejects.toMatchObject({ code: 'ERR_JOB_FAILED' });
  });

  test('BUG in the gearman tool: -n sends every line so far in each data packet, not the new line', async () => {
    const fn = uniqueName('cli-w-lines');
    gearmanWorker(server, fn, ['-n', '--', 'cat']);
    await waitForWorkers(server, fn);
    const client = await ourClient(server);

    const run = client.start(fn, 'one\ntwo\nthree', { encoding: 'utf8' });
    const data: string[] = [];
    for await (const event of run) if (event.type === 'data') data.push(event.data);

    expect(data).toEqual(['one\n', 'one\ntwo\n', 'one\ntwo\nthree']);
    expect(await run.result()).toBe('');
  });

  test('BUG in the gearman tool: a 1 MiB payload through `cat` deadlocks the worker', async () => {
    // The tool writes the whole payload to the command's stdin before it reads the command's
    // stdout. Once both pipes are full (about 128 KiB on Linux) each side waits for the other.
    const fn = uniqueName('cli-w-deadlock');
    const worker = gearmanWorker(server, fn, ['--', 'cat']);
    await waitForWorkers(server, fn);
    const client = await ourClient(server);

    await expect(
      client.submit(fn, randomBytes(1024 * 1024), { timeout: 2_000 }),
    ).rejects.toMatchObject({
      code: 'ERR_TIMEOUT',
    });
    // The worker is stuck: gearmand still counts the job as running.
    expect(await functionStatus(server, fn)).toMatchObject({ total: 1, running: 1, workers: 1 });
    expect(worker.stderr()).toBe('');
  });
});
