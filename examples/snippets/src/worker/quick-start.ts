// packages/worker/README.md, "Quick start".
import { createWorker } from '@gearmanode/worker';

const worker = await createWorker({ servers: ['127.0.0.1:4730'], concurrency: 8 });
worker.register('reverse', { timeout: 30_000 });
process.once('SIGTERM', () => void worker.close({ timeout: 20_000 }));

for await (const job of worker) {
  void (async () => {
    try {
      await job.status(0, 1);
      await job.complete(Buffer.from(job.payload).reverse());
    } catch (error) {
      await job.fail(error); // WORK_EXCEPTION with the error's message
    }
  })();
}
