/**
 * Scenarios with our client and the peer as worker: failures, exceptions, workers that die, and
 * the peers' own bugs. Perl's Gearman::Worker reports a handler that dies as WORK_EXCEPTION
 * carrying a Storable-frozen message.
 */
import { randomBytes } from 'node:crypto';
import { expect } from 'vitest';
import { uniqueName, waitFor } from '../../helpers.js';
import { forPeers, PEER } from '../peers.js';
import {
  functionStatus,
  gearmanWorker,
  ourClient,
  ourWorker,
  perlWorker,
  phpWorker,
  waitForWorkers,
} from '../support.js';
import { type Scenario, unsupported } from '../table.js';

export const peerWorkerFailures: readonly Scenario[] = [
  {
    name: 'a failing peer worker rejects our submit with ERR_JOB_FAILED',
    ours: 'client',
    peer: 'fails the job',
    expected: 'ERR_JOB_FAILED',
    cases: {
      // Gearman::Worker fails a job whose handler returns undef, PHP's worker calls sendFail().
      ...forPeers(['perl', 'php'], async (peer, { server }, id) => {
        const fn = uniqueName(`${id}-w-fail`);
        await peer.worker.start(server, fn, 'fail');
        const client = await ourClient(server);

        await expect(client.submit(fn, 'p')).rejects.toMatchObject({
          code: 'ERR_JOB_FAILED',
          handle: expect.stringMatching(/^H:/),
        });
      }),
      // a command that fails: its output arrives as data, then ERR_JOB_FAILED
      cli: async ({ server }) => {
        const fn = uniqueName('cli-w-fail');
        await PEER.cli.worker.start(server, fn, 'fail');
        const client = await ourClient(server);

        const run = client.start(fn, 'p', { encoding: 'utf8' });
        const events = [];
        for await (const event of run) events.push(event);

        expect(events).toEqual([
          { type: 'created', handle: expect.stringMatching(/^H:/) },
          { type: 'data', data: 'partial output\n' },
        ]);
        await expect(run.result()).rejects.toMatchObject({ code: 'ERR_JOB_FAILED' });
      },
    },
  },
  {
    name: 'a peer worker exception rejects our submit with ERR_JOB_EXCEPTION and its data',
    ours: 'client',
    peer: 'sends WORK_EXCEPTION',
    expected: 'ERR_JOB_EXCEPTION with the data',
    cases: {
      // send_work_exception() and sendException() reject our submit with ERR_JOB_EXCEPTION
      ...forPeers(['perl', 'php'], async (peer, { server }, id) => {
        const fn = uniqueName(`${id}-w-exception`);
        await peer.worker.start(server, fn, 'exception');
        const client = await ourClient(server);

        await expect(client.submit(fn, 'p')).rejects.toMatchObject({
          code: 'ERR_JOB_EXCEPTION',
          data: Buffer.from(`${id} exception: p`),
        });
      }),
      cli: unsupported('the gearman tool never sends WORK_EXCEPTION'),
    },
  },
  {
    name: 'a peer worker killed mid-job: the job re-runs on another worker',
    ours: 'client',
    peer: 'is SIGKILLed while it holds the job',
    expected: 'the job runs again elsewhere and our submit gets that result',
    cases: {
      // a PHP worker killed mid-job: the job re-runs on a surviving Perl worker
      php: async ({ server }) => {
        const fn = uniqueName('php-w-die');
        const dying = await PEER.php.worker.dying(server, fn);
        const client = await ourClient(server);

        const run = client.start(fn, 'survive me', { encoding: 'utf8' });
        const events: unknown[] = [];
        const iterated = (async () => {
          for await (const event of run) events.push(event);
        })();
        await dying.died();
        // Started only now, so that the job cannot have gone to it first.
        const survivor = await PEER.perl.worker.start(server, fn, 'reverse');

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
      },
      // The Perl and the gearman tool's worker die; the job re-runs on our worker.
      ...forPeers(['perl', 'cli'], async (peer, { server }, id) => {
        const fn = uniqueName(`${id}-w-kill`);
        const dying = await peer.worker.dying(server, fn);
        const client = await ourClient(server);

        const run = client.start(fn, 'again', { encoding: 'utf8' });
        await dying.died();
        const attempts: string[] = [];
        await ourWorker(server, fn, (job) => {
          attempts.push(job.handle);
          return `ours: ${job.text()}`;
        });

        expect(await run.result()).toBe('ours: again');
        expect(attempts).toEqual([run.handle]);
      }),
    },
  },
  {
    name: 'a peer worker whose handler dies',
    ours: 'client',
    peer: 'dies inside the handler',
    expected: 'BUG in Gearman::Worker: ERR_JOB_EXCEPTION, then the worker process dies',
    cases: {
      // BUG in Gearman::Worker: a handler that dies gives us ERR_JOB_EXCEPTION, then the worker process dies
      perl: async ({ server }) => {
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
      },
      php: unsupported('see "exit() inside a PHP worker function"'),
      cli: unsupported('see "a failing peer worker"'),
    },
  },
  {
    name: 'a result of "0"',
    needs: 'own-server',
    ours: 'client',
    peer: 'returns "0"',
    expected: 'our submit gets "0"; with Gearman::Worker (a bug) the job loops until it times out',
    cases: {
      // BUG in Gearman::Worker: a result of "0" is sent without its separator, and the job loops
      perl: async ({ startServer }) => {
        // Gearman::Worker::_job_request writes `$v ? join("\0", $handle, $v) : $handle`, so a false
        // result ("0" or "") becomes a WORK_COMPLETE without the result field. gearmand drops the
        // connection (protocol.md section 11, item 6) and re-queues the job; the worker reconnects
        // and gets it again, without end. Our submit only ends at its timeout.
        const own = await startServer();
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
        const handles = new Set(
          worker.events.filter((e) => e.event === 'job').map((e) => e.handle),
        );
        expect(handles.size).toBe(1);
      },
      ...forPeers(['php', 'cli'], async (peer, { server }, id) => {
        const fn = uniqueName(`${id}-w-zero`);
        await peer.worker.start(server, fn, 'echo');
        const client = await ourClient(server);

        expect(await client.submit(fn, '0', { encoding: 'utf8' })).toBe('0');
      }),
    },
  },
  {
    name: 'exit() inside a PHP worker function',
    ours: 'client',
    peer: 'exits inside the callback',
    expected: 'php-gearman quirk: ERR_JOB_EXCEPTION "Unable to add worker function"',
    cases: {
      perl: unsupported('PHP only'),
      // exit() inside a PHP worker function reaches us as ERR_JOB_EXCEPTION "Unable to add worker function"
      php: async ({ server }) => {
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
      },
      cli: unsupported('PHP only'),
    },
  },
  {
    name: 'with --job-retries 1, a peer worker killed mid-job fails our submit',
    needs: 'own-server',
    ours: 'client',
    peer: 'is SIGKILLed while it holds the job',
    expected: 'ERR_JOB_FAILED',
    cases: {
      // with gearmand --job-retries 1, a peer worker killed mid-job fails our submit with ERR_JOB_FAILED
      ...forPeers(['php', 'perl', 'cli'], async (peer, { startServer }, id) => {
        const own = await startServer({ jobRetries: 1 });
        const fn = uniqueName(`${id}-w-retries`);
        const dying = await peer.worker.dying(own, fn);
        const client = await ourClient(own);

        const outcome = client.submit(fn, 'p').then(
          () => 'completed',
          (error: unknown) => error,
        );
        await dying.died();

        expect(await outcome).toMatchObject({ code: 'ERR_JOB_FAILED' });
      }),
    },
  },
  {
    name: '-n sends every line so far in each data packet',
    ours: 'client',
    peer: 'runs `cat` with -n (a data packet per line)',
    expected: 'BUG in the gearman tool: each packet repeats the earlier lines',
    cases: {
      perl: unsupported('a gearman tool option'),
      php: unsupported('a gearman tool option'),
      // BUG in the gearman tool: -n sends every line so far in each data packet, not the new line
      cli: async ({ server }) => {
        const fn = uniqueName('cli-w-lines');
        gearmanWorker(server, fn, ['-n', '--', 'cat']);
        await waitForWorkers(server, fn);
        const client = await ourClient(server);

        const run = client.start(fn, 'one\ntwo\nthree', { encoding: 'utf8' });
        const data: string[] = [];
        for await (const event of run) if (event.type === 'data') data.push(event.data);

        expect(data).toEqual(['one\n', 'one\ntwo\n', 'one\ntwo\nthree']);
        expect(await run.result()).toBe('');
      },
    },
  },
  {
    name: 'a 1 MiB payload through `cat` deadlocks the gearman tool',
    ours: 'client',
    peer: 'runs `cat` on a 1 MiB payload',
    expected: 'BUG in the gearman tool: both pipes fill and the job hangs',
    cases: {
      perl: unsupported('a gearman tool bug'),
      php: unsupported('a gearman tool bug'),
      // BUG in the gearman tool: a 1 MiB payload through `cat` deadlocks the worker
      cli: async ({ server }) => {
        // The tool writes the whole payload to the command's stdin before it reads the command's
        // stdout. Once both pipes are full (about 128 KiB on Linux) each side waits for the other.
        const fn = uniqueName('cli-w-deadlock');
        // Plain `cat`, unlike the echo worker, writes while it reads.
        const worker = gearmanWorker(server, fn, ['--', 'cat']);
        await waitForWorkers(server, fn);
        const client = await ourClient(server);

        await expect(
          client.submit(fn, randomBytes(1024 * 1024), { timeout: 2_000 }),
        ).rejects.toMatchObject({
          code: 'ERR_TIMEOUT',
        });
        // The worker is stuck: gearmand still counts the job as running.
        expect(await functionStatus(server, fn)).toMatchObject({
          total: 1,
          running: 1,
          workers: 1,
        });
        expect(worker.stderr()).toBe('');
      },
    },
  },
];
