// packages/client/README.md, "Shutdown".
import type { Client } from '@gearmanode/client';

declare const client: Client;

process.once('SIGTERM', () => void client.close({ timeout: 30_000 }));
