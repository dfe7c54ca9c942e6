/**
 * The cells that differ on Perl's Gearman::Server 1.130 (see `Scenario.on`). It lacks the low
 * and high background priorities, SUBMIT_JOB_LOW, GET_STATUS_UNIQUE, WORK_DATA and WORK_WARNING
 * (each answered with ERROR `server_error`, a typed ERR_SERVER on our side), and GRAB_JOB_UNIQ:
 * every worker grabs with GRAB_JOB there, so no worker sees a job's unique.
 */
import { expect } from 'vitest';
import { uniqueName, waitFor } from '../../helpers.js';
import { PEER } from '../peers.js';
import { bytes, jobEvents, ourClient, ourWorker, perlClient } from '../support.js';
import { type Cell, type PeerId, type Scenario, unsupported } from '../table.js';
import { reportThenReverse } from './peer-client-outcomes.js';

/** Expects `request` to reject with ERR_SERVER `server_error`: Gearman::Server lacks it. */
async function lacks(request: Promise<unknown>): Promise<void> {
  await expect(request).rejects.toMatchObject({ code: 'ERR_SERVER', serverCode: 'server_error' });
}

const NO_UNIQUE = 'Gearman::Server hands jobs out with GRAB_JOB only: no worker sees the unique';
const NO_LOW = 'Gearman::Server lacks SUBMIT_JOB_LOW, and our worker sees no unique there';
const NO_BACKGROUND_PRIORITIES = 'Gearman::Server lacks SUBMIT_JOB_LOW_BG and SUBMIT_JOB_HIGH_BG';
const NO_DATA = 'Gearman::Server refuses WORK_DATA and WORK_WARNING (the Perl case checks it)';
// libgearman 1.1's worker grabs with GRAB_JOB_ALL and has no fallback: it never gets a job.
const LIBGEARMAN_WORKER =
  'libgearman workers grab with GRAB_JOB_ALL, which Gearman::Server refuses';

const cells: Readonly<Record<string, Partial<Record<PeerId, Cell>>>> = {
  // ---- peer client → our worker
  'a foreground job returns the result and carries the unique the peer made up': {
    php: unsupported(NO_UNIQUE),
    cli: unsupported(NO_UNIQUE),
  },
  'foreground jobs at each priority complete': {
    perl: unsupported(NO_LOW),
    php: unsupported(NO_LOW),
    cli: unsupported(NO_LOW),
  },
  'a given unique reaches our worker': { cli: unsupported(NO_UNIQUE) },
  'background jobs at low, normal and high priority run high first': {
    perl: unsupported(NO_BACKGROUND_PRIORITIES),
    php: unsupported(NO_BACKGROUND_PRIORITIES),
    cli: unsupported(NO_BACKGROUND_PRIORITIES),
  },
  'a background job with a unique: the peer reads its status while our worker runs it': {
    perl: unsupported(`${NO_UNIQUE}, and it lacks GET_STATUS_UNIQUE`),
    php: unsupported(`${NO_UNIQUE}, and it lacks GET_STATUS_UNIQUE`),
  },
  'two peer clients with one unique share one run': {
    perl: unsupported(`${NO_UNIQUE}, and it lacks GET_STATUS_UNIQUE`),
    php: unsupported(NO_UNIQUE),
    cli: unsupported(NO_UNIQUE),
  },
  'status, data and warning reach the peer in order': {
    perl: async ({ server }) => {
      const fn = uniqueName('gs-perl-fg');
      const worker = await ourWorker(server, fn, reportThenReverse);

      const run = await perlClient(server, { function: fn, payload: 'hello world!' });

      // The refused reports cost only themselves: the statuses and the result arrive.
      const events = jobEvents(run.events).map(({ event, numerator, data }) => ({
        event,
        ...(numerator !== undefined && { numerator }),
        ...(event === 'complete' && { data: bytes({ event, data }).toString() }),
      }));
      expect(events, run.stderr).toEqual([
        { event: 'created' },
        { event: 'status', numerator: '1' },
        { event: 'status', numerator: '2' },
        { event: 'complete', data: '!dlrow olleh' },
      ]);
      await waitFor(() => worker.stats().reportRefused === 2, { what: 'two refusals' });
      expect(worker.stats()).toMatchObject({ completed: 1, jobNotFound: 0, lost: 0 });
    },
    php: unsupported(NO_DATA),
    cli: unsupported(NO_DATA),
  },
  'job.exception() to a peer that did not ask for exceptions': {
    // Gearman::Server relays WORK_EXCEPTION only to clients that asked for it; the case pins
    // what gearmand sends the others.
    perl: unsupported('the case pins gearmand’s answer to clients without "exceptions"'),
    cli: unsupported('the case pins gearmand’s answer to clients without "exceptions"'),
  },

  // ---- our client → peer worker
  'a foreground job runs on the peer worker': {
    php: unsupported(LIBGEARMAN_WORKER),
    cli: unsupported(LIBGEARMAN_WORKER),
  },
  'background jobs at low, normal and high priority reach the peer worker high first': {
    perl: async ({ server }) => {
      const fn = uniqueName('gs-perl-w-prio');
      const client = await ourClient(server);
      await lacks(client.submitBackground(fn, 'low', { priority: 'low' }));
      await lacks(client.submitBackground(fn, 'high', { priority: 'high' }));
      await client.submitBackground(fn, 'normal');
      const worker = PEER.perl.worker.recording(server, fn, 1);

      expect((await worker.jobs()).map((job) => job.payload)).toEqual(['normal']);
    },
    php: unsupported(LIBGEARMAN_WORKER),
    cli: unsupported(LIBGEARMAN_WORKER),
  },
  'foreground jobs at each priority complete on the peer worker': {
    perl: async ({ server }) => {
      const fn = uniqueName('gs-perl-w-prios');
      await PEER.perl.worker.start(server, fn, 'reverse');
      const client = await ourClient(server);

      await lacks(client.submit(fn, 'low', { priority: 'low' }));
      const results = await Promise.all(
        (['high', 'normal'] as const).map((priority) => client.submit(fn, priority, { priority })),
      );
      expect(results.map(String)).toEqual(['hgih', 'lamron']);
    },
    php: unsupported(LIBGEARMAN_WORKER),
    cli: unsupported(LIBGEARMAN_WORKER),
  },
  'a background job: getStatus until the peer worker has run it': {
    perl: async ({ server }) => {
      const fn = uniqueName('gs-perl-w-bg');
      const client = await ourClient(server);
      const unique = uniqueName('u');
      const handle = await client.submitBackground(fn, 'later', { unique });

      expect(await client.getStatus(handle)).toMatchObject({ handle, known: true, running: false });
      await lacks(client.getStatus({ unique }));

      const worker = PEER.perl.worker.recording(server, fn, 1);
      expect(await worker.jobs()).toEqual([expect.objectContaining({ payload: 'later', handle })]);
      expect(await client.getStatus(handle)).toMatchObject({ known: false, running: false });
    },
    php: unsupported(LIBGEARMAN_WORKER),
    cli: unsupported(LIBGEARMAN_WORKER),
  },
  'every byte value and a 1 MiB payload round-trip through the peer worker': {
    php: unsupported(LIBGEARMAN_WORKER),
    cli: unsupported(LIBGEARMAN_WORKER),
  },
  'status, data and warning from the peer worker arrive as events, in order': {
    perl: unsupported(
      'Gearman::Server refuses WORK_DATA and WORK_WARNING (status alone: gearman-server.int.test.ts)',
    ),
    php: unsupported(LIBGEARMAN_WORKER),
    cli: unsupported(LIBGEARMAN_WORKER),
  },
  'a failing peer worker rejects our submit with ERR_JOB_FAILED': {
    php: unsupported(LIBGEARMAN_WORKER),
    cli: unsupported(LIBGEARMAN_WORKER),
  },
  'a peer worker exception rejects our submit with ERR_JOB_EXCEPTION and its data': {
    php: unsupported(LIBGEARMAN_WORKER),
    cli: unsupported(LIBGEARMAN_WORKER),
  },
  'a peer worker killed mid-job: the job re-runs on another worker': {
    perl: async ({ server }) => {
      // Gearman::Server does not re-queue the job of a worker that dies: the job fails.
      const fn = uniqueName('gs-perl-w-kill');
      const dying = await PEER.perl.worker.dying(server, fn);
      const client = await ourClient(server);
      const result = client.submit(fn, 'again').catch((error: unknown) => error);
      await dying.died();
      expect(await result).toMatchObject({ code: 'ERR_JOB_FAILED' });
    },
    php: unsupported(LIBGEARMAN_WORKER),
    cli: unsupported(LIBGEARMAN_WORKER),
  },
  'a peer worker whose handler dies': {
    perl: unsupported(
      'the case pins gearmand’s JOB_NOT_FOUND for the WORK_FAIL after WORK_EXCEPTION, which Gearman::Server accepts',
    ),
  },
  'a result of "0"': {
    perl: unsupported('the case pins how gearmand re-queues the job Gearman::Worker never ends'),
    php: unsupported(LIBGEARMAN_WORKER),
    cli: unsupported(LIBGEARMAN_WORKER),
  },
  'exit() inside a PHP worker function': { php: unsupported(LIBGEARMAN_WORKER) },
  'with --job-retries 1, a peer worker killed mid-job fails our submit': {
    perl: unsupported('Gearman::Server has no --job-retries (it fails such a job at once)'),
    php: unsupported(LIBGEARMAN_WORKER),
    cli: unsupported(LIBGEARMAN_WORKER),
  },
  '-n sends every line so far in each data packet': { cli: unsupported(LIBGEARMAN_WORKER) },
  'a 1 MiB payload through `cat` deadlocks the gearman tool': {
    cli: unsupported(LIBGEARMAN_WORKER),
  },
};

/** `scenarios` with their Gearman::Server cells. */
export function onGearmanServer(scenarios: readonly Scenario[]): Scenario[] {
  const names = new Set(scenarios.map((scenario) => scenario.name));
  for (const name of Object.keys(cells)) {
    if (!names.has(name))
      throw new Error(`Gearman::Server cells for "${name}", which is no scenario`);
  }
  return scenarios.map((scenario) => {
    const own = cells[scenario.name];
    return own === undefined ? scenario : { ...scenario, on: { 'Gearman::Server': own } };
  });
}
