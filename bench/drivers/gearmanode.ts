/**
 * Driver for gearmanode 0.9.2, the library we replace, with TCP_NODELAY turned on.
 *
 * As shipped it never calls setNoDelay(), and its worker sends PRE_SLEEP after every job, so
 * Nagle's algorithm meets the server's delayed ACK and a worker connection runs about 23 jobs/s.
 * Its JobServer class is not exported from the package root, but its module is reachable by
 * path (the package has no "exports" map), so we wrap JobServer#connect to set noDelay on
 * every socket it opens. Its worker completes jobs with `data.toString()`, which corrupts any
 * payload that is not UTF-8 (scenario X).
 */
import { createRequire } from 'node:module';
import gearmanode from 'gearmanode';
import { JobServer } from 'gearmanode/lib/gearmanode/job-server.js';
import { config, runClient, workerHarness } from './lib/harness.ts';

// It logs through winston loggers that have no transports, and winston then complains on
// stderr for every message (several per job). Silenced, as an application would configure it.
const winston = createRequire(import.meta.resolve('gearmanode'))('winston') as {
  configure(options: { silent: boolean }): void;
  loggers: { loggers: Map<string, { silent: boolean }> };
};
winston.configure({ silent: true });
for (const logger of winston.loggers.loggers.values()) logger.silent = true;

const connect = JobServer.prototype.connect;
JobServer.prototype.connect = function connectWithNoDelay(callback) {
  const result = connect.call(this, callback);
  this.socket?.setNoDelay(true);
  return result;
};

const cfg = config();
const servers = [{ host: cfg.host, port: cfg.port }];

if (cfg.role === 'client') {
  const client = gearmanode.client({ servers });
  client.on('error', () => {}); // a failed job rejects its own promise below
  await runClient(cfg, {
    submit: (payload) =>
      new Promise((resolve, reject) => {
        const job = client.submitJob(cfg.fn, payload);
        job.once('complete', () => resolve(Buffer.from(job.response)));
        for (const event of ['failed', 'exception', 'timeout', 'error']) {
          job.once(event, () => reject(new Error(`job ${event}`)));
        }
      }),
    submitBackground: (payload) =>
      new Promise((resolve, reject) => {
        const job = client.submitJob(cfg.fn, payload, { background: true });
        job.once('created', () => resolve(job.handle));
        job.once('error', reject);
      }),
  });
} else {
  const harness = workerHarness(cfg);
  let connected = 0;
  for (let c = 0; c < cfg.connections; c++) {
    const worker = gearmanode.worker({ servers });
    worker.on('socketConnect', () => {
      if (++connected === cfg.connections) harness.ready();
    });
    worker.addFunction(cfg.fn, (job) => {
      job.workComplete(harness.echo(job.payload));
      harness.completed();
    });
  }
}
