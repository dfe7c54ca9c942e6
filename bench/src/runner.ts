/**
 * One run: a fresh server, the implementation's worker and client drivers as separate
 * processes, and the figures computed from their reports.
 */
import { DriverProcess } from './driver-process.ts';
import {
  type ClientReport,
  type DriverConfig,
  toArgs,
  type WorkerReport,
} from './driver-protocol.ts';
import { BENCH_DIR } from './implementations.ts';
import { jobCount, type Scenario, type Sizing, warmupCount } from './scenarios.ts';
import {
  type BenchServer,
  processCpuUs,
  type ServerKind,
  startServer,
  storeBytes,
} from './server.ts';
import { percentile } from './stats.ts';

/** The figures of one run. Rates are per second; CPU is microseconds per job. */
export interface RunResult {
  /** False when a job was lost, failed or (outside scenario X) came back wrong. */
  ok: boolean;
  error?: string;
  jobsPerSec: number;
  /** Scenario C: background submits per second; `jobsPerSec` is then the drain rate. */
  submitsPerSec?: number;
  /** A durable server's store on disk once every job is submitted, per job. */
  storeBytesPerJob?: number;
  /** Payload megabytes (10^6 bytes, one way) per second. */
  mbPerSec: number;
  p50Ms?: number;
  p99Ms?: number;
  /** Scenario X: every result equal to its input. */
  exact?: boolean;
  /** The driver cannot do what the scenario asks (e.g. Perl with 4 worker connections). */
  unsupported?: boolean;
  wrong: number;
  lost: number;
  failed: number;
  clientCpuUsPerJob: number;
  workerCpuUsPerJob: number;
  serverCpuUsPerJob: number;
}

const READY_MS = 20_000;
/** A run of the full scenario on the slowest peer stays well inside this. */
const RUN_MS = 180_000;

/** A driver's `error` message starting with this means the scenario does not apply to it. */
const UNSUPPORTED = 'reported: unsupported:';

let runCounter = 0;

const cpu = (report: ClientReport | WorkerReport): number =>
  report.cpuUs.user + report.cpuUs.system;

/** How to run a scenario: `quick` (its `quickJobs`), `warmup` (false: none at all). */
export interface RunOptions extends Sizing {
  serverKind: ServerKind;
  /** Worker concurrency per connection, for the libraries that have the setting. */
  concurrency: number;
  /** A server with a SQLite store (see `startServer`). */
  durable?: boolean;
}

/** Runs `scenario` once for the driver `command` against a fresh server. */
export async function runOnce(
  scenario: Scenario,
  command: readonly string[],
  { serverKind, concurrency, durable = false, ...sizing }: RunOptions,
): Promise<RunResult> {
  let server: BenchServer;
  try {
    server = await startServer(serverKind, durable);
  } catch (error) {
    return failure(`the ${serverKind} server did not start: ${messageOf(error)}`);
  }
  const jobs = jobCount(scenario, sizing);
  const base: DriverConfig = {
    role: 'client',
    host: server.host,
    port: server.port,
    fn: `bench_${scenario.id}_${process.pid}_${++runCounter}`,
    jobs,
    warmup: warmupCount(scenario, sizing),
    size: scenario.size,
    inflight: scenario.inflight,
    mode: scenario.mode,
    payload: scenario.payload,
    connections: scenario.connections,
    concurrency,
    verify: scenario.mode === 'bg',
  };
  const spawnDriver = (role: DriverConfig['role']): DriverProcess =>
    new DriverProcess(`${role} driver`, [...command, ...toArgs({ ...base, role })], BENCH_DIR);
  const drivers: DriverProcess[] = [];
  try {
    let client: ClientReport;
    let worker: WorkerReport | undefined;
    let serverCpu: number;
    if (scenario.mode === 'fg') {
      const workerProcess = spawnDriver('worker');
      drivers.push(workerProcess);
      await workerProcess.next('ready', READY_MS);
      const clientProcess = spawnDriver('client');
      drivers.push(clientProcess);
      // The server's CPU counts from the end of the client's warm-up, like the drivers' own.
      await clientProcess.next('measuring', RUN_MS);
      const cpuBefore = processCpuUs(server.pid);
      client = await clientProcess.next('client', RUN_MS);
      serverCpu = processCpuUs(server.pid) - cpuBefore;
      // After lost jobs the worker never reaches its count: the client's report says why.
      const settled = client.lost === 0 && client.failed === 0;
      worker = await workerProcess.next('worker', settled ? 10_000 : 1000).catch((error) => {
        if (settled) throw error;
        return undefined;
      });
    } else {
      const clientProcess = spawnDriver('client');
      drivers.push(clientProcess);
      await clientProcess.next('measuring', RUN_MS);
      const cpuBefore = processCpuUs(server.pid);
      client = await clientProcess.next('client', RUN_MS);
      const bytes = server.storePath === undefined ? undefined : storeBytes(server.storePath);
      const workerProcess = spawnDriver('worker');
      drivers.push(workerProcess);
      await workerProcess.next('ready', READY_MS);
      worker = await workerProcess.next('worker', RUN_MS);
      serverCpu = processCpuUs(server.pid) - cpuBefore;
      if (bytes !== undefined) {
        return {
          ...figures(scenario, jobs, client, worker, serverCpu),
          storeBytesPerJob: bytes / jobs,
        };
      }
    }
    return figures(scenario, jobs, client, worker, serverCpu);
  } catch (error) {
    const message = messageOf(error);
    return { ...failure(message), ...(message.includes(UNSUPPORTED) ? { unsupported: true } : {}) };
  } finally {
    await Promise.all(drivers.map((driver) => driver.stop()));
    await server.stop();
  }
}

function figures(
  scenario: Scenario,
  jobs: number,
  client: ClientReport,
  worker: WorkerReport | undefined,
  serverCpu: number,
): RunResult {
  const clientRate = (jobs / client.elapsedMs) * 1000;
  const background = scenario.mode === 'bg';
  const wrong = client.wrong + (worker?.wrong ?? 0);
  const exact = scenario.id === 'X' ? wrong === 0 : undefined;
  const problems = [
    client.lost > 0 && `${client.lost} lost`,
    client.failed > 0 && `${client.failed} failed`,
    wrong > 0 && exact === undefined && `${wrong} wrong`,
  ].filter(Boolean);
  const latencies = client.latenciesUs ?? [];
  return {
    ok: problems.length === 0,
    ...(problems.length > 0 ? { error: problems.join(', ') } : {}),
    jobsPerSec: background ? (jobs / (worker?.elapsedMs ?? Number.NaN)) * 1000 : clientRate,
    ...(background ? { submitsPerSec: clientRate } : {}),
    mbPerSec: (clientRate * scenario.size) / 1e6,
    ...(latencies.length > 0
      ? { p50Ms: percentile(latencies, 50) / 1000, p99Ms: percentile(latencies, 99) / 1000 }
      : {}),
    ...(exact !== undefined ? { exact } : {}),
    wrong,
    lost: client.lost,
    failed: client.failed,
    clientCpuUsPerJob: cpu(client) / jobs,
    workerCpuUsPerJob: worker ? cpu(worker) / jobs : Number.NaN,
    serverCpuUsPerJob: serverCpu / jobs,
  };
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function failure(error: string): RunResult {
  return noFigures(false, error);
}

/** A result with no figures yet: rates and CPU NaN, counts 0. */
export function noFigures(ok: boolean, error?: string): RunResult {
  return {
    ok,
    ...(error !== undefined ? { error } : {}),
    jobsPerSec: Number.NaN,
    mbPerSec: Number.NaN,
    wrong: 0,
    lost: 0,
    failed: 0,
    clientCpuUsPerJob: Number.NaN,
    workerCpuUsPerJob: Number.NaN,
    serverCpuUsPerJob: Number.NaN,
  };
}
