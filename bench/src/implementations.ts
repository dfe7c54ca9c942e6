/**
 * The implementations compared, and how to start each one's driver. A driver that cannot run
 * here (no compiler, no headers, packages not written yet) is skipped with the reason.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export type ImplementationId =
  | 'ours'
  | 'ours-c8'
  | 'ours-base'
  | 'c'
  | 'gearmanode'
  | 'abraxas'
  | 'abraxas-c8'
  | 'perl'
  | 'floor';

/** One implementation's driver command, or why it is skipped. */
export type Prepared = { command: string[] } | { skip: string };

/** An implementation under test. */
export interface Implementation {
  id: ImplementationId;
  /** Column heading in the report. */
  label: string;
  /**
   * Worker jobs in progress per connection, fixed for this entry; without it the run's
   * `--concurrency` applies. Still one connection per worker in B1: the library's own setting.
   */
  concurrency?: number;
  /** Builds what is needed and returns the driver command (role etc. are appended). */
  prepare(): Prepared;
}

export const BENCH_DIR = fileURLToPath(new URL('..', import.meta.url));
const REPO_DIR = join(BENCH_DIR, '..');
const C_SOURCE = join(BENCH_DIR, 'drivers/c/driver.c');

/** A Node driver runs under tsx's loader in a plain `node` process (no wrapper process). */
function nodeDriver(file: string): string[] {
  return [process.execPath, '--import', 'tsx', join('drivers', file)];
}

function compileC(): Prepared {
  const headers = readdirSync('/usr/include').some((name) => name.startsWith('libgearman'));
  if (!headers) {
    return { skip: 'no /usr/include/libgearman* (as root: apt-get install -y libgearman-dev)' };
  }
  try {
    execFileSync('gcc', ['--version'], { stdio: 'ignore' });
  } catch {
    return { skip: 'gcc not found' };
  }
  const dir = join(tmpdir(), 'gearmanode-bench');
  const binary = join(dir, 'c-driver');
  mkdirSync(dir, { recursive: true });
  if (!existsSync(binary) || statSync(binary).mtimeMs < statSync(C_SOURCE).mtimeMs) {
    execFileSync(
      'gcc',
      ['-O2', '-Wall', '-o', binary, C_SOURCE, '-lgearman', '-lpthread', '-ldl'],
      {
        stdio: 'inherit',
      },
    );
  }
  return { command: [binary] };
}

function missing(paths: readonly string[]): string | undefined {
  return paths.find((path) => !existsSync(join(REPO_DIR, path)));
}

function prepareOurs(): Prepared {
  const absent = missing(['packages/client/src/index.ts', 'packages/worker/src/index.ts']);
  return absent ? { skip: `${absent} does not exist yet` } : { command: nodeDriver('ours.ts') };
}

/**
 * Our driver from another checkout of this repository (`--base DIR`, e.g. a worktree of the
 * commit before a change), so that before and after are measured in the same run. Its own
 * bench/tsconfig.json maps the package names to that checkout's sources.
 */
function prepareBase(): Prepared {
  const base = process.env.GEARMANODE_BENCH_BASE;
  if (!base) return { skip: 'no --base checkout given' };
  const driver = join(base, 'bench/drivers/ours.ts');
  if (!existsSync(driver)) return { skip: `${driver} does not exist` };
  if (!existsSync(join(base, 'node_modules'))) {
    return { skip: `${base} has no node_modules (run pnpm install there)` };
  }
  return {
    command: [
      '/usr/bin/env',
      `TSX_TSCONFIG_PATH=${join(base, 'bench/tsconfig.json')}`,
      process.execPath,
      '--import',
      'tsx',
      driver,
    ],
  };
}

/** The worker concurrency of the `-c8` entries: the worker README's own example. */
const WORKER_CONCURRENCY = 8;

export const IMPLEMENTATIONS: readonly Implementation[] = [
  { id: 'ours', label: 'gearmanode (ours)', prepare: prepareOurs },
  {
    id: 'ours-c8',
    label: 'gearmanode (ours), concurrency 8',
    concurrency: WORKER_CONCURRENCY,
    prepare: prepareOurs,
  },
  { id: 'ours-base', label: 'gearmanode at --base', prepare: prepareBase },
  { id: 'c', label: 'C libgearman', prepare: compileC },
  {
    id: 'gearmanode',
    label: 'gearmanode 0.9.2 (+noDelay)',
    prepare: () => ({ command: nodeDriver('gearmanode.ts') }),
  },
  {
    id: 'abraxas',
    label: 'abraxas 2.1.10',
    prepare: () => ({ command: nodeDriver('abraxas.ts') }),
  },
  {
    id: 'abraxas-c8',
    label: 'abraxas 2.1.10, maxJobs 8',
    concurrency: WORKER_CONCURRENCY,
    prepare: () => ({ command: nodeDriver('abraxas.ts') }),
  },
  {
    id: 'perl',
    label: 'Perl Gearman::Client',
    prepare() {
      try {
        execFileSync('perl', ['-MGearman::Client', '-MGearman::Worker', '-e1'], {
          stdio: 'ignore',
        });
      } catch {
        return {
          skip: 'Perl Gearman::Client not installed (apt-get install libgearman-client-perl)',
        };
      }
      return { command: ['perl', join(BENCH_DIR, 'drivers/perl/driver.pl')] };
    },
  },
  {
    // Not a library: the least any Node library costs (drivers/floor.ts).
    id: 'floor',
    label: 'Node floor (no library)',
    prepare: () => ({ command: nodeDriver('floor.ts') }),
  },
];

/** Looks implementations up by id, in the order given; throws on an unknown id. */
export function selectImplementations(ids: readonly string[]): Implementation[] {
  return ids.map((id) => {
    const found = IMPLEMENTATIONS.find((impl) => impl.id === id);
    if (found === undefined) {
      throw new Error(
        `unknown implementation ${id}; known: ${IMPLEMENTATIONS.map((i) => i.id).join(', ')}`,
      );
    }
    return found;
  });
}
