import { createClient } from '@gearmanode/client';
import { createServer } from '@gearmanode/server';
import { createWorker } from '@gearmanode/worker';

// GEARMAN_SERVERS=host:port[,host:port] names the job servers. Without it, a job server starts
// in this process on a free port, so nothing else has to be installed.
const named = process.env.GEARMAN_SERVERS;
await using server = named ? undefined : await createServer({ port: 0 });
const servers = server ? `${server.address.host}:${server.address.port}` : named!;
console.error(server ? `embedded job server on ${servers}` : `job servers: ${servers}`);

// A worker that answers each "reverse" job with its text reversed.
await using worker = await createWorker({ servers, functions: ['reverse'] });
void worker.process((job) => [...job.text()].reverse().join(''));

// A client that submits one job and prints its result.
await using client = await createClient({ servers });
const reversed = await client.submit('reverse', 'hello world!', { encoding: 'utf8' });
console.log(reversed); // !dlrow olleh

// Here `await using` closes the client, the worker and the server, in that order.
