import { createWorker } from '@gearmanode/worker';

// A "reverse" worker on the job servers in GEARMAN_SERVERS (default 127.0.0.1:4730).
const servers = process.env.GEARMAN_SERVERS ?? '127.0.0.1:4730';
const worker = await createWorker({ servers, functions: ['reverse'] });

// The library installs no signal handlers: stop on Ctrl-C or SIGTERM, letting a running job
// finish first.
process.once('SIGINT', () => void worker.close());
process.once('SIGTERM', () => void worker.close());

console.error(`reverse worker on ${servers}; Ctrl-C stops it`);
await worker.process((job) => [...job.text()].reverse().join(''));
console.error('worker closed');
