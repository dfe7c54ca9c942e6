// packages/server/README.md, "Durability".
// biome-ignore-all lint/correctness/noUnusedVariables: the snippet declares what the README shows
import { createServer } from '@gearmanode/server';

await using server = await createServer({ port: 0, store: 'sqlite:./queue.sqlite' });
