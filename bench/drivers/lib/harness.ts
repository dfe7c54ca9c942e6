/**
 * What every Node driver shares: the client's submit loop and the worker's echo bookkeeping.
 * A driver supplies only the library calls ({@link ClientCalls}, and a worker that calls
 * {@link WorkerHarness.echo} and {@link WorkerHarness.completed} per job).
 */
import { performance } from 'node:perf_hooks';
import {
  type ClientReport,
  type CpuUsage,
  type DriverConfig,
  type DriverMessage,
  fromArgs,
  type WorkerReport,
} from '../../src/driver-protocol.ts';
import { indexOf, payload } from './payload.ts';

/** A client driver gives up when no job has settled for this long; the rest count as lost. */
const STALL_MS = 30_000;

/** Reads the driver's config from its command line. */
export function config(): DriverConfig {
  return fromArgs(process.argv.slice(2));
}

/** Writes one protocol message on its own line. */
export function send(message: DriverMessage): Promise<void> {
  return new Promise((resolve) =>
    process.stdout.write(`${JSON.stringify(message)}\n`, () => resolve()),
  );
}

function cpuSince(start: NodeJS.CpuUsage): CpuUsage {
  const { user, system } = process.cpuUsage(start);
  return { user, system };
}

/** The library calls a client driver provides. */
export interface ClientCalls {
  /** Foreground submit; resolves with the result. */
  submit(payload: Buffer): Promise<Buffer>;
  /** Background submit; resolves once the server has queued the job. */
  submitBackground(payload: Buffer): Promise<unknown>;
}

/** What one phase of the client (warm-up or measured) ended with. */
interface Phase {
  ok: number;
  wrong: number;
  failed: number;
  /** Jobs with no answer when the phase stalled. */
  lost: number;
}

/**
 * Submits jobs `0..count-1`, `cfg.inflight` at a time, and checks every result against its
 * payload. Records each job's latency in `latencies` when given. Gives up after `STALL_MS`
 * without a settled job; the jobs then unsettled count as lost.
 */
async function runPhase(
  cfg: DriverConfig,
  calls: ClientCalls,
  count: number,
  latencies?: number[],
): Promise<Phase> {
  const counts = { ok: 0, wrong: 0, failed: 0 };
  let next = 0;
  let lastSettled = performance.now();

  const lane = async (): Promise<void> => {
    while (next < count) {
      const index = next++;
      const input = payload(index, cfg.size, cfg.payload);
      const started = performance.now();
      try {
        if (cfg.mode === 'bg') {
          await calls.submitBackground(input);
          counts.ok++;
        } else {
          const result = await calls.submit(input);
          // `equals` takes any Uint8Array: no copy of the result (1 MiB per job in scenario D).
          if (input.equals(result)) counts.ok++;
          else counts.wrong++;
        }
      } catch {
        counts.failed++; // counted, not thrown: the report says how many failed
      }
      lastSettled = performance.now();
      if (latencies !== undefined) latencies[index] = (lastSettled - started) * 1000;
    }
  };

  const all = Promise.all(Array.from({ length: Math.min(cfg.inflight, count) }, lane));
  let stalled = false;
  await new Promise<void>((resolve) => {
    const watchdog = setInterval(() => {
      if (performance.now() - lastSettled > STALL_MS) {
        stalled = true;
        clearInterval(watchdog);
        resolve();
      }
    }, 1000);
    void all.then(() => {
      clearInterval(watchdog);
      resolve();
    });
  });
  const lost = stalled ? count - counts.ok - counts.wrong - counts.failed : 0;
  return { ...counts, lost };
}

/**
 * Runs `cfg.warmup` jobs unmeasured, then `cfg.jobs` measured ones, both `cfg.inflight` at a
 * time with every result checked against its payload; prints the `client` report on the
 * measured jobs and exits the process. A warm-up job that is lost, failed or wrong ends the
 * run with an `error` message instead: no job may go missing unnoticed.
 */
export async function runClient(cfg: DriverConfig, calls: ClientCalls): Promise<never> {
  if (cfg.warmup > 0) {
    const warm = await runPhase(cfg, calls, cfg.warmup);
    const problems = (['lost', 'failed', 'wrong'] as const)
      .filter((key) => warm[key] > 0)
      .map((key) => `${warm[key]} ${key}`);
    if (problems.length > 0) {
      await send({
        type: 'error',
        message: `warm-up: ${problems.join(', ')} of ${cfg.warmup} jobs`,
      });
      process.exit(1);
    }
  }
  const latencies: number[] = new Array(cfg.jobs).fill(0);
  await send({ type: 'measuring' });
  const cpu = process.cpuUsage();
  const started = performance.now();
  const measured = await runPhase(cfg, calls, cfg.jobs, latencies);
  const report: ClientReport = {
    type: 'client',
    jobs: cfg.jobs,
    ...measured,
    elapsedMs: performance.now() - started,
    cpuUs: cpuSince(cpu),
    ...(cfg.mode === 'fg' ? { latenciesUs: latencies.map((us) => Math.round(us * 10) / 10) } : {}),
  };
  await send(report);
  // Not closing the library first: some peers never finish closing. The report is out.
  process.exit(0);
}

/** Bookkeeping for a worker driver's echo handler. */
export interface WorkerHarness {
  /** Call once connected and registered: prints `ready` and starts the CPU clock. */
  ready(): void;
  /** Call with each job's payload; returns the result to complete the job with. */
  echo(payload: Buffer): Buffer;
  /** Call once a job's WORK_COMPLETE has been handed to the library. */
  completed(): void;
}

/**
 * Creates the worker bookkeeping. The first `config.warmup` completions are the client's
 * warm-up: after them the CPU clock and the first-job time start again. After `config.jobs`
 * more it prints the `worker` report on those, then the process waits for its stdin to close
 * and exits.
 */
export function workerHarness(cfg: DriverConfig): WorkerHarness {
  const total = cfg.warmup + cfg.jobs;
  const seen = new Uint8Array(cfg.jobs);
  let cpu = process.cpuUsage();
  let first = 0;
  let handled = 0;
  let wrong = 0;
  process.stdin.on('end', () => process.exit(0));
  process.stdin.resume();
  return {
    ready() {
      cpu = process.cpuUsage();
      void send({ type: 'ready' });
    },
    echo(data) {
      if (first === 0) first = performance.now();
      if (cfg.verify) {
        const index = indexOf(data);
        const inRange = index >= 0 && index < cfg.jobs;
        const expected = inRange ? payload(index, cfg.size, cfg.payload) : undefined;
        if (!expected?.equals(data) || seen[index] === 1) wrong++;
        else seen[index] = 1;
      }
      return data;
    },
    completed() {
      handled++;
      if (handled === cfg.warmup) {
        // The client submits no measured job before every warm-up result is back.
        cpu = process.cpuUsage();
        first = 0;
      }
      if (handled !== total) return;
      const report: WorkerReport = {
        type: 'worker',
        jobs: handled - cfg.warmup,
        wrong,
        elapsedMs: performance.now() - first,
        cpuUs: cpuSince(cpu),
      };
      void send(report);
    },
  };
}
