import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { createClient, type JobStatus, type UniqueJobStatus } from '@gearmanode/client';
import { createServer } from '@gearmanode/server';
import { createWorker } from '@gearmanode/worker';

// GEARMAN_SERVERS=host:port[,host:port], or a job server in this process on a free port.
const named = process.env.GEARMAN_SERVERS;
await using server = named ? undefined : await createServer({ port: 0 });
const servers = server ? `${server.address.host}:${server.address.port}` : named!;
console.error(server ? `embedded job server on ${servers}` : `job servers: ${servers}`);

await using client = await createClient({ servers });

// Three background jobs, each with a unique key. submitBackground() resolves with the handle
// as soon as the server has queued the job; nobody waits for its result. (The keys include a
// random part so that a second run does not join jobs left over from the first.)
const run = randomBytes(3).toString('hex');
const jobs: { unique: string; handle: string }[] = [];
for (const month of ['2024-04', '2024-05', '2024-06']) {
  const unique = `report-${month}-${run}`;
  const handle = await client.submitBackground('build-report', month, { unique });
  jobs.push({ unique, handle });
  console.log(`submitted ${unique} as ${handle}`);
}

const describe = (status: JobStatus | UniqueJobStatus) => {
  if (!status.known) return 'done'; // the server has forgotten it: finished (or never existed)
  if (!status.running) return 'queued';
  return `running ${status.numerator}/${status.denominator}`;
};

// No worker has registered "build-report" yet, so all three are still queued.
for (const { unique, handle } of jobs) {
  console.log(`no worker yet  ${unique}  ${describe(await client.getStatus(handle))}`);
}

// A worker that runs two jobs at a time, four steps of 250 ms each, reporting its progress.
await using worker = await createWorker({
  servers,
  functions: ['build-report'],
  concurrency: 2,
});
void worker.process(async (job) => {
  for (let step = 1; step <= 4; step++) {
    await sleep(250, undefined, { signal: job.signal });
    await job.status(step, 4);
  }
  return `report for ${job.text()}`; // a background job's result goes nowhere
});

// Poll every 300 ms, by handle (GET_STATUS) and by unique (GET_STATUS_UNIQUE), until the
// server knows none of the jobs any more: that is how a background job is seen to finish.
for (let poll = 1; ; poll++) {
  await sleep(300);
  let known = 0;
  for (const { unique, handle } of jobs) {
    const byHandle = await client.getStatus(handle);
    const byUnique = await client.getStatus({ unique });
    if (byHandle.known) known++;
    console.log(
      `poll ${poll}  ${unique}  by handle: ${describe(byHandle)}  by unique: ` +
        `${describe(byUnique)} (${byUnique.waitingClients} clients waiting)`,
    );
  }
  if (known === 0) break;
}
console.log(`all ${jobs.length} background jobs finished`);
