import type { Job } from '@gearmanode/worker';
import { expect } from 'vitest';
import { uniqueName, waitFor } from '../../helpers.js';
import { forPeers, PEER, type PeerRun } from '../peers.js';
import {
  bytes,
  type ClientScriptOptions,
  gearmanClient,
  jobEvents,
  ourClient,
  ourWorker,
  perlClient,
  phpClient,
  type Server,
} from '../support.js';
import { type CaseContext, coveredBy, type Scenario, unsupported } from '../table.js';

const reverse = (job: Job): Buffer => Buffer.from(job.payload).reverse();

/** doHigh/doNormal/doLow of PHP's GearmanClient. */
async function phpPriority(
  { server }: CaseContext,
  priority: NonNullable<ClientScriptOptions['priority']>,
): Promise<void> {
  const fn = uniqueName(`php-${priority}`);
  await ourWorker(server, fn, (job) => `${priority}:${job.text()}`);

  const run = await phpClient(server, { function: fn, mode: 'do', priority, payload: 'x' });

  const result = run.events.find((e) => e.event === 'result');
  expect(result?.returnCode, run.stderr).toBe(0); // GEARMAN_SUCCESS
  expect(bytes(result).toString()).toBe(`${priority}:x`);
}

/**
 * Submits one unique twice through `submit` (the peer's client), the second time while our
 * worker runs the first: both get the first one's result and handle, and the job runs once.
 */
async function oneRunForOneUnique(
  { server }: CaseContext,
  prefix: string,
  submit: (server: Server, fn: string, unique: string, payload: string) => Promise<PeerRun>,
): Promise<void> {
  const fn = uniqueName(prefix);
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

  const first = submit(server, fn, unique, 'first');
  await waitFor(async () => (await client.getStatus({ unique })).running, {
    timeout: 10_000,
    what: 'the first submission to run',
  });
  const second = submit(server, fn, unique, 'second');
  await waitFor(async () => (await client.getStatus({ unique })).waitingClients === 2, {
    timeout: 10_000,
    what: 'the second submission to join',
  });
  release();

  const results = await Promise.all([first, second]);
  expect(results.map(({ result }) => result.toString())).toEqual(['ran first', 'ran first']);
  // The gearman tool prints no handle: undefined twice.
  expect(results[0]?.handle).toBe(results[1]?.handle);
  expect(runs).toBe(1);
}

export const peerClientJobs: readonly Scenario[] = [
  {
    name: 'a foreground job returns the result and carries the unique the peer made up',
    ours: 'worker',
    peer: 'submits a foreground job without a unique',
    expected: 'the result comes back; libgearman sends a UUID unique',
    cases: {
      perl: unsupported(
        'Gearman::Client sends an empty unique: see "foreground jobs at each priority"',
      ),
      // a foreground job returns the result and carries the UUID unique libgearman made up
      ...forPeers(['php', 'cli'], async (peer, { server }, id) => {
        const fn = uniqueName(`${id}-fg`);
        const uniques: string[] = [];
        await ourWorker(server, fn, (job) => {
          uniques.push(job.unique);
          return reverse(job);
        });

        const { result, run } = await peer.client.submit(server, fn, 'hello world!');

        expect(result.toString(), run.stderr).toBe('!dlrow olleh');
        expect(uniques).toEqual([
          expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/),
        ]);
        if (id === 'php') {
          // GearmanClient prints the unique it sent.
          const events = jobEvents(run.events);
          expect(events.map((e) => e.event)).toEqual(['created', 'complete']);
          expect(events[0]?.unique).toBe(uniques[0]);
        } else {
          expect(run.code).toBe(0);
        }
      }),
    },
  },
  {
    name: 'foreground jobs at each priority complete',
    ours: 'worker',
    peer: 'submits foreground jobs at high, normal and low priority',
    expected: 'each completes with our result',
    cases: {
      // foreground jobs at each priority carry their unique to our worker
      perl: async ({ server }) => {
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
      },
      php: {
        high: (context) => phpPriority(context, 'high'),
        normal: (context) => phpPriority(context, 'normal'),
        low: (context) => phpPriority(context, 'low'),
      },
      // -I and -L foreground jobs complete
      cli: async ({ server }) => {
        const fn = uniqueName('cli-prio-fg');
        await ourWorker(server, fn, (job) => `ok ${job.text()}`);

        const high = await gearmanClient(server, ['-I', '-f', fn, '--', 'high']);
        const low = await gearmanClient(server, ['-L', '-f', fn, '--', 'low']);

        expect([high.stdout.toString(), low.stdout.toString()]).toEqual(['ok high', 'ok low']);
      },
    },
  },
  {
    name: 'a given unique reaches our worker',
    ours: 'worker',
    peer: 'submits with a unique',
    expected: 'our worker sees that unique',
    cases: {
      perl: coveredBy('foreground jobs at each priority complete'),
      php: coveredBy(
        'a background job with a unique: the peer reads its status while our worker runs it',
      ),
      // -u sends our worker the unique
      cli: async ({ server }) => {
        const fn = uniqueName('cli-unique');
        const unique = uniqueName('u');
        await ourWorker(server, fn, (job) => job.unique);

        const { result, run } = await PEER.cli.client.submit(server, fn, 'p', { unique });

        expect(result.toString(), run.stderr).toBe(unique);
      },
    },
  },
  {
    name: 'background jobs at low, normal and high priority run high first',
    ours: 'worker',
    peer: 'queues three background jobs, low first, before any worker is up',
    expected: 'our worker runs them high, normal, low',
    cases: {
      // -L, default and -I background jobs of the gearman tool too
      ...forPeers(['perl', 'php', 'cli'], async (peer, { server }, id) => {
        const fn = uniqueName(`${id}-prio`);
        for (const priority of ['low', 'normal', 'high'] as const) {
          await peer.client.submitBackground(server, fn, priority, { priority });
        }
        const order: string[] = [];
        await ourWorker(server, fn, (job) => {
          order.push(job.text());
        });

        await waitFor(() => order.length === 3, { timeout: 10_000, what: 'three jobs' });
        expect(order).toEqual(['high', 'normal', 'low']);
      }),
    },
  },
  {
    name: 'a background job with a unique: the peer reads its status while our worker runs it',
    ours: 'worker',
    peer: 'submits a background job with a unique, then polls its status by handle',
    expected: 'status shows our progress, then the job is gone',
    cases: {
      // a background job with a unique: the peer's status request sees our progress, then the
      // job gone
      ...forPeers(['perl', 'php'], async (peer, { server }, id) => {
        const fn = uniqueName(`${id}-bg`);
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

        const handle = (await peer.client.submitBackground(server, fn, 'in the background', {
          unique,
        })) as string;
        if (id === 'perl') {
          // Gearman::Client prefixes the server's handle with the server's address.
          expect(handle).toBe(`${server.host}:${server.port}//${handle.split('//')[1]}`);
        }
        await waitFor(() => seen.length === 1, { timeout: 10_000, what: 'the job' });
        expect(seen).toEqual([{ unique, payload: 'in the background' }]);

        // Gearman::Client passes the status fields on as the strings it received.
        const field = (value: number): number | string => (id === 'perl' ? String(value) : value);
        const running = await waitFor(
          async () => {
            const status = await peer.client.status(server, handle);
            return status?.numerator === field(2) ? status : undefined;
          },
          { timeout: 10_000, what: 'status 2/5' },
        );
        expect(running).toMatchObject({ known: true, running: true, denominator: field(5) });

        release();
        const finished = await waitFor(
          async () => {
            const status = await peer.client.status(server, handle);
            return status?.known === false ? status : undefined;
          },
          { timeout: 10_000, what: 'the job to finish' },
        );
        expect(finished).toMatchObject({ known: false, running: false });
      }),
      cli: unsupported(
        'the gearman tool cannot query a job status; see "a background job runs on our worker"',
      ),
    },
  },
  {
    name: 'a background job runs on our worker',
    ours: 'worker',
    peer: 'submits a background job (-b) and prints its handle',
    expected: 'our worker runs it',
    cases: {
      perl: coveredBy(
        'a background job with a unique: the peer reads its status while our worker runs it',
      ),
      php: coveredBy(
        'a background job with a unique: the peer reads its status while our worker runs it',
      ),
      // -b submits a background job that our worker runs
      cli: async ({ server }) => {
        const fn = uniqueName('cli-bg');
        const payloads: string[] = [];
        await ourWorker(server, fn, (job) => {
          payloads.push(job.text());
        });

        const run = await gearmanClient(server, ['-v', '-b', '-f', fn, '--', 'in the background']);

        expect(run.stdout.toString(), run.stderr).toMatch(/^Task created: H:\S+\n$/);
        await waitFor(() => payloads.length === 1, { timeout: 10_000, what: 'the job' });
        expect(payloads).toEqual(['in the background']);
      },
    },
  },
  {
    name: 'two peer clients with one unique share one run',
    ours: 'worker',
    peer: 'two clients submit one unique while the job runs',
    expected: 'one run; both get its result and the same handle',
    cases: {
      // two clients with the same unique share one run of the job
      ...forPeers(['php', 'perl', 'cli'], (peer, context, id) =>
        oneRunForOneUnique(context, `${id}-unique`, (server, fn, unique, payload) =>
          peer.client.submit(server, fn, payload, { unique }),
        ),
      ),
    },
  },
];
