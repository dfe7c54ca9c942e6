// docs/migrating.md, "From abraxas".
// biome-ignore-all lint/correctness/noUnusedVariables: the snippet declares what the guide shows
import { createClient } from '@gearmanode/client';
import { createWorker } from '@gearmanode/worker';

// Gearman.Client.connect({ servers: ['127.0.0.1:4730'], defaultEncoding: 'utf8', maxJobs: 4 })
// is one object for both roles there; here a client and a worker.
const client = await createClient({ servers: ['127.0.0.1:4730'] });
const worker = await createWorker({ servers: ['127.0.0.1:4730'], concurrency: 4 });

// client.registerWorker('toUpper', (task) => task.payload.toUpperCase())
worker.register('toUpper', (job) => job.text().toUpperCase());
void worker.process();

// client.submitJob('toUpper', 'test string').then((result) => ...)
const upper = await client.submit('toUpper', 'test string', { encoding: 'utf8' });

// client.submitJobBg('toUpper', 'test string')
const handle = await client.submitBackground('toUpper', 'test string');

// client.getStatus(jobid)
const status = await client.getStatus(handle);

// client.submitJob(..., { responseTimeout: 5000 })
const quick = await client.submit('toUpper', 'x', { encoding: 'utf8', timeout: 5000 });

// client.disconnect()
await worker.close();
await client.close();
