/**
 * Foreground throughput: N jobs through gearmand with `inFlight` outstanding, against a worker
 * in another process (a real worker running the echo script). Run with
 * `pnpm exec tsx packages/client/bench/submit.bench.ts [jobs] [inFlight]`.
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startGearmand } from '../../../test/gearmand.js';
import { createClient } from '../src/index.js';
import { scripts, startTestWorker } from '../test/support/workers.js';

const [, , mode, ...rest] = process.argv;

if (mode === '--worker') {
  const [port, name] = rest;
  const worker = await startTestWorker({
    host: '127.0.0.1',
    port: Number(port),
    functions: { [name as string]: scripts.echo },
    concurrency: 512,
  });
  process.send?.('ready');
  process.on('disconnect', () => void worker.close().then(() => process.exit(0)));
} else {
  const jobs = Number(mode ?? 100_000);
  const inFlight = Number(rest[0] ?? 256);
  const server = await startGearmand();
  const child = fork(fileURLToPath(import.meta.url), ['--worker', String(server.port), 'bench'], {
    execArgv: ['--import', 'tsx'],
  });
  await new Promise((resolve) => child.once('message', resolve));
  const client = await createClient({
    servers: [`127.0.0.1:${server.port}`],
    maxInFlight: inFlight,
  });
  const payload = Buffer.from('x'.repeat(64));
  for (const round of [1, 2]) {
    const started = performance.now();
    const cpu = process.cpuUsage();
    const all: Promise<Buffer>[] = [];
    for (let i = 0; i < jobs; i++) all.push(client.submit('bench', payload));
    await Promise.all(all);
    const seconds = (performance.now() - started) / 1000;
    const used = process.cpuUsage(cpu);
    console.log(
      `round ${round}: ${jobs} jobs in ${seconds.toFixed(2)} s = ${Math.round(jobs / seconds)} jobs/s; ` +
        `client CPU ${((used.user + used.system) / 1000 / (seconds * 1000)).toFixed(2)} cores`,
    );
  }
  await client.close();
  child.disconnect();
  await server.stop();
}
