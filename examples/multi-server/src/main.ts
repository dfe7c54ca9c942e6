import { setTimeout as sleep } from 'node:timers/promises';
import { createClient } from '@gearmanode/client';
import { createServer, type GearmanServer } from '@gearmanode/server';
import { createWorker } from '@gearmanode/worker';

// Two job servers: those named in GEARMAN_SERVERS (host:port[,host:port]), and as many started
// in this process as it takes to have two. One started here is stopped halfway through; a
// server named in GEARMAN_SERVERS is never stopped (stop one yourself to see the same).
const named = (process.env.GEARMAN_SERVERS ?? '').split(',').filter((s) => s.trim() !== '');
const embedded: GearmanServer[] = [];
while (named.length + embedded.length < 2) embedded.push(await createServer({ port: 0 }));
const address = (server: GearmanServer) => `${server.address.host}:${server.address.port}`;
const servers = [...named, ...embedded.map(address)];
const victim = embedded.at(-1);
for (const server of named) console.log(`server ${server}`);
for (const server of embedded) console.log(`server ${address(server)} (embedded)`);

// One worker connected to both servers, taking jobs from either. Each job takes 100 ms and
// answers with the server it came from.
const worker = await createWorker({ servers, functions: ['which-server'], concurrency: 4 });
void worker.process(async (job) => {
  await sleep(100, undefined, { signal: job.signal });
  return job.server;
});

// The client spreads jobs without a unique round-robin over the healthy servers. A job whose
// server dies after it was sent is sent again elsewhere, because `retry` allows it and the job
// is marked idempotent (running it twice does no harm). Jobs not yet sent just go elsewhere.
const client = await createClient({ servers, retry: 3 });

const JOBS = 30;
const perServer = new Map<string, number>(servers.map((server) => [server, 0]));
let failed = 0;
const results: Promise<void>[] = [];
for (let i = 1; i <= JOBS; i++) {
  const result = client.submit('which-server', `job ${i}`, { encoding: 'utf8', idempotent: true });
  results.push(
    result.then(
      (server) => void perServer.set(server, (perServer.get(server) ?? 0) + 1),
      (error: Error) => {
        failed++;
        console.log(`job ${i} failed: ${error.message}`);
      },
    ),
  );
  await sleep(25);
  if (i === JOBS / 2) {
    if (victim) {
      console.log(`stopping ${address(victim)} after ${i} of ${JOBS} submits, with jobs running`);
      await victim.close();
    } else {
      console.log('both servers come from GEARMAN_SERVERS: not stopping either');
    }
  }
}
await Promise.all(results);

console.log(`${JOBS - failed} of ${JOBS} jobs completed, ${failed} failed`);
for (const [server, count] of perServer) console.log(`  ${server}: ${count} jobs`);
console.log(`retries after a lost connection: ${client.stats().retries}`);

await client.close();
await worker.close();
for (const server of embedded) await server.close();
