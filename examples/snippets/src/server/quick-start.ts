// packages/server/README.md, "Quick start". Runnable: examples/reverse (src/main.ts).
// biome-ignore-all lint/correctness/noUnusedVariables: the snippet declares what the README shows
import { createServer } from '@gearmanode/server';

await using server = await createServer({ port: 0 }); // 0 picks a free port
const { host, port } = server.address; // listening once the promise resolves
// … point clients and workers at `${host}:${port}` …
// `await using` calls server.close() at the end of the block
