// packages/opentelemetry/README.md, "Quick start".
import { createClient } from '@gearmanode/client';
import { instrument } from '@gearmanode/opentelemetry';
import { createWorker } from '@gearmanode/worker';

// After the OpenTelemetry SDK has registered the global tracer and meter providers.
const instrumentation = instrument();

const servers = (process.env.GEARMAN_SERVERS ?? '127.0.0.1:4730').split(',');
await using worker = await createWorker({ servers, functions: ['reverse'] });
void worker.process((job) => [...job.text()].reverse().join(''));

await using client = await createClient({ servers });
console.log(await client.submit('reverse', 'hello', { encoding: 'utf8' })); // 'olleh'

instrumentation.dispose(); // or `using instrumentation = instrument()`
