/**
 * Scenarios with our client and the peer as worker: results, priorities, status and payloads.
 * Perl's Gearman::Worker grabs with GRAB_JOB (no unique), libgearman's workers with
 * GRAB_JOB_ALL; the gearman tool (`-w`) runs a command per job with the payload on stdin and
 * sends back its stdout.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { uniqueName, waitFor } from '../../helpers.js';
import {
  allByteValues,
  bytes,
  gearmanWorker,
  ourClient,
  payloadFile,
  perlWorker,
  phpWorker,
  waitForWorkers,
} from '../support.js';
import { coveredBy, type Scenario, unsupported } from '../table.js';

/** Reads all of stdin before writing, so large payloads cannot fill both pipes at once. */
const BUFFERED_CAT = ['sh', '-c', 'f=$(mktemp); cat > "$f"; cat "$f"; rm -f "$f"'];

export const peerWorkerJobs: readonly Scenario[] = [
  {
    name: 'a foreground job runs on the peer worker',
    ours: 'client',
    peer: 'runs a worker for the function',
    expected: 'our submit gets its result',
    cases: {
      perl: coveredBy('every byte value and a 1 MiB payload round-trip through the peer worker'),
      // a foreground job returns the result; the worker sees our unique, or none
      php: async ({ server }) => {
        const fn = uniqueName('php-w-fg');
        const worker = phpWorker(server, { function: fn, mode: 'reverse' });
        await waitForWorkers(server, fn);
        const client = await ourClient(server);
        const unique = uniqueName('u');

        expect((await client.submit(fn, 'hello world!', { unique })).toString()).toBe(
          '!dlrow olleh',
        );
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
      },
      // a foreground job runs the command on the payload
      cli: async ({ server }) => {
        const fn = uniqueName('cli-w-rev');
        gearmanWorker(server, fn, ['--', 'rev']);
        await waitForWorkers(server, fn);
        const client = await ourClient(server);

        expect(await client.submit(fn, 'hello world!', { encoding: 'utf8' })).toBe('!dlrow olleh');
      },
    },
  },
  {
    name: 'background jobs at low, normal and high priority reach the peer worker high first',
    ours: 'client',
    peer: 'starts its worker after we queued three background jobs',
    expected: 'it runs them high, normal, low',
    cases: {
      // background jobs at low, normal and high priority reach the Perl worker high first
      perl: async ({ server }) => {
        const fn = uniqueName('perl-w-prio');
        const client = await ourClient(server);
        for (const priority of ['low', 'normal', 'high'] as const) {
          await client.submitBackground(fn, priority, { priority });
        }
        const worker = perlWorker(server, { function: fn, mode: 'echo', count: 3 });

        expect(await worker.exited, worker.describe()).toMatchObject({ code: 0 });
        const order = worker.events
          .filter((e) => e.event === 'job')
          .map((e) => bytes(e).toString());
        expect(order).toEqual(['high', 'normal', 'low']);
      },
      // background jobs queued at low, normal and high priority reach the PHP worker high first
      php: async ({ server }) => {
        const fn = uniqueName('php-w-prio');
        const client = await ourClient(server);
        for (const priority of ['low', 'normal', 'high'] as const) {
          await client.submitBackground(fn, priority, { priority });
        }
        const worker = phpWorker(server, { function: fn, mode: 'echo', count: 3 });

        expect(await worker.exited).toMatchObject({ code: 0 });
        const order = worker.events
          .filter((e) => e.event === 'job')
          .map((e) => bytes(e).toString());
        expect(order, worker.describe()).toEqual(['high', 'normal', 'low']);
      },
      // background jobs at low, normal and high priority reach the CLI worker high first
      cli: async ({ server }) => {
        const fn = uniqueName('cli-w-prio');
        const client = await ourClient(server);
        for (const priority of ['low', 'normal', 'high'] as const) {
          await client.submitBackground(fn, `${priority}\n`, { priority });
        }
        const log = join(payloadFile(Buffer.alloc(0)), '..', 'order.log');
        const worker = gearmanWorker(server, fn, ['-c', '3', '--', 'sh', '-c', `cat >> '${log}'`]);

        await worker.exited;
        expect(readFileSync(log, 'utf8'), worker.describe()).toBe('high\nnormal\nlow\n');
      },
    },
  },
  {
    name: 'foreground jobs at each priority complete on the peer worker',
    ours: 'client',
    peer: 'runs a reversing worker',
    expected: 'each of our submits at high, normal and low completes',
    cases: {
      // foreground jobs at each priority complete on the PHP worker
      php: async ({ server }) => {
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
      },
      perl: async ({ server }) => {
        const fn = uniqueName('perl-w-prios');
        perlWorker(server, { function: fn, mode: 'reverse' });
        await waitForWorkers(server, fn);
        const client = await ourClient(server);

        const results = await Promise.all(
          (['high', 'normal', 'low'] as const).map((priority) =>
            client.submit(fn, priority, { priority }),
          ),
        );

        expect(results.map(String)).toEqual(['hgih', 'lamron', 'wol']);
      },
      cli: async ({ server }) => {
        const fn = uniqueName('cli-w-prios');
        gearmanWorker(server, fn, ['--', 'rev']);
        await waitForWorkers(server, fn);
        const client = await ourClient(server);

        const results = await Promise.all(
          (['high', 'normal', 'low'] as const).map((priority) =>
            client.submit(fn, priority, { priority }),
          ),
        );

        expect(results.map(String)).toEqual(['hgih', 'lamron', 'wol']);
      },
    },
  },
  {
    name: 'a background job: getStatus until the peer worker has run it',
    ours: 'client',
    peer: 'starts its worker after we queued the job',
    expected: 'getStatus by handle and unique sees it queued, then gone',
    cases: {
      // a background job: getStatus by handle and by unique until the PHP worker has run it
      php: async ({ server }) => {
        const fn = uniqueName('php-w-bg');
        const client = await ourClient(server);
        const unique = uniqueName('u');
        const handle = await client.submitBackground(fn, 'later', { unique });

        expect(await client.getStatus(handle)).toMatchObject({
          handle,
          known: true,
          running: false,
        });
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
      },
      perl: async ({ server }) => {
        const fn = uniqueName('perl-w-bg');
        const client = await ourClient(server);
        const unique = uniqueName('u');
        const handle = await client.submitBackground(fn, 'later', { unique });

        expect(await client.getStatus(handle)).toMatchObject({
          handle,
          known: true,
          running: false,
        });
        expect(await client.getStatus({ unique })).toMatchObject({ unique, known: true });

        // Gearman::Worker grabs with GRAB_JOB: it never sees the unique.
        const worker = perlWorker(server, { function: fn, mode: 'echo', count: 1 });
        const job = await worker.waitForEvent('job');
        expect(job).toMatchObject({ handle });
        expect(bytes(job).toString()).toBe('later');
        await worker.exited;
        expect(await client.getStatus(handle)).toMatchObject({ known: false, running: false });
      },
      cli: async ({ server }) => {
        const fn = uniqueName('cli-w-bg');
        const client = await ourClient(server);
        const unique = uniqueName('u');
        const handle = await client.submitBackground(fn, 'later', { unique });

        expect(await client.getStatus(handle)).toMatchObject({
          handle,
          known: true,
          running: false,
        });
        expect(await client.getStatus({ unique })).toMatchObject({ unique, known: true });

        const log = join(payloadFile(Buffer.alloc(0)), '..', 'job.log');
        const worker = gearmanWorker(server, fn, ['-c', '1', '--', 'sh', '-c', `cat > '${log}'`]);
        await worker.exited;
        expect(readFileSync(log, 'utf8'), worker.describe()).toBe('later');
        expect(await client.getStatus(handle)).toMatchObject({ known: false, running: false });
      },
    },
  },
  {
    name: 'every byte value and a 1 MiB payload round-trip through the peer worker',
    ours: 'client',
    peer: 'echoes or reverses the payload',
    expected: 'our submit gets the bytes back intact',
    cases: {
      // every byte value and a 1 MiB payload round-trip through the Perl worker
      perl: async ({ server }) => {
        const fn = uniqueName('perl-w-bytes');
        perlWorker(server, { function: fn, mode: 'reverse' });
        await waitForWorkers(server, fn);
        const client = await ourClient(server);
        const binary = allByteValues();
        const large = randomBytes(1024 * 1024);

        expect(await client.submit(fn, binary)).toEqual(Buffer.from(binary).reverse());
        expect((await client.submit(fn, large)).equals(Buffer.from(large).reverse())).toBe(true);
      },
      // every byte value and a 1 MiB payload round-trip through the PHP worker
      php: async ({ server }) => {
        const fn = uniqueName('php-w-bytes');
        phpWorker(server, { function: fn, mode: 'echo' });
        await waitForWorkers(server, fn);
        const client = await ourClient(server);
        const binary = allByteValues();
        const large = randomBytes(1024 * 1024);

        expect(await client.submit(fn, binary)).toEqual(binary);
        expect((await client.submit(fn, large)).equals(large)).toBe(true);
      },
      // every byte value and a 1 MiB payload round-trip through the CLI worker
      cli: async ({ server }) => {
        const fn = uniqueName('cli-w-bytes');
        gearmanWorker(server, fn, ['--', ...BUFFERED_CAT]);
        await waitForWorkers(server, fn);
        const client = await ourClient(server);
        const binary = allByteValues();
        const large = randomBytes(1024 * 1024);

        expect(await client.submit(fn, binary)).toEqual(binary);
        expect((await client.submit(fn, large)).equals(large)).toBe(true);
      },
    },
  },
  {
    name: 'status, data and warning from the peer worker arrive as events, in order',
    ours: 'client',
    peer: 'sends status, data and warning, then the result',
    expected: 'our run yields each event in order, then the result',
    cases: {
      // a foreground job with progress: every event arrives, then the result
      perl: async ({ server }) => {
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
      },
      // status, data and warning from the PHP worker arrive as events, in order
      php: async ({ server }) => {
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
      },
      cli: unsupported('the gearman tool sends only data (stdout) and the result'),
    },
  },
];
