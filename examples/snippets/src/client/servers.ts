// packages/client/README.md, "Several servers and failover". Runnable: examples/multi-server.
import { createClient } from '@gearmanode/client';

declare function log(type: string, server: string): void;

const client = await createClient({ servers: ['gm1:4730', 'gm2:4730', 'gm3:4730'] });

for await (const event of client.status()) log(event.type, event.server);
