import { setTimeout as sleep } from 'node:timers/promises';
import { createClient } from '@gearmanode/client';
import { createServer } from '@gearmanode/server';
import { createWorker } from '@gearmanode/worker';

// GEARMAN_SERVERS=host:port[,host:port], or a job server in this process on a free port.
const named = process.env.GEARMAN_SERVERS;
await using server = named ? undefined : await createServer({ port: 0 });
const servers = server ? `${server.address.host}:${server.address.port}` : named!;
console.error(server ? `embedded job server on ${servers}` : `job servers: ${servers}`);

// The worker: "count-slowly" takes a number n and works through n steps of 200 ms. After each
// it sends a line of output (WORK_DATA) and its progress (WORK_STATUS), and halfway a warning
// (WORK_WARNING). Its return value is the result (WORK_COMPLETE).
await using worker = await createWorker({ servers, functions: ['count-slowly'] });
void worker.process(async (job) => {
  const steps = Number(job.text());
  for (let step = 1; step <= steps; step++) {
    await sleep(200, undefined, { signal: job.signal }); // the work
    await job.data(`line ${step}\n`);
    await job.status(step, steps);
    if (step === Math.ceil(steps / 2)) await job.warning('halfway there\n');
  }
  return `counted to ${steps}`;
});

// The client: start() returns at once; iterating it yields the job's events as the worker sends
// them, and result() settles like submit() would.
await using client = await createClient({ servers });
const started = performance.now();
const at = () => `+${((performance.now() - started) / 1000).toFixed(2)}s`;

const run = client.start('count-slowly', '5', { encoding: 'utf8', timeout: 30_000 });
for await (const event of run) {
  if (event.type === 'created') console.log(`${at()} created  ${event.handle}`);
  if (event.type === 'status')
    console.log(`${at()} status   ${event.numerator}/${event.denominator}`);
  if (event.type === 'data') console.log(`${at()} data     ${event.data.trimEnd()}`);
  if (event.type === 'warning') console.log(`${at()} warning  ${event.data.trimEnd()}`);
}
console.log(`${at()} result   ${await run.result()}`);
