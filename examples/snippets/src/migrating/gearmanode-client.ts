// docs/migrating.md, "From GearmaNode 0.9": the client side.
// biome-ignore-all lint/correctness/noUnusedVariables: the snippet declares what the guide shows
import { createClient, JobExceptionError, JobFailedError, TimeoutError } from '@gearmanode/client';

// gearmanode.client({ servers: [...], loadBalancing: 'RoundRobin', recoverTime: 10000 })
const client = await createClient({
  servers: ['foo.com:4731', 'bar.com:4732'],
  strategy: 'round-robin', // 'sequence' for loadBalancing: 'Sequence'
  recoverTime: 10_000,
});

// client.submitJob('reverse', 'hello world!', { toStringEncoding: 'utf8' })
// with job.on('complete', () => job.response)
const reversed = await client.submit('reverse', 'hello world!', { encoding: 'utf8' });

// job.on('failed'), job.on('exception'), job.on('timeout'): one rejection with a typed error
try {
  await client.submit('reverse', 'hello', { timeout: 10_000 });
} catch (error) {
  if (error instanceof JobFailedError) console.error('failed');
  else if (error instanceof JobExceptionError) console.error('exception', error.data.toString());
  else if (error instanceof TimeoutError) console.error('timeout');
  else throw error;
}

// job.on('created'), job.on('status'), job.on('workData'), job.on('warning')
const run = client.start('reverse', 'hello', { priority: 'high', unique: 'FooBazBar' });
for await (const event of run) {
  if (event.type === 'created') console.log('handle', event.handle);
  if (event.type === 'status') console.log(`${event.numerator}/${event.denominator}`);
  if (event.type === 'data') console.log('data', event.data);
  if (event.type === 'warning') console.warn('warning', event.data);
}
const result = await run.result(); // job.response, a Buffer

// client.submitJob(name, payload, { background: true }), then job.getStatus()
const handle = await client.submitBackground('reindex', '{"id":7}', { priority: 'low' });
const { known, running, numerator, denominator } = await client.getStatus(handle);

// client.on('socketConnect' | 'socketDisconnect' | 'socketError', ...)
void (async () => {
  for await (const event of client.status()) console.log(event.type, event.server);
})();

// client.jobServers[0].echo('ping') with js.on('echo')
const pong = await client.echo('ping');

// client.close()
await client.close();
