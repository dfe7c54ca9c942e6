// packages/worker/README.md, "Diagnostics channels".
import diagnostics from 'node:diagnostics_channel';
import type { WorkerJobContext } from '@gearmanode/worker';

const jobs = diagnostics.tracingChannel<unknown, WorkerJobContext>('gearmanode:worker:job');
jobs.asyncEnd.subscribe((message) => {
  const job = message as WorkerJobContext;
  console.log(job.functionName, job.handle, job.outcome, job.responseBytes);
});
