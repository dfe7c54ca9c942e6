import { setTimeout as sleep } from 'node:timers/promises';
import { createWorker, type Job } from '@gearmanode/worker';

// A worker for "slow-reverse" (1 s per job, two at a time) on the job servers in
// GEARMAN_SERVERS (default 127.0.0.1:4730). It prints a line when it takes and when it
// finishes a job, so that you can see what a SIGTERM does.
const servers = process.env.GEARMAN_SERVERS ?? '127.0.0.1:4730';
const worker = await createWorker({ servers, functions: ['slow-reverse'], concurrency: 2 });

// The library installs no signal handlers; this is the one to install. On SIGTERM (or Ctrl-C)
// close() stops taking jobs at once, lets the running ones finish and send their results, and
// then closes the connections. Jobs still queued stay on the server for another worker. A job
// still running after 30 s is given up, and the server hands it to another worker. A second
// signal stops at once.
const drain = (signal: NodeJS.Signals) => {
  console.log(`${signal}: finishing ${worker.stats().inFlight} running jobs, taking no more`);
  void worker.close({ timeout: 30_000 });
  process.once(signal, () => worker.destroy());
};
process.once('SIGTERM', drain);
process.once('SIGINT', drain);

async function handle(job: Job): Promise<void> {
  console.log(`started ${job.text()}`);
  try {
    await sleep(1000, undefined, { signal: job.signal }); // aborted only by the 30 s limit
    await job.complete([...job.text()].reverse().join(''));
    console.log(`finished ${job.text()}`);
  } catch (error) {
    await job.fail(error);
  }
}

console.log(`ready: worker for slow-reverse on ${servers}`);
// The loop ends once close() has begun; the jobs it started still run to their end.
for await (const job of worker) void handle(job);
await worker.closed;
console.log('closed: every job taken was finished');
