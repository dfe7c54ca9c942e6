/** Medians across runs, and the JSON and Markdown reports. */
import { cpus } from 'node:os';
import { findGearmand, gearmandVersion } from '../../test/gearmand.ts';
import type { ImplementationId } from './implementations.ts';
import { noFigures, type RunResult } from './runner.ts';
import { describeScenario, type Scenario, warmupCount } from './scenarios.ts';
import type { ServerKind } from './server.ts';
import { median } from './stats.ts';

/** Every run of one scenario for one implementation on one server, and their medians. */
export interface Cell {
  server: ServerKind;
  scenario: Scenario['id'];
  impl: ImplementationId;
  runs: RunResult[];
  /** Medians over the runs; `ok` only when every run was. */
  median: RunResult;
}

/** The machine the figures were measured on. */
export interface Machine {
  cores: number;
  cpu: string;
  node: string;
  gearmand: string;
}

/** The whole report, as written to results/latest.json. */
export interface Report {
  date: string;
  machine: Machine;
  command: string;
  runs: number;
  quick: boolean;
  /** False under `--no-warmup`: cold figures. */
  warmup: boolean;
  implementations: { id: ImplementationId; label: string; skipped?: string }[];
  cells: Cell[];
}

const NUMERIC_FIELDS = [
  'jobsPerSec',
  'submitsPerSec',
  'mbPerSec',
  'p50Ms',
  'p99Ms',
  'wrong',
  'lost',
  'failed',
  'clientCpuUsPerJob',
  'workerCpuUsPerJob',
  'serverCpuUsPerJob',
] as const;

/** Medians of each figure over the runs that succeeded (over all runs when none did). */
export function summarize(runs: readonly RunResult[]): RunResult {
  const good = runs.filter((run) => run.ok);
  const basis = good.length > 0 ? good : runs;
  const failed = runs.find((run) => !run.ok);
  if (failed?.unsupported) return failed;
  const result = noFigures(failed === undefined, failed?.error);
  for (const field of NUMERIC_FIELDS) {
    const values = basis.map((run) => run[field]).filter((v): v is number => v !== undefined);
    if (values.length > 0) result[field] = median(values);
  }
  const exactness = runs.map((run) => run.exact).filter((v) => v !== undefined);
  if (exactness.length > 0) result.exact = exactness.every(Boolean);
  return result;
}

/** Reads the core count, CPU model and versions. */
export function describeMachine(): Machine {
  let gearmand = 'unknown';
  try {
    // The same C gearmand the runner starts (found by its --version, not just its name).
    const { line } = gearmandVersion(findGearmand());
    gearmand = line.split(' - ')[0]!.trim(); // 'gearmand 1.1.20+ds - https://...'
  } catch {
    // No C gearmand: the runs against it fail and say why; the version goes unreported.
  }
  return {
    cores: cpus().length,
    cpu: cpus()[0]?.model.trim() ?? 'unknown',
    node: process.version,
    gearmand,
  };
}

/** A failure's first line, cut to fit a table cell. */
function reason(error: string | undefined): string {
  const line = error?.split('\n')[0] ?? 'error';
  return line.length > 60 ? `${line.slice(0, 57)}...` : line;
}

const integer = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const fmt = (value: number | undefined, digits = 0): string =>
  value === undefined || Number.isNaN(value)
    ? '?'
    : digits === 0
      ? integer.format(value)
      : value.toFixed(digits);

/** The headline figure of one cell, as in the issue's table. */
export function headline(scenario: Scenario, cell: Cell | undefined): string {
  if (cell === undefined) return '—';
  const m = cell.median;
  if (m.unsupported) return '—';
  if (!m.ok && scenario.id !== 'X') return `FAIL (${reason(m.error)})`;
  switch (scenario.metric) {
    case 'jobs/s':
      return scenario.id === 'A' ? `${fmt(m.jobsPerSec)} (${fmt(m.p99Ms, 2)})` : fmt(m.jobsPerSec);
    case 'submits/s + drain':
      return `${fmt(m.submitsPerSec)} / ${fmt(m.jobsPerSec)}`;
    case 'MB/s':
      return fmt(m.mbPerSec);
    case 'exactness':
      if (!m.ok && m.exact === undefined) return `FAIL (${reason(m.error)})`;
      return m.exact ? 'exact' : '**corrupted**';
  }
}

const UNITS: Record<Scenario['metric'], string> = {
  'jobs/s': 'jobs/s',
  'submits/s + drain': 'submits/s / drain jobs/s',
  'MB/s': 'MB/s',
  exactness: '',
};

function table(header: string[], rows: string[][]): string {
  const align = header.map((_, i) => (i === 0 ? '---' : '--:'));
  return [header, align, ...rows].map((row) => `| ${row.join(' | ')} |`).join('\n');
}

const SERVER_LABELS: Record<ServerKind, string> = {
  gearmand: 'gearmand 1.1.20 --threads 1',
  embedded: 'embedded server',
  floor: 'floor server (the least Node job server)',
};

/** The Markdown report: per server, the headline table and the CPU-per-job table. */
export function markdown(report: Report, scenarios: readonly Scenario[]): string {
  const impls = report.implementations.filter((impl) => impl.skipped === undefined);
  const servers = [...new Set(report.cells.map((cell) => cell.server))];
  const find = (server: ServerKind, scenario: Scenario, impl: ImplementationId) =>
    report.cells.find((c) => c.server === server && c.scenario === scenario.id && c.impl === impl);
  const sizing = { quick: report.quick, warmup: report.warmup };
  const warmed = scenarios
    .filter((s) => warmupCount(s, sizing) > 0)
    .map((s) => `${s.id} ${integer.format(warmupCount(s, sizing))}`);
  const out: string[] = [
    `Measured ${report.date} on ${report.machine.cores} cores (${report.machine.cpu}), ` +
      `Node ${report.machine.node}, ${report.machine.gearmand}; ` +
      `medians of ${report.runs} run(s)${report.quick ? ', --quick (fewer jobs)' : ''}.`,
    report.warmup
      ? warmed.length > 0
        ? `Warm-up jobs run first (${warmed.join(', ')}), the same for every implementation; ` +
          'no figure counts them (rates, latencies, CPU).'
        : 'No warm-up in these scenarios.'
      : 'No warm-up (--no-warmup): cold figures, from the first job on.',
    `Command: \`${report.command}\``,
  ];
  for (const server of servers) {
    const label = SERVER_LABELS[server];
    out.push(
      '',
      `### ${label}`,
      '',
      table(
        ['scenario', ...impls.map((impl) => impl.label)],
        scenarios.map((s) => {
          const unit = UNITS[s.metric] + (s.id === 'A' ? ' (p99 ms)' : '');
          return [
            `${s.id}: ${describeScenario(s, sizing)}${unit ? `, ${unit}` : ''}`,
            ...impls.map((impl) => headline(s, find(server, s, impl.id))),
          ];
        }),
      ),
      '',
      `CPU per job, µs: client + worker (server), ${label}`,
      '',
      table(
        ['scenario', ...impls.map((impl) => impl.label)],
        scenarios.map((s) => [
          s.id,
          ...impls.map((impl) => {
            const m = find(server, s, impl.id)?.median;
            if (m === undefined || m.unsupported) return '—';
            const digits = s.size > 64 * 1024 ? 0 : 1;
            return `${fmt(m.clientCpuUsPerJob, digits)} + ${fmt(m.workerCpuUsPerJob, digits)} (${fmt(m.serverCpuUsPerJob, digits)})`;
          }),
        ]),
      ),
    );
  }
  const skipped = report.implementations.filter((impl) => impl.skipped !== undefined);
  if (skipped.length > 0) {
    out.push('', ...skipped.map((impl) => `- ${impl.label}: skipped, ${impl.skipped}`));
  }
  return `${out.join('\n')}\n`;
}
