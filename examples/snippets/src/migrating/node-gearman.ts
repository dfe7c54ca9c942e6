// docs/migrating.md, "From node-gearman".
import { createClient } from '@gearmanode/client';
import { createWorker } from '@gearmanode/worker';

// const gearman = new Gearman('localhost', 4730); gearman.connect()
const client = await createClient({ servers: ['localhost:4730'] });
const worker = await createWorker({ servers: ['localhost:4730'] });

// gearman.registerWorker('reverse', (payload, worker) => worker.end(reversed))
// with worker.error() for a failure
worker.register('reverse', (job) => {
  // worker.error(): a thrown error fails the job (WORK_EXCEPTION); job.fail() sends a bare WORK_FAIL
  if (job.payload.length === 0) throw new Error('empty payload');
  return [...job.text()].reverse().join(''); // worker.end(reversed)
});
void worker.process();

// const job = gearman.submitJob('reverse', 'hello'); job.setTimeout(5000)
// with job.on('data'), job.on('end'), job.on('error'), job.on('timeout')
const run = client.start('reverse', 'hello', { encoding: 'utf8', timeout: 5000 });
for await (const event of run) {
  if (event.type === 'data') process.stdout.write(event.data); // job.on('data')
}
const reversed = await run.result(); // job.on('end'); rejects for 'error' and 'timeout'
console.log(reversed);

// gearman.close()
await worker.close();
await client.close();
