// What a user of the published packages runs on Node 20 as plain JavaScript: an embedded job
// server, a worker and a client, one job through them, then everything closed in turn.
import { createClient } from '@gearmanode/client';
import { createServer } from '@gearmanode/server';
import { createWorker } from '@gearmanode/worker';

const server = await createServer({ port: 0 });
try {
  const servers = `${server.address.host}:${server.address.port}`;
  const worker = await createWorker({ servers, functions: ['reverse'] });
  try {
    void worker.process((job) => [...job.text()].reverse().join(''));
    const client = await createClient({ servers });
    try {
      const reversed = await client.submit('reverse', 'hello world!', { encoding: 'utf8' });
      console.log(reversed); // !dlrow olleh
    } finally {
      await client.close();
    }
  } finally {
    await worker.close();
  }
} finally {
  await server.close();
}
