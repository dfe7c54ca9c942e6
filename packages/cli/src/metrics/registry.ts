import { Gauge, Registry } from 'prom-client';
import type { ServerScrape } from './scrape.js';

/**
 * Every metric the exporter serves: name, help and labels. The README's metrics table lists the
 * same; keep the two in step.
 */
export const METRICS = {
  up: {
    name: 'gearman_up',
    help: 'Whether the job server answered the admin commands at the last scrape (1) or not (0).',
    labelNames: ['server'],
  },
  scrapeDuration: {
    name: 'gearman_scrape_duration_seconds',
    help: 'How long the job server took to answer status, prioritystatus and workers.',
    labelNames: ['server'],
  },
  queued: {
    name: 'gearman_function_queued_jobs',
    help: 'Jobs of the function waiting for a worker, all priorities together.',
    labelNames: ['server', 'function'],
  },
  queuedByPriority: {
    name: 'gearman_function_queued_jobs_by_priority',
    help: 'Jobs of the function waiting for a worker, by priority (high, normal, low).',
    labelNames: ['server', 'function', 'priority'],
  },
  running: {
    name: 'gearman_function_running_jobs',
    help: 'Jobs of the function that a worker is running.',
    labelNames: ['server', 'function'],
  },
  functionWorkers: {
    name: 'gearman_function_workers',
    help: 'Workers registered for the function.',
    labelNames: ['server', 'function'],
  },
  serverWorkers: {
    name: 'gearman_server_workers',
    help: 'Connections with at least one function registered (worker connections).',
    labelNames: ['server'],
  },
  connections: {
    name: 'gearman_server_connections',
    help: 'Every connection the server lists: workers, clients and admin connections.',
    labelNames: ['server'],
  },
  functions: {
    name: 'gearman_server_functions',
    help: 'Functions the server knows.',
    labelNames: ['server'],
  },
} as const;

type Key = keyof typeof METRICS;

/** A private prom-client registry holding the job servers' figures of the last scrape. */
export interface MetricsRegistry {
  readonly registry: Registry;
  /** Replaces every figure with `scrapes`: a function gone from a server leaves no series. */
  update(scrapes: readonly ServerScrape[]): void;
}

/** Creates the registry; it is not prom-client's global one, so nothing else ends up in it. */
export function createMetricsRegistry(): MetricsRegistry {
  const registry = new Registry();
  const gauges = {} as Record<Key, Gauge>;
  for (const key of Object.keys(METRICS) as Key[]) {
    const { name, help, labelNames } = METRICS[key];
    gauges[key] = new Gauge({ name, help, labelNames: [...labelNames], registers: [registry] });
  }
  return {
    registry,
    update(scrapes) {
      for (const gauge of Object.values(gauges)) gauge.reset();
      for (const scrape of scrapes) {
        const { server } = scrape;
        gauges.up.set({ server }, scrape.up ? 1 : 0);
        gauges.scrapeDuration.set({ server }, scrape.durationSeconds);
        // A server that did not answer has no figures, rather than zeros that look like an
        // empty queue; `gearman_up` says why.
        if (!scrape.up) continue;
        gauges.functions.set({ server }, scrape.functions.length);
        gauges.connections.set({ server }, scrape.connections.length);
        gauges.serverWorkers.set(
          { server },
          scrape.connections.filter((connection) => connection.functions.length > 0).length,
        );
        for (const row of scrape.functions) {
          const labels = { server, function: row.functionName };
          gauges.queued.set(labels, row.queued);
          gauges.running.set(labels, row.running);
          gauges.functionWorkers.set(labels, row.workers);
          if (row.priority === undefined) continue;
          for (const priority of ['high', 'normal', 'low'] as const) {
            gauges.queuedByPriority.set({ ...labels, priority }, row.priority[priority]);
          }
        }
      }
    },
  };
}
