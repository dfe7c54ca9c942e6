/**
 * `pnpm bench`: runs the scenarios for each implementation against a fresh server per run and
 * writes results/latest.json and results/latest.md. `--help` lists the flags.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { type DurableReport, durableMarkdown, runDurable } from './durable.ts';
import {
  BENCH_DIR,
  IMPLEMENTATIONS,
  type Implementation,
  selectImplementations,
} from './implementations.ts';
import {
  type Cell,
  describeMachine,
  headline,
  markdown,
  type Report,
  summarize,
} from './report.ts';
import { type RunResult, runOnce } from './runner.ts';
import {
  describeScenario,
  SCENARIOS,
  type Scenario,
  type Sizing,
  selectScenarios,
} from './scenarios.ts';
import { embeddedUnavailable, type ServerKind } from './server.ts';

const HELP = `Usage: pnpm bench [flags]

  --scenario A,B1,B4,C,D,X,S
                             scenarios to run (default: all). S: durable background submits,
                             ours against gearmand -q libsqlite3, our store and our in-memory
                             server, as ratios (needs Node.js 22.13+ for our store)
  --durable                  scenario S only, without the codec benchmark
  --impl ours,ours-c8,ours-base,c,gearmanode,abraxas,abraxas-c8,perl,floor
                             implementations (default: all; unavailable ones are skipped);
                             the -c8 entries run their worker with 8 jobs per connection
  --server gearmand|embedded|floor|both|all
                             server under test (default: both = gearmand and embedded, the
                             embedded one when it exists; all adds floor, the least Node job
                             server: what Node itself costs a server)
  --runs N                   runs per scenario, reported as medians (default: 3)
  --quick                    fewer jobs and 1 run: a smoke test, not a measurement
  --no-warmup                no warm-up jobs before the measured ones (default: A 5,000,
                             B1 and B4 5,000, a tenth with --quick): cold figures
  --concurrency N            worker jobs in progress per connection, where the library has
                             the setting (ours, abraxas; default: 1; the -c8 entries keep 8)
  --no-codec                 skip the @gearmanode/protocol codec micro-benchmark
  --base DIR                 also run our driver from the checkout in DIR (implementation
                             ours-base), e.g. a worktree of the commit before a change, so that
                             before and after are ratios within one run
`;

const { values: flags } = parseArgs({
  options: {
    scenario: { type: 'string' },
    impl: { type: 'string' },
    server: { type: 'string', default: 'both' },
    runs: { type: 'string' },
    quick: { type: 'boolean', default: false },
    'no-warmup': { type: 'boolean', default: false },
    concurrency: { type: 'string', default: '1' },
    'no-codec': { type: 'boolean', default: false },
    base: { type: 'string' },
    durable: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});

if (flags.help) {
  process.stdout.write(HELP);
  process.exit(0);
}

// The ours-base entry reads it when it is prepared (implementations.ts).
if (flags.base) process.env.GEARMANODE_BENCH_BASE = flags.base;

const list = (value: string | undefined): string[] | undefined =>
  value
    ?.split(',')
    .map((item) => item.trim())
    .filter(Boolean);

const scenarioIds = flags.durable
  ? ['S']
  : (list(flags.scenario) ?? [...SCENARIOS.map((s) => s.id), 'S']);
const durableWanted = scenarioIds.some((id) => id.toUpperCase() === 'S');
const scenarios = selectScenarios(scenarioIds.filter((id) => id.toUpperCase() !== 'S'));
const implementations = selectImplementations(
  list(flags.impl) ??
    IMPLEMENTATIONS.map((impl) => impl.id).filter((id) => id !== 'ours-base' || flags.base),
);
const runs = Number(flags.runs ?? (flags.quick ? 1 : 3));
const concurrency = Number(flags.concurrency);
const servers = chooseServers(flags.server);
const sizing: Sizing = { quick: flags.quick, warmup: !flags['no-warmup'] };

function chooseServers(choice: string): ServerKind[] {
  const embeddedMissing = embeddedUnavailable();
  if (choice === 'gearmand') return ['gearmand'];
  if (choice === 'embedded') {
    if (embeddedMissing) throw new Error(`cannot run --server embedded: ${embeddedMissing}`);
    return ['embedded'];
  }
  if (choice === 'floor') return ['floor'];
  if (choice !== 'both' && choice !== 'all') {
    throw new Error(`--server must be gearmand, embedded, floor, both or all`);
  }
  if (embeddedMissing) console.log(`embedded server skipped: ${embeddedMissing}`);
  const kinds: ServerKind[] = embeddedMissing ? ['gearmand'] : ['gearmand', 'embedded'];
  return choice === 'all' ? [...kinds, 'floor'] : kinds;
}

function runCodecBenchmark(): void {
  console.log('== codec micro-benchmark (pnpm --filter @gearmanode/protocol bench)');
  const viaScript = spawnSync('pnpm', ['--filter', '@gearmanode/protocol', 'bench'], {
    cwd: BENCH_DIR,
    stdio: 'inherit',
  });
  if (viaScript.status === 0) return;
  // Node 20 has no --experimental-strip-types; the same file runs under tsx.
  console.log(
    '(the package script failed; running packages/protocol/bench/codec.bench.ts with tsx)',
  );
  spawnSync(process.execPath, ['--import', 'tsx', '../packages/protocol/bench/codec.bench.ts'], {
    cwd: BENCH_DIR,
    stdio: 'inherit',
  });
}

function prepare(impl: Implementation): {
  impl: Implementation;
  command?: string[];
  skip?: string;
} {
  try {
    const prepared = impl.prepare();
    if ('skip' in prepared) console.log(`${impl.label}: skipped, ${prepared.skip}`);
    return 'skip' in prepared ? { impl, skip: prepared.skip } : { impl, command: prepared.command };
  } catch (error) {
    const reason = `could not be prepared: ${error instanceof Error ? error.message : error}`;
    console.log(`${impl.label}: skipped, ${reason}`);
    return { impl, skip: reason };
  }
}

function describeRun(scenario: Scenario, result: RunResult): string {
  if (result.unsupported) return 'not supported by this library';
  if (!result.ok && scenario.id !== 'X') return `FAIL ${result.error}`;
  const cell: Cell = {
    server: 'gearmand',
    scenario: scenario.id,
    impl: 'ours',
    runs: [],
    median: result,
  };
  const cpu = `cpu/job ${result.clientCpuUsPerJob.toFixed(1)} + ${result.workerCpuUsPerJob.toFixed(1)} µs`;
  return `${headline(scenario, cell)}  ${cpu}`;
}

/** Why scenario S cannot run here, or undefined when it can. */
function durableUnavailable(): string | undefined {
  const embeddedMissing = embeddedUnavailable();
  if (embeddedMissing) return embeddedMissing;
  // The embedded server runs under this Node.js; its store needs node:sqlite.
  const probe = spawnSync(process.execPath, ['-e', "require('node:sqlite')"], { stdio: 'ignore' });
  if (probe.status !== 0) return `Node.js ${process.version} has no node:sqlite (22.13 or later)`;
  return undefined;
}

if (!flags['no-codec'] && !flags.durable) runCodecBenchmark();

const prepared = implementations.map(prepare);
const runnable = prepared.filter((p) => p.command !== undefined);
const cells: Cell[] = [];
for (const serverKind of servers) {
  for (const scenario of scenarios) {
    console.log(
      `\n== ${serverKind}, scenario ${scenario.id}: ${describeScenario(scenario, sizing)}`,
    );
    const byImpl = new Map<Implementation, RunResult[]>(runnable.map((p) => [p.impl, []]));
    // Runs interleave the implementations, so that a noisy moment hits them all alike.
    for (let run = 1; run <= runs; run++) {
      for (const { impl, command } of runnable) {
        const result = await runOnce(scenario, command!, {
          serverKind,
          ...sizing,
          concurrency: impl.concurrency ?? concurrency,
        });
        byImpl.get(impl)!.push(result);
        console.log(`  run ${run}  ${impl.label.padEnd(28)} ${describeRun(scenario, result)}`);
      }
    }
    for (const [impl, results] of byImpl) {
      cells.push({
        server: serverKind,
        scenario: scenario.id,
        impl: impl.id,
        runs: results,
        median: summarize(results),
      });
    }
  }
}

let durable: DurableReport | undefined;
if (durableWanted) {
  const skip = durableUnavailable();
  const ours = runnable.find((p) => p.impl.id === 'ours');
  if (skip !== undefined) console.log(`\nscenario S skipped: ${skip}`);
  else if (ours === undefined) console.log('\nscenario S skipped: it runs with --impl ours');
  else durable = await runDurable(ours.command!, runs, sizing, concurrency);
}

const report: Report = {
  date: new Date().toISOString(),
  machine: describeMachine(),
  command: `pnpm bench ${process.argv.slice(2).join(' ')}`.trim(),
  runs,
  quick: flags.quick,
  warmup: sizing.warmup,
  implementations: prepared.map(({ impl, skip }) => ({
    id: impl.id,
    label: impl.label,
    ...(skip !== undefined ? { skipped: skip } : {}),
  })),
  cells,
};
const table =
  (scenarios.length > 0 ? markdown(report, scenarios) : '') +
  (durable !== undefined ? `\n${durableMarkdown(durable)}` : '');
const resultsDir = join(BENCH_DIR, 'results');
mkdirSync(resultsDir, { recursive: true });
writeFileSync(
  join(resultsDir, 'latest.json'),
  `${JSON.stringify(durable !== undefined ? { ...report, durable } : report, null, 2)}\n`,
);
writeFileSync(join(resultsDir, 'latest.md'), table);
console.log(`\n${table}\nWrote results/latest.json and results/latest.md`);
const failures = cells.filter(
  (cell) => !cell.median.ok && !cell.median.unsupported && cell.scenario !== 'X',
);
process.exitCode = failures.length > 0 || (durable?.failures.length ?? 0) > 0 ? 1 : 0;
