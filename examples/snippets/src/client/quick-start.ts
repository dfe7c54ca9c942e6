// packages/client/README.md, "Quick start".
// biome-ignore-all lint/correctness/noUnusedVariables: the snippet declares what the README shows
declare const image: Uint8Array;

import { createClient } from '@gearmanode/client';

const client = await createClient({ servers: ['127.0.0.1:4730'] });

// Foreground: resolves with the worker's WORK_COMPLETE payload.
const thumb = await client.submit('resize', image, { timeout: 10_000 });
const text = await client.submit('reverse', 'hello', { encoding: 'utf8' });

// Background: resolves once the server has queued the job.
const handle = await client.submitBackground('reindex', JSON.stringify({ id: 7 }));

await client.close();
