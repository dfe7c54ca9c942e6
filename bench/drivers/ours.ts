/**
 * Driver for our packages, @gearmanode/client and @gearmanode/worker. They are imported by name
 * and run from their TypeScript sources (bench/tsconfig.json maps each name to its src/index.ts,
 * and tsx follows the mapping), so no build is needed first.
 */
import { createClient } from '@gearmanode/client';
import { createWorker } from '@gearmanode/worker';
import { config, runClient, workerHarness } from './lib/harness.ts';

const cfg = config();
const servers = [`${cfg.host}:${cfg.port}`];

if (cfg.role === 'client') {
  const client = await createClient({ servers });
  await runClient(cfg, {
    submit: (payload) => client.submit(cfg.fn, payload),
    submitBackground: (payload) => client.submitBackground(cfg.fn, payload),
  });
} else {
  const harness = workerHarness(cfg);
  const workers = await Promise.all(
    Array.from({ length: cfg.connections }, () =>
      createWorker({ servers, concurrency: cfg.concurrency, functions: [cfg.fn] }),
    ),
  );
  harness.ready();
  for (const worker of workers) {
    void worker.process(async (job) => {
      await job.complete(harness.echo(job.payload));
      harness.completed();
    });
  }
}
