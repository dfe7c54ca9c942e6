import { createClient } from '@gearmanode/client';

// Submits its argument (default "hello world!") to "reverse" on the job servers in
// GEARMAN_SERVERS (default 127.0.0.1:4730) and prints the result.
const servers = process.env.GEARMAN_SERVERS ?? '127.0.0.1:4730';
const text = process.argv[2] ?? 'hello world!';

await using client = await createClient({ servers });
console.log(await client.submit('reverse', text, { encoding: 'utf8', timeout: 10_000 }));
