/**
 * Scenarios with our client and the peer as worker: results, priorities, status and payloads.
 * Perl's Gearman::Worker grabs with GRAB_JOB (no unique), libgearman's workers with
 * GRAB_JOB_ALL; the gearman tool (`-w`) runs a command per job with the payload on stdin and
 * sends back its stdout.
 */
import { randomBytes } from 'node:crypto';
import { expect } from 'vitest';
import { uniqueName, waitFor } from '../../helpers.js';
import { forPeers, PEER } from '../peers.js';
import { allByteValues, ourClient } from '../support.js';
import { coveredBy, type Scenario, unsupported } from '../table.js';

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
        const worker = await PEER.php.worker.start(server, fn, 'reverse');
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
        await PEER.cli.worker.start(server, fn, 'reverse');
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
    cases: forPeers(['perl', 'php', 'cli'], async (peer, { server }, id) => {
      const fn = uniqueName(`${id}-w-prio`);
      const client = await ourClient(server);
      for (const priority of ['low', 'normal', 'high'] as const) {
        await client.submitBackground(fn, priority, { priority });
      }
      const worker = peer.worker.recording(server, fn, 3);

      const order = (await worker.jobs()).map((job) => job.payload);
      expect(order, worker.process.describe()).toEqual(['high', 'normal', 'low']);
    }),
  },
  {
    name: 'foreground jobs at each priority complete on the peer worker',
    ours: 'client',
    peer: 'runs a reversing worker',
    expected: 'each of our submits at high, normal and low completes',
    cases: forPeers(['php', 'perl', 'cli'], async (peer, { server }, id) => {
      const fn = uniqueName(`${id}-w-prios`);
      await peer.worker.start(server, fn, 'reverse');
      const client = await ourClient(server);

      const results = await Promise.all(
        (['high', 'normal', 'low'] as const).map((priority) =>
          client.submit(fn, priority, { priority }),
        ),
      );

      expect(results.map(String)).toEqual(['hgih', 'lamron', 'wol']);
    }),
  },
  {
    name: 'a background job: getStatus until the peer worker has run it',
    ours: 'client',
    peer: 'starts its worker after we queued the job',
    expected: 'getStatus by handle and unique sees it queued, then gone',
    cases: forPeers(['php', 'perl', 'cli'], async (peer, { server }, id) => {
      const fn = uniqueName(`${id}-w-bg`);
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

      const worker = peer.worker.recording(server, fn, 1);
      // Gearman::Worker grabs with GRAB_JOB: it never sees the unique. The gearman tool passes
      // its command the payload only.
      const seen = { php: { handle, unique }, perl: { handle }, cli: {} }[id];
      expect(await worker.jobs()).toEqual([expect.objectContaining({ payload: 'later', ...seen })]);
      expect(await client.getStatus(handle)).toMatchObject({ known: false, running: false });
    }),
  },
  {
    name: 'every byte value and a 1 MiB payload round-trip through the peer worker',
    ours: 'client',
    peer: 'echoes or reverses the payload',
    expected: 'our submit gets the bytes back intact',
    cases: forPeers(['perl', 'php', 'cli'], async (peer, { server }, id) => {
      const fn = uniqueName(`${id}-w-bytes`);
      // The Perl case reverses the bytes, the others echo them.
      const kind = id === 'perl' ? 'reverse' : 'echo';
      const expected = (payload: Buffer): Buffer =>
        kind === 'reverse' ? Buffer.from(payload).reverse() : payload;
      await peer.worker.start(server, fn, kind);
      const client = await ourClient(server);
      const binary = allByteValues();
      const large = randomBytes(1024 * 1024);

      expect(await client.submit(fn, binary)).toEqual(expected(binary));
      expect((await client.submit(fn, large)).equals(expected(large))).toBe(true);
    }),
  },
  {
    name: 'status, data and warning from the peer worker arrive as events, in order',
    ours: 'client',
    peer: 'sends status, data and warning, then the result',
    expected: 'our run yields each event in order, then the result',
    cases: {
      ...forPeers(['perl', 'php'], async (peer, { server }, id) => {
        const fn = uniqueName(`${id}-w-progress`);
        await peer.worker.start(server, fn, 'progress');
        const client = await ourClient(server);

        // The Perl case submits at high priority.
        const priority = id === 'perl' ? 'high' : undefined;
        const run = client.start(fn, 'p', { encoding: 'utf8', priority });
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
      }),
      cli: unsupported('the gearman tool sends only data (stdout) and the result'),
    },
  },
];
