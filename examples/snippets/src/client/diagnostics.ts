// packages/client/README.md, "Diagnostics channels".
import diagnostics from 'node:diagnostics_channel';
import type { ClientSubmitContext } from '@gearmanode/client';

diagnostics.tracingChannel<unknown, ClientSubmitContext>('gearmanode:client:submit').subscribe({
  start() {},
  end() {},
  asyncStart() {},
  asyncEnd(context) {
    console.log(context.functionName, context.handle, context.responseBytes);
  },
  error(context) {
    console.log(context.functionName, 'failed:', context.error);
  },
});
