import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { freePort } from '../gearmand.js';

/** Our job server's bin (`gearmanode-server`) in a child process, so that it can be SIGKILLed. */
export interface EmbeddedProcess {
  readonly host: string;
  readonly port: number;
  /** Everything the process wrote to stderr so far (its log), for diagnostics. */
  output(): string;
  /** SIGKILL now; resolves once the process has exited. */
  kill(): Promise<void>;
  /** SIGTERM (a graceful close); resolves once the process has exited. */
  stop(): Promise<void>;
  /** Starts the process again on the same port with the same arguments. */
  restart(): Promise<void>;
}

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CLI = fileURLToPath(new URL('../../packages/server/src/cli.ts', import.meta.url));

/**
 * Starts `packages/server/src/cli.ts` under this Node.js (tsx maps `@gearmanode/*` to src/)
 * with `args` and a free port; resolves once it listens. The process is killed when this one
 * exits.
 */
export async function startEmbeddedProcess(args: readonly string[]): Promise<EmbeddedProcess> {
  const port = await freePort();
  let child: ChildProcess | undefined;
  let log = '';
  const killOnExit = (): void => {
    child?.kill('SIGKILL');
  };
  process.once('exit', killOnExit);

  const launch = (): Promise<void> =>
    new Promise((resolve, reject) => {
      const started = spawn(
        process.execPath,
        ['--import', 'tsx', CLI, '--port', String(port), ...args],
        {
          cwd: ROOT,
          env: { ...process.env, TSX_TSCONFIG_PATH: 'test/tsconfig.json' },
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      child = started;
      let stdout = '';
      started.stderr?.on('data', (chunk: Buffer) => {
        log = (log + chunk.toString()).slice(-64 * 1024);
      });
      started.stdout?.on('data', (chunk: Buffer) => {
        stdout += chunk.toString();
        if (stdout.includes(' listening on ')) resolve();
      });
      started.once('exit', (code, signal) =>
        reject(new Error(`gearmanode-server exited (${code ?? signal}) before listening: ${log}`)),
      );
    });

  const exited = (signal: NodeJS.Signals): Promise<void> => {
    const running = child;
    if (running === undefined || running.exitCode !== null || running.signalCode !== null) {
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      running.once('exit', () => resolve());
      running.kill(signal);
    });
  };

  await launch();
  return {
    host: '127.0.0.1',
    port,
    output: () => log,
    kill: () => exited('SIGKILL'),
    stop: async () => {
      await exited('SIGTERM');
      process.off('exit', killOnExit);
    },
    restart: async () => {
      await exited('SIGTERM');
      await launch();
    },
  };
}
