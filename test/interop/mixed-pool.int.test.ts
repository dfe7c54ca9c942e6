/**
 * Mixed pools: workers of several languages registered for one function, and clients of several
 * languages submitting to it at once. gearmand hands each job to exactly one worker; none may be
 * lost or run twice, and the work must actually spread.
 */
import type { Job } from '@gearmanode/worker';
import { afterEach, expect, inject, test } from 'vitest';
import { uniqueName, waitFor } from '../helpers.js';
import {
  bytes,
  cleanup,
  ourClient,
  ourWorker,
  perlClient,
  perlWorker,
  phpClient,
  phpWorker,
  type ScriptEvent,
  waitForWorkers,
} from './support.js';

const server = inject('gearman');

afterEach(cleanup);

/** Our worker's handler: like the scripts' "tag" mode, "<tag>:<payload>" after `delay` ms. */
function tagging(tag: string, delay: number, seen: string[]): (job: Job) => Promise<string> {
  return async (job) => {
    seen.push(job.text());
    await new Promise((resolve) => setTimeout(resolve, delay));
    return `${tag}:${job.text()}`;
  };
}

const payloadsOf = (events: readonly ScriptEvent[]): string[] =>
  events.filter((e) => e.event === 'job').map((e) => bytes(e).toString());

test('our worker and a PHP worker share one function: jobs spread over both, none lost', async () => {
  const fn = uniqueName('mixed-two');
  const ours: string[] = [];
  await ourWorker(server, fn, tagging('node', 20, ours));
  const php = phpWorker(server, { function: fn, mode: 'tag', tag: 'php', delay: 20 });
  await waitForWorkers(server, fn, 2);
  const client = await ourClient(server);
  const payloads = Array.from({ length: 40 }, (_, i) => `job-${i}`);

  const results = await Promise.all(
    payloads.map((p) => client.submit(fn, p, { encoding: 'utf8' })),
  );

  expect(results.map((r) => r.replace(/^(node|php):/, ''))).toEqual(payloads);
  const byPhp = results.filter((r) => r.startsWith('php:'));
  const byNode = results.filter((r) => r.startsWith('node:'));
  expect(byPhp.length, php.describe()).toBeGreaterThan(0);
  expect(byNode.length).toBeGreaterThan(0);
  // Each job ran exactly once, on the worker that answered it.
  expect([...ours].sort()).toEqual(byNode.map((r) => r.slice('node:'.length)).sort());
  expect(payloadsOf(php.events).sort()).toEqual(byPhp.map((r) => r.slice('php:'.length)).sort());
});

test('background jobs over our, PHP and Perl workers: every job runs exactly once', async () => {
  const fn = uniqueName('mixed-bg');
  const ours: string[] = [];
  await ourWorker(server, fn, tagging('node', 15, ours));
  const php = phpWorker(server, { function: fn, mode: 'tag', delay: 15 });
  const perl = perlWorker(server, { function: fn, mode: 'tag', delay: 15 });
  await waitForWorkers(server, fn, 3);
  const client = await ourClient(server);
  const payloads = Array.from({ length: 45 }, (_, i) => `bg-${i}`);

  await Promise.all(payloads.map((p) => client.submitBackground(fn, p, { unique: `${fn}-${p}` })));

  const all = (): string[] => [...ours, ...payloadsOf(php.events), ...payloadsOf(perl.events)];
  await waitFor(() => all().length >= payloads.length, {
    timeout: 20_000,
    what: `${payloads.length} jobs run`,
  });
  expect(all().sort()).toEqual([...payloads].sort());
  // gearmand wakes every sleeping worker for each job, so all three get work.
  expect(ours.length).toBeGreaterThan(0);
  expect(payloadsOf(php.events).length, php.describe()).toBeGreaterThan(0);
  expect(payloadsOf(perl.events).length, perl.describe()).toBeGreaterThan(0);
});

test('PHP, Perl and our clients at once against a pool of our, PHP and Perl workers', async () => {
  const fn = uniqueName('mixed-all');
  const ours: string[] = [];
  await ourWorker(server, fn, tagging('node', 5, ours), { concurrency: 2 });
  phpWorker(server, { function: fn, mode: 'tag', tag: 'php', delay: 5 });
  perlWorker(server, { function: fn, mode: 'tag', tag: 'perl', delay: 5 });
  await waitForWorkers(server, fn, 3);
  const client = await ourClient(server);

  const fromUs = Array.from({ length: 20 }, (_, i) => `node-client-${i}`);
  const fromPhp = Array.from({ length: 4 }, (_, i) => `php-client-${i}`);
  const fromPerl = Array.from({ length: 4 }, (_, i) => `perl-client-${i}`);
  const [ourResults, phpRuns, perlRuns] = await Promise.all([
    Promise.all(fromUs.map((p) => client.submit(fn, p, { encoding: 'utf8' }))),
    Promise.all(fromPhp.map((payload) => phpClient(server, { function: fn, payload }))),
    Promise.all(fromPerl.map((payload) => perlClient(server, { function: fn, payload }))),
  ]);

  const strip = (result: string): string => result.replace(/^(node|php|perl):/, '');
  expect(ourResults.map(strip)).toEqual(fromUs);
  const complete = (run: { events: readonly ScriptEvent[]; stderr: string }): string =>
    bytes(run.events.find((e) => e.event === 'complete')).toString();
  expect(phpRuns.map(complete).map(strip)).toEqual(fromPhp);
  expect(perlRuns.map(complete).map(strip)).toEqual(fromPerl);
});
