import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

/**
 * How the integration tests run the real binary without a build: `node --import tsx/esm
 * src/cli.ts`, with `TSX_TSCONFIG_PATH` pointing tsx at test/tsx.tsconfig.json, whose `paths`
 * send every `@gearmanode/*` import to the package's `src/index.ts` (as vitest's aliases do
 * for the tests themselves). One node process, no dist/ involved, so the binary under test is
 * always the source under test, and no test has to build (or race another test's build).
 */
const CLI_ENTRY = fileURLToPath(new URL('../../src/cli.ts', import.meta.url));
const TSCONFIG = fileURLToPath(new URL('../tsx.tsconfig.json', import.meta.url));
const TSX_LOADER = createRequire(import.meta.url).resolve('tsx/esm');

/** The command line that runs `gearmanode`, for a shell (`script -c`) or `spawn`. */
export const CLI_COMMAND: readonly string[] = [process.execPath, '--import', TSX_LOADER, CLI_ENTRY];

/** The environment the binary runs in: ours, minus what would change its output. */
export function cliEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, TSX_TSCONFIG_PATH: TSCONFIG, ...extra };
  for (const name of ['NO_COLOR', 'FORCE_COLOR', 'NODE_OPTIONS', 'COLUMNS', 'LINES']) {
    if (!(name in extra)) delete env[name];
  }
  return env;
}

/** What a finished run of the binary left behind. */
export interface CliResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: Buffer;
  readonly stderr: string;
  /** stdout as UTF-8. */
  readonly text: string;
}

/** Options for `runCli` and `spawnCli`. */
export interface CliOptions {
  /** Written to stdin, which is then closed. @default nothing: stdin is closed at once */
  readonly input?: Buffer | string;
  /** Added to the environment (`GEARMAN_SERVERS`, …). */
  readonly env?: Record<string, string | undefined>;
  /** Kill it (SIGKILL) and fail after this many ms. @default 15000 */
  readonly timeout?: number;
}

/** A running binary, with what it printed so far. */
export interface RunningCli {
  readonly child: ChildProcessWithoutNullStreams;
  stdout(): Buffer;
  stderr(): string;
  /** Resolves with the result once it exits (rejects after `timeout`). */
  readonly exited: Promise<CliResult>;
}

/** Starts `gearmanode <args>` as a child process; see `runCli` to wait for it. */
export function spawnCli(args: readonly string[], options: CliOptions = {}): RunningCli {
  const [node, ...prefix] = CLI_COMMAND as [string, ...string[]];
  const child = spawn(node, [...prefix, ...args], { env: cliEnv(options.env) });
  child.stdin.on('error', () => {}); // it may exit before reading stdin
  child.stdin.end(options.input);
  return collect(child, `gearmanode ${args.join(' ')}`, options.timeout);
}

/** Runs `gearmanode <args>` to completion. */
export function runCli(args: readonly string[], options: CliOptions = {}): Promise<CliResult> {
  return spawnCli(args, options).exited;
}

/** Quotes `word` for `sh -c`. */
function shellQuote(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", "'\\''")}'`;
}

/**
 * Runs `gearmanode <args>` in a pseudo-terminal, through util-linux `script`, so that stdin,
 * stdout and stderr are a TTY (for `top` and the progress bar). The terminal is sized with stty
 * first. Write keys to `child.stdin`; everything the terminal showed is in `stdout()`.
 */
export function spawnInTerminal(
  args: readonly string[],
  options: CliOptions & { columns?: number; rows?: number } = {},
): RunningCli {
  const command = [...CLI_COMMAND, ...args].map(shellQuote).join(' ');
  const size = `stty cols ${options.columns ?? 100} rows ${options.rows ?? 30}`;
  const child = spawn('script', ['-qfec', `${size}; exec ${command}`, '/dev/null'], {
    env: cliEnv({ TERM: 'xterm-256color', ...options.env }),
  });
  child.stdin.on('error', () => {});
  return collect(child, `gearmanode ${args.join(' ')} (in a terminal)`, options.timeout);
}

/** Gathers a child's output and settles `exited` on close, or kills it after `timeout` ms. */
function collect(
  child: ChildProcessWithoutNullStreams,
  what: string,
  timeout = 15_000,
): RunningCli {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
  child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
  const exited = new Promise<CliResult>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new Error(
          `${what} did not exit within ${timeout} ms; stderr: ${Buffer.concat(err).toString()}`,
        ),
      );
    }, timeout);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const stdout = Buffer.concat(out);
      resolve({
        code,
        signal,
        stdout,
        stderr: Buffer.concat(err).toString(),
        text: stdout.toString(),
      });
    });
  });
  return {
    child,
    stdout: () => Buffer.concat(out),
    stderr: () => Buffer.concat(err).toString(),
    exited,
  };
}
