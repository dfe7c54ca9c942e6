// packages/worker/README.md, "Quick start" (process()). Runnable: examples/reverse.
import type { Worker } from '@gearmanode/worker';

declare const worker: Worker;
declare function resize(image: Buffer, options: { signal: AbortSignal }): Promise<Buffer>;

await worker.process(async (job) => resize(job.payload, { signal: job.signal }));
