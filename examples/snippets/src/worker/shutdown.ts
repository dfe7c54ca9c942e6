// packages/worker/README.md, "Shutdown". Runnable: examples/shutdown.
import type { Worker } from '@gearmanode/worker';

declare const worker: Worker;

process.once('SIGTERM', () => {
  void worker.close({ timeout: 20_000 }).then(() => console.log('worker closed'));
});
process.once('SIGINT', () => worker.destroy());
