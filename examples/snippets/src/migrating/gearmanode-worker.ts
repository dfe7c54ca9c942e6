// docs/migrating.md, "From GearmaNode 0.9": the worker side.
import { createWorker } from '@gearmanode/worker';

// gearmanode.worker({ servers: [...] }) and worker.setWorkerId('FooBazBar')
const worker = await createWorker({
  servers: ['foo.com:4731', 'bar.com:4732'],
  clientId: 'FooBazBar',
});

// worker.addFunction('reverse', (job) => job.workComplete(...), { toStringEncoding: 'utf8' })
worker.register('reverse', (job) => [...job.text('utf8')].reverse().join(''));

// worker.addFunction('resize', handler, { timeout: 10 }): seconds there, milliseconds here
worker.register('resize', { timeout: 10_000 }, async (job) => {
  await job.status(1, 2); // job.reportStatus(1, 2)
  await job.data('partial'); // job.sendWorkData('partial')
  await job.warning('slow disk'); // job.reportWarning('slow disk')
  if (job.payload.length === 0) {
    await job.fail(); // job.reportError()
    return;
  }
  return job.payload; // job.workComplete(job.payload)
});

// worker.removeFunction('resize')
worker.unregister('resize');

// Runs the registered handlers until the worker closes (GearmaNode starts on addFunction).
void worker.process();

// worker.close(), waiting for the running jobs first
process.once('SIGTERM', () => void worker.close({ timeout: 20_000 }));
