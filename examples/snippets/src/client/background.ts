// packages/client/README.md, "Background jobs and status". Runnable: examples/background.
// biome-ignore-all lint/correctness/noUnusedVariables: the snippet declares what the README shows
import type { Client } from '@gearmanode/client';

declare const client: Client;
declare const params: string;

const handle = await client.submitBackground('report', params, { unique: 'report-2024-06' });
const byHandle = await client.getStatus(handle);
// { handle, known: true, running: true, numerator: 3, denominator: 10 }
const byUnique = await client.getStatus({ unique: 'report-2024-06' });
// { unique, known, running, numerator, denominator, waitingClients }
