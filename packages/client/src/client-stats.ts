import type { GearmanError } from '@gearmanode/protocol';
import type { Admission } from './admission.js';
import type { ClientStats } from './client-types.js';
import type { ServerLink } from './server-link.js';

/** The counters of `stats()`, kept by the parts of the client that see each outcome. */
export type ClientCounts = {
  -readonly [K in Exclude<keyof ClientStats, 'inFlight' | 'queued' | 'servers'>]: number;
};

/** Counters at zero, for a new client. */
export function newClientCounts(): ClientCounts {
  return {
    submitted: 0,
    completed: 0,
    created: 0,
    failed: 0,
    exceptions: 0,
    timeouts: 0,
    aborted: 0,
    connectionErrors: 0,
    serverErrors: 0,
    retries: 0,
  };
}

/** Counts a job's or request's rejection by the error's kind. */
export function countError(counts: ClientCounts, error: unknown): void {
  const code = (error as GearmanError | undefined)?.code;
  if (code === 'ERR_CONNECTION') counts.connectionErrors++;
  else if (code === 'ERR_SERVER') counts.serverErrors++;
}

/** The counters with the current load of the admission queue and of every server. */
export function clientStats(
  counts: ClientCounts,
  admission: Admission,
  links: readonly ServerLink[],
): ClientStats {
  const now = Date.now();
  return {
    ...counts,
    inFlight: admission.inFlight,
    queued: admission.queued,
    servers: links.map((link) => ({
      server: link.name,
      state: link.connection.state,
      down: link.downUntil > now,
      suspect: link.suspect,
      pendingRequests: link.connection.pendingRequests,
      jobs: link.jobs.size,
    })),
  };
}
