/**
 * Scenarios with the peer as client and our worker: payloads, progress and the ways a job ends.
 * Several peer bugs show up here; each case that meets one says so and asserts what the library
 * really does.
 */
import { randomBytes } from 'node:crypto';
import type { Job } from '@gearmanode/worker';
import { expect } from 'vitest';
import { uniqueName } from '../../helpers.js';
import { forPeers } from '../peers.js';
import {
  allByteValues,
  bytes,
  gearmanClient,
  jobEvents,
  ourWorker,
  perlClient,
  phpClient,
} from '../support.js';
import { type Scenario, unsupported } from '../table.js';

const reverse = (job: Job): Buffer => Buffer.from(job.payload).reverse();

/** Our worker's handler for the Perl client: status, data, warning, status, then the reverse. */
export async function reportThenReverse(job: Job): Promise<Buffer> {
  await job.status(1, 2);
  await job.data('chunk-1');
  await job.warning('careful');
  await job.status(2, 2);
  return Buffer.from(job.payload).reverse();
}

export const peerClientOutcomes: readonly Scenario[] = [
  {
    name: 'a payload with every byte value arrives intact both ways',
    ours: 'worker',
    peer: 'submits all 256 byte values (zero bytes included)',
    expected: 'our worker gets them intact; the peer gets our binary result intact',
    // Perl gets the payload back reversed, PHP between two zero bytes, the gearman tool (on
    // stdin and stdout) as it is.
    cases: forPeers(['perl', 'php', 'cli'], async (peer, { server }, id) => {
      const fn = uniqueName(`${id}-binary`);
      const payload = allByteValues();
      const answer = {
        perl: (input: Uint8Array) => Buffer.from(input).reverse(),
        php: (input: Uint8Array) => Buffer.concat([Buffer.from([0]), input, Buffer.from([0])]),
        cli: (input: Uint8Array) => Buffer.from(input),
      }[id];
      const received: Buffer[] = [];
      await ourWorker(server, fn, (job) => {
        received.push(Buffer.from(job.payload));
        return answer(job.payload);
      });

      const { result, run } = await peer.client.submit(server, fn, payload);

      expect(received).toEqual([payload]);
      expect(result, run.stderr).toEqual(answer(payload));
    }),
  },
  {
    name: 'a 1 MiB payload and a 1 MiB result',
    ours: 'worker',
    peer: 'submits 1 MiB of random bytes',
    expected: 'the reversed bytes come back',
    cases: forPeers(['perl', 'php', 'cli'], async (peer, { server }, id) => {
      const fn = uniqueName(`${id}-1mib`);
      const payload = randomBytes(1024 * 1024);
      await ourWorker(server, fn, reverse);

      const { result, run } = await peer.client.submit(server, fn, payload);

      expect(result.equals(Buffer.from(payload).reverse()), run.stderr).toBe(true);
    }),
  },
  {
    name: 'status, data and warning reach the peer in order',
    ours: 'worker',
    peer: 'runs a foreground job with callbacks',
    expected: 'every update arrives in order, then the result',
    cases: {
      // a foreground job: status, data and warning reach the callbacks in order, then the result
      perl: async ({ server }) => {
        const fn = uniqueName('perl-fg');
        await ourWorker(server, fn, reportThenReverse);

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
      },
      // status, data and warning updates reach the PHP callbacks in order
      php: async ({ server }) => {
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
      },
      // data, status and warnings are printed as they arrive
      cli: async ({ server }) => {
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
      },
    },
  },
  {
    name: 'job.fail() reaches the peer as a failure',
    ours: 'worker',
    peer: 'submits a job our worker fails',
    expected: 'the peer reports the failure',
    cases: {
      // job.fail() reaches on_fail
      perl: async ({ server }) => {
        const fn = uniqueName('perl-fail');
        await ourWorker(server, fn, (job) => job.fail());

        const run = await perlClient(server, { function: fn, payload: 'p' });

        expect(jobEvents(run.events), run.stderr).toEqual([
          { event: 'created', handle: expect.stringMatching(/\/\/H:/) },
          { event: 'fail', reason: 'jshandle fail' },
        ]);
      },
      // job.fail() reaches PHP as the fail callback and GEARMAN_WORK_FAIL
      php: async ({ server }) => {
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
      },
      // job.fail() makes the tool print "Job failed" and exit 1
      cli: async ({ server }) => {
        const fn = uniqueName('cli-fail');
        await ourWorker(server, fn, (job) => job.fail());

        const run = await gearmanClient(server, ['-f', fn, '--', 'p']);

        expect(run).toMatchObject({ code: 1, stderr: 'Job failed\n' });
        expect(run.stdout.length).toBe(0);
      },
    },
  },
  {
    name: 'job.exception() reaches a peer that asked for exceptions, with its data',
    ours: 'worker',
    peer: 'submits with exceptions on',
    expected: 'the peer gets the exception data',
    cases: {
      // job.exception() reaches on_exception with its data when the client asked for exceptions
      perl: async ({ server }) => {
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
      },
      // job.exception() reaches PHP as the exception callback with its data
      php: async ({ server }) => {
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
      },
      cli: unsupported(
        'the gearman tool never asks for exceptions: see "job.exception() to a peer that did not ask for exceptions"',
      ),
    },
  },
  {
    name: 'job.exception() to a peer that did not ask for exceptions',
    ours: 'worker',
    peer: 'submits with exceptions off',
    expected: 'gearmand sends WORK_FAIL with the handle and a zero byte; each peer mishandles it',
    cases: {
      // BUG in Gearman::Client: without exceptions, a job exception makes the client die
      perl: async ({ server }) => {
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
      },
      php: unsupported('libgearman under PHP always asks for exceptions'),
      // BUG in libgearman: after job.exception() the tool never finishes, and exits 0 at -t
      cli: async ({ server }) => {
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
      },
    },
  },
  {
    name: 'a payload of "0"',
    ours: 'worker',
    peer: 'submits the payload "0"',
    expected: 'our worker gets "0" (but for a Gearman::Client bug) and its result comes back',
    cases: {
      // BUG in Gearman::Client: a payload of "0" is sent as an empty payload
      perl: async ({ server }) => {
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
      },
      ...forPeers(['php', 'cli'], async (peer, { server }, id) => {
        const fn = uniqueName(`${id}-zero`);
        await ourWorker(server, fn, (job) => `got ${job.text()}`);

        const { result, run } = await peer.client.submit(server, fn, '0');

        expect(result.toString(), run.stderr).toBe('got 0');
      }),
    },
  },
];
