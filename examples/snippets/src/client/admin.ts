// packages/client/README.md, "Admin".
import { createAdmin } from '@gearmanode/client';

await using admin = await createAdmin({ server: '127.0.0.1:4730', timeout: 5000 });
for (const row of await admin.status()) console.log(row.functionName, row.queued, row.running);
await admin.maxQueue('resize', { high: 100, normal: 50, low: 10 });
