import type { WorkerStats } from './worker-types.js';

/** The counters of `stats()`: the fields of WorkerStats that only ever increase. */
export type Counter = Exclude<
  keyof WorkerStats,
  'inFlight' | 'buffered' | 'grabsInFlight' | 'servers'
>;

/** A fresh set of counters, all zero. */
export function newCounters(): Record<Counter, number> {
  return {
    received: 0,
    completed: 0,
    failed: 0,
    exceptions: 0,
    timeouts: 0,
    lost: 0,
    abandoned: 0,
    released: 0,
    droppedResults: 0,
    jobNotFound: 0,
    reportRefused: 0,
    grabs: 0,
    noJobs: 0,
  };
}
