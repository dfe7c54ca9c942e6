/**
 * Driver for abraxas 2.1.10. A connection's `maxJobs` (its worker concurrency) comes from the
 * `concurrency` setting; abraxas defaults to 1.
 */
import abraxas from 'abraxas';
import { config, runClient, workerHarness } from './lib/harness.ts';

const cfg = config();
const servers = [`${cfg.host}:${cfg.port}`];

if (cfg.role === 'client') {
  const client = abraxas.Client.connect({ servers });
  client.on('connection-error', () => {}); // jobs that fail reject their own promise
  await runClient(cfg, {
    submit: async (payload) => Buffer.from(await client.submitJob(cfg.fn, payload)),
    submitBackground: async (payload) => await client.submitJobBg(cfg.fn, payload),
  });
} else {
  const harness = workerHarness(cfg);
  let connected = 0;
  for (let c = 0; c < cfg.connections; c++) {
    const worker = abraxas.Client.connect({ servers, maxJobs: cfg.concurrency });
    worker.once('connect', () => {
      if (++connected === cfg.connections) harness.ready();
    });
    worker.registerWorker(cfg.fn, (task) => {
      const result = harness.echo(task.payload);
      // abraxas writes WORK_COMPLETE after this returns; the count is per handed-over job.
      queueMicrotask(() => harness.completed());
      return result;
    });
  }
}
