/**
 * Scenario S (issue 19): background submits that survive a crash. Our client submits the same
 * jobs to gearmand with its libsqlite3 queue, to our server with its SQLite store, and to our
 * in-memory server, and the figures are the ratios: durable submits/s against gearmand's
 * (target ≥ 20×) and against our in-memory server's (target ≥ 0.5×), with the store's bytes
 * on disk per job.
 */
import { type RunResult, runOnce } from './runner.ts';
import { DURABLE_SCENARIO, describeScenario, type Sizing } from './scenarios.ts';
import type { ServerKind } from './server.ts';
import { median } from './stats.ts';

/** The three servers of scenario S. */
const SETUPS = [
  { key: 'gearmandStore', label: 'gearmand 1.1.20 -q libsqlite3', kind: 'gearmand', durable: true },
  { key: 'oursStore', label: 'embedded server, store sqlite', kind: 'embedded', durable: true },
  { key: 'oursMemory', label: 'embedded server, in memory', kind: 'embedded', durable: false },
] as const satisfies readonly { key: string; label: string; kind: ServerKind; durable: boolean }[];

type SetupKey = (typeof SETUPS)[number]['key'];

/** The medians of scenario S and their ratios. */
export interface DurableReport {
  scenario: string;
  submitsPerSec: Record<SetupKey, number>;
  drainPerSec: Record<SetupKey, number>;
  storeBytesPerJob: { gearmandStore: number; oursStore: number };
  /** Durable submits/s over gearmand's; target ≥ 20. */
  vsGearmand: number;
  /** Durable submits/s over in-memory submits/s; target ≥ 0.5. */
  vsMemory: number;
  failures: string[];
}

const fmt = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

/** Runs scenario S `runs` times per server with the driver `command` (ours). */
export async function runDurable(
  command: readonly string[],
  runs: number,
  sizing: Sizing,
  concurrency: number,
): Promise<DurableReport> {
  console.log(`\n== durable store, scenario S: ${describeScenario(DURABLE_SCENARIO, sizing)}`);
  const results = new Map<SetupKey, RunResult[]>(SETUPS.map((setup) => [setup.key, []]));
  const failures: string[] = [];
  // Runs interleave the servers, so that a noisy moment hits them all alike.
  for (let run = 1; run <= runs; run++) {
    for (const setup of SETUPS) {
      const result = await runOnce(DURABLE_SCENARIO, command, {
        serverKind: setup.kind,
        durable: setup.durable,
        concurrency,
        ...sizing,
      });
      results.get(setup.key)?.push(result);
      if (!result.ok) failures.push(`${setup.label}: ${result.error}`);
      const bytes =
        result.storeBytesPerJob === undefined
          ? ''
          : `  ${fmt.format(result.storeBytesPerJob)} bytes/job on disk`;
      console.log(
        `  run ${run}  ${setup.label.padEnd(32)} ${
          result.ok
            ? `${fmt.format(result.submitsPerSec ?? Number.NaN)} submits/s, drain ${fmt.format(result.jobsPerSec)} jobs/s${bytes}`
            : `FAIL ${result.error}`
        }`,
      );
    }
  }
  const pick = (key: SetupKey, field: (result: RunResult) => number | undefined): number =>
    median(
      (results.get(key) ?? [])
        .filter((result) => result.ok)
        .map((result) => field(result) ?? Number.NaN),
    );
  const submits = (key: SetupKey) => pick(key, (result) => result.submitsPerSec);
  const drain = (key: SetupKey) => pick(key, (result) => result.jobsPerSec);
  const report: DurableReport = {
    scenario: describeScenario(DURABLE_SCENARIO, sizing),
    submitsPerSec: {
      gearmandStore: submits('gearmandStore'),
      oursStore: submits('oursStore'),
      oursMemory: submits('oursMemory'),
    },
    drainPerSec: {
      gearmandStore: drain('gearmandStore'),
      oursStore: drain('oursStore'),
      oursMemory: drain('oursMemory'),
    },
    storeBytesPerJob: {
      gearmandStore: pick('gearmandStore', (result) => result.storeBytesPerJob),
      oursStore: pick('oursStore', (result) => result.storeBytesPerJob),
    },
    vsGearmand: submits('oursStore') / submits('gearmandStore'),
    vsMemory: submits('oursStore') / submits('oursMemory'),
    failures,
  };
  console.log(durableMarkdown(report));
  return report;
}

/** The report's table. */
export function durableMarkdown(report: DurableReport): string {
  const row = (label: string, key: SetupKey, bytes: number | undefined) =>
    `| ${label} | ${fmt.format(report.submitsPerSec[key])} | ${fmt.format(report.drainPerSec[key])} | ${
      bytes === undefined ? '–' : fmt.format(bytes)
    } |`;
  return [
    `### Durable submits (scenario S: ${report.scenario})`,
    '',
    '| server | submits/s | drain jobs/s | store bytes/job |',
    '| --- | ---: | ---: | ---: |',
    row(SETUPS[0].label, 'gearmandStore', report.storeBytesPerJob.gearmandStore),
    row(SETUPS[1].label, 'oursStore', report.storeBytesPerJob.oursStore),
    row(SETUPS[2].label, 'oursMemory', undefined),
    '',
    `Durable submits: ${report.vsGearmand.toFixed(1)}× gearmand's libsqlite3 queue (target ≥ 20×), ` +
      `${report.vsMemory.toFixed(2)}× our in-memory server (target ≥ 0.5×).`,
    '',
  ].join('\n');
}
