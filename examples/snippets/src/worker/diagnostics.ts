// packages/worker/README.md, "Diagnostics channels".
import diagnostics from 'node:diagnostics_channel';
import type { WorkerJobContext } from '@gearmanode/worker';

// One of the TracingChannel's channels: tracing:gearmanode:worker:job:{start,end,asyncStart,asyncEnd,error}
diagnostics.subscribe('tracing:gearmanode:worker:job:asyncEnd', (message) => {
  const job = message as WorkerJobContext;
  console.log(job.functionName, job.handle, job.outcome, job.responseBytes);
});
