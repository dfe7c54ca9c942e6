/**
 * The driver protocol: how the runner talks to a driver process, whatever its language.
 *
 * In: `key=value` command-line arguments ({@link DriverConfig}). Out: one JSON object per line
 * on stdout ({@link DriverMessage}); lines that are not such objects (a library's own logging)
 * are ignored. A worker prints `ready` once connected, `worker` after its `warmup + jobs`-th
 * job, then stays connected until its stdin closes. A client runs its `warmup` jobs first, then
 * prints `measuring` (the runner starts reading the server's CPU there) and `client` when all
 * its measured jobs settled; a warm-up job that is lost, failed or wrong makes it print `error`
 * and exit instead. The embedded server's process (src/embedded-server.ts) prints `listening`.
 */

/** What a driver is told to do. */
export interface DriverConfig {
  role: 'client' | 'worker';
  host: string;
  port: number;
  /** The function name, unique per run. */
  fn: string;
  /** Measured jobs: the client submits them after the warm-up; the worker reports after them. */
  jobs: number;
  /**
   * Jobs run before the measured ones, with the same payloads, in-flight window and checks, and
   * counted in no figure (CPU, elapsed time, latencies). Foreground only: drivers treat it as 0
   * in `bg` mode, where the worker's queue must hold exactly the measured jobs.
   */
  warmup: number;
  /** Payload bytes per job. */
  size: number;
  /** Client: jobs submitted and not yet settled at any time. */
  inflight: number;
  /** Client: foreground (`fg`, wait for results) or background (`bg`, wait for JOB_CREATED). */
  mode: 'fg' | 'bg';
  /** Payload kind: printable ASCII, or every byte value (scenario X). */
  payload: 'ascii' | 'bytes';
  /** Worker: connections to the server, each grabbing jobs on its own. */
  connections: number;
  /** Worker: jobs in progress per connection, where the library has such a setting. */
  concurrency: number;
  /** Worker: check each payload against its index and count duplicates (background jobs). */
  verify: boolean;
}

/** CPU time consumed during the measured phase, in microseconds. */
export interface CpuUsage {
  user: number;
  system: number;
}

/** A client's report on its measured jobs: every job settled, or lost after the stall timeout. */
export interface ClientReport {
  type: 'client';
  jobs: number;
  /** Results equal to their input (foreground), or JOB_CREATED received (background). */
  ok: number;
  /** Results that differ from their input. */
  wrong: number;
  /** WORK_FAIL, WORK_EXCEPTION or a rejected submit. */
  failed: number;
  /** Jobs with no answer when the client gave up. */
  lost: number;
  elapsedMs: number;
  cpuUs: CpuUsage;
  /** Per-job latency, submit to result (foreground only). */
  latenciesUs?: number[];
}

/** A worker's report after its `warmup + jobs`-th job; every figure excludes the warm-up. */
export interface WorkerReport {
  type: 'worker';
  /** The measured jobs (`jobs`). */
  jobs: number;
  /** Payloads that failed the check (with `verify`). */
  wrong: number;
  /** First job received to last job completed. */
  elapsedMs: number;
  cpuUs: CpuUsage;
}

export type DriverMessage =
  | { type: 'ready' }
  /** Client: the warm-up is over (or there was none); the measured phase starts now. */
  | { type: 'measuring' }
  | { type: 'listening'; host: string; port: number }
  | { type: 'error'; message: string }
  | ClientReport
  | WorkerReport;

const MESSAGE_TYPES = new Set(['ready', 'measuring', 'listening', 'error', 'client', 'worker']);

/** Parses one stdout line, or returns undefined when it is not a driver message. */
export function parseMessage(line: string): DriverMessage | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    const value: unknown = JSON.parse(line);
    if (typeof value === 'object' && value !== null && 'type' in value) {
      if (MESSAGE_TYPES.has(String(value.type))) return value as DriverMessage;
    }
  } catch {
    // Not JSON: a library logging to stdout. Ignored, as the protocol says.
  }
  return undefined;
}

/** Turns a config into the `key=value` arguments every driver reads. */
export function toArgs(config: DriverConfig): string[] {
  return Object.entries(config).map(([key, value]) =>
    typeof value === 'boolean' ? `${key}=${value ? 1 : 0}` : `${key}=${value}`,
  );
}

/** Reads the `key=value` arguments back (used by the Node drivers). */
export function fromArgs(argv: readonly string[]): DriverConfig {
  const raw = new Map<string, string>();
  for (const arg of argv) {
    const eq = arg.indexOf('=');
    if (eq > 0) raw.set(arg.slice(0, eq), arg.slice(eq + 1));
  }
  const text = (key: string, fallback: string): string => raw.get(key) ?? fallback;
  const number = (key: string, fallback: number): number => Number(raw.get(key) ?? fallback);
  const mode = text('mode', 'fg') === 'bg' ? 'bg' : 'fg';
  return {
    role: text('role', 'client') === 'worker' ? 'worker' : 'client',
    host: text('host', '127.0.0.1'),
    port: number('port', 4730),
    fn: text('fn', 'echo'),
    jobs: number('jobs', 1000),
    warmup: mode === 'bg' ? 0 : number('warmup', 0),
    size: number('size', 16),
    inflight: number('inflight', 1),
    mode,
    payload: text('payload', 'ascii') === 'bytes' ? 'bytes' : 'ascii',
    connections: number('connections', 1),
    concurrency: number('concurrency', 1),
    verify: text('verify', '0') === '1',
  };
}
