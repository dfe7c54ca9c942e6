// packages/client/README.md, "Progress". Runnable: examples/progress.
// biome-ignore-all lint/correctness/noUnusedVariables: the snippet declares what the README shows
import type { Writable } from 'node:stream';
import type { Client } from '@gearmanode/client';

declare const client: Client;
declare const video: Uint8Array;
declare const output: Writable;

const run = client.start('transcode', video, { signal: AbortSignal.timeout(60_000) });
for await (const event of run) {
  if (event.type === 'created') console.log('handle', event.handle);
  if (event.type === 'status') console.log(`${event.numerator}/${event.denominator}`);
  if (event.type === 'data') output.write(event.data);
  if (event.type === 'warning') console.warn(event.data.toString());
}
const result = await run.result(); // rejects as submit() does
