/**
 * The scenarios of issue 9. Each one runs an echo worker and a client against a fresh server;
 * every result is checked against its input. Foreground scenarios start with warm-up jobs that
 * no figure counts, the same for every implementation, so that JIT-compiled runtimes are
 * measured in their steady state.
 */

/** What one scenario asks of the client and worker drivers. */
export interface Scenario {
  id: 'A' | 'B1' | 'B4' | 'C' | 'D' | 'X' | 'S';
  /** One line for the report, after the job count (see {@link describeScenario}). */
  title: string;
  jobs: number;
  /** Jobs under `--quick`. */
  quickJobs: number;
  /**
   * Jobs run before the measured ones and counted in no figure; foreground scenarios only (a
   * background scenario's queue must hold exactly its measured jobs).
   */
  warmup: number;
  /** Payload bytes per job. */
  size: number;
  /** Jobs the client keeps submitted and unsettled. */
  inflight: number;
  /** Worker connections. */
  connections: number;
  /** `fg`: worker first, then the client. `bg`: client submits everything, then the worker drains. */
  mode: 'fg' | 'bg';
  payload: 'ascii' | 'bytes';
  /** The headline figure. */
  metric: 'jobs/s' | 'MB/s' | 'submits/s + drain' | 'exactness';
}

const KiB = 1024;
const MiB = 1024 * KiB;

export const SCENARIOS: readonly Scenario[] = [
  {
    id: 'A',
    title: 'jobs one at a time',
    jobs: 5_000,
    quickJobs: 500,
    // As many as it measures: after 1,000, our client's and worker's code was still being
    // compiled (the jobs over 0.8 ms cluster in the next second), and C needs none.
    warmup: 5_000,
    size: 16,
    inflight: 1,
    connections: 1,
    mode: 'fg',
    payload: 'ascii',
    metric: 'jobs/s',
  },
  {
    id: 'B1',
    title: 'jobs, 256 in flight, 1 worker connection',
    jobs: 50_000,
    quickJobs: 5_000,
    warmup: 5_000,
    size: 16,
    inflight: 256,
    connections: 1,
    mode: 'fg',
    payload: 'ascii',
    metric: 'jobs/s',
  },
  {
    id: 'B4',
    title: 'jobs, 256 in flight, 4 worker connections',
    jobs: 50_000,
    quickJobs: 5_000,
    warmup: 5_000,
    size: 16,
    inflight: 256,
    connections: 4,
    mode: 'fg',
    payload: 'ascii',
    metric: 'jobs/s',
  },
  {
    id: 'C',
    title: 'background submits (256 in flight), then a 1-connection drain',
    jobs: 50_000,
    quickJobs: 5_000,
    warmup: 0,
    size: 16,
    inflight: 256,
    connections: 1,
    mode: 'bg',
    payload: 'ascii',
    metric: 'submits/s + drain',
  },
  {
    id: 'D',
    title: 'jobs of 1 MiB, 8 in flight',
    jobs: 200,
    quickJobs: 20,
    warmup: 0,
    size: MiB,
    inflight: 8,
    connections: 1,
    mode: 'fg',
    payload: 'ascii',
    metric: 'MB/s',
  },
  {
    id: 'X',
    title: 'jobs of 4 KiB holding every byte value, 8 in flight',
    jobs: 64,
    quickJobs: 64,
    warmup: 0,
    size: 4 * KiB,
    inflight: 8,
    connections: 1,
    mode: 'fg',
    payload: 'bytes',
    metric: 'exactness',
  },
];

/**
 * Durable background submits: scenario C's shape with gearmand's measured payload (issue 19),
 * against servers with a SQLite store and our in-memory one (see `durable.ts`); not in
 * `SCENARIOS`, since it compares servers rather than libraries.
 */
export const DURABLE_SCENARIO: Scenario = {
  id: 'S',
  title: 'durable background submits of 100 bytes (256 in flight), then a drain',
  jobs: 20_000,
  quickJobs: 2_000,
  warmup: 0,
  size: 100,
  inflight: 256,
  connections: 1,
  mode: 'bg',
  payload: 'ascii',
  metric: 'submits/s + drain',
};

/** Looks scenarios up by id (`A,B1`), in the order given; throws on an unknown id. */
export function selectScenarios(ids: readonly string[]): Scenario[] {
  return ids.map((id) => {
    const scenario = SCENARIOS.find((s) => s.id.toLowerCase() === id.toLowerCase());
    if (scenario === undefined) {
      throw new Error(`unknown scenario ${id}; known: ${SCENARIOS.map((s) => s.id).join(', ')}`);
    }
    return scenario;
  });
}

/** How the scenarios are sized for a run. */
export interface Sizing {
  /** `--quick`: the `quickJobs` counts, and a tenth of the warm-up, so that its path is exercised. */
  quick: boolean;
  /** False under `--no-warmup`: no warm-up anywhere, cold figures. */
  warmup: boolean;
}

/** The measured jobs of a run. */
export function jobCount(scenario: Scenario, { quick }: Sizing): number {
  return quick ? scenario.quickJobs : scenario.jobs;
}

/** The warm-up jobs of a run: 0 under `--no-warmup` and for background scenarios. */
export function warmupCount(scenario: Scenario, { quick, warmup }: Sizing): number {
  if (!warmup || scenario.mode !== 'fg') return 0;
  return quick ? Math.floor(scenario.warmup / 10) : scenario.warmup;
}

const count = new Intl.NumberFormat('en-US');

/**
 * The scenario's title with the number of jobs it runs and its warm-up, e.g.
 * `5,000 jobs one at a time, after 5,000 warm-up jobs`.
 */
export function describeScenario(scenario: Scenario, sizing: Sizing): string {
  const warmup = warmupCount(scenario, sizing);
  const after = warmup > 0 ? `, after ${count.format(warmup)} warm-up jobs` : '';
  return `${count.format(jobCount(scenario, sizing))} ${scenario.title}${after}`;
}
