// packages/server/README.md, "Lifecycle": the interface as the README shows it. The real one
// must have every member it shows, with the types it shows.
import type { GearmanServer as Exported } from '@gearmanode/server';

interface GearmanServer extends AsyncDisposable {
  readonly address: { host: string; port: number };
  readonly state: 'listening' | 'closing' | 'closed';
  readonly closed: Promise<Error | undefined>; // resolves once closed; never rejects
  close(options?: { graceful?: boolean; timeout?: number }): Promise<void>;
}

declare const exported: Exported;
export const asShown: GearmanServer = exported;
