/**
 * The server under test: a fresh gearmand (`--threads 1`, via the repository's test launcher),
 * the embedded server of @gearmanode/server in its own child process, or the floor server
 * (floor-server.ts, what Node itself costs a job server) in its own child process.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startGearmand } from '../../test/gearmand.ts';
import { DriverProcess } from './driver-process.ts';

export type ServerKind = 'gearmand' | 'embedded' | 'floor';

/** A running server. */
export interface BenchServer {
  readonly kind: ServerKind;
  readonly host: string;
  readonly port: number;
  /** The process to read CPU time from. */
  readonly pid: number;
  /** The SQLite file of a durable server (`startServer(kind, true)`). */
  readonly storePath?: string;
  stop(): Promise<void>;
}

/** Bytes a SQLite store takes on disk now: the file and its write-ahead log. */
export function storeBytes(path: string): number {
  let bytes = 0;
  for (const file of [path, `${path}-wal`, `${path}-journal`]) {
    if (existsSync(file)) bytes += statSync(file).size;
  }
  return bytes;
}

const BENCH_DIR = fileURLToPath(new URL('..', import.meta.url));
const SERVER_INDEX = fileURLToPath(new URL('../../packages/server/src/index.ts', import.meta.url));

/** Why the embedded server cannot run, or undefined when it can. */
export function embeddedUnavailable(): string | undefined {
  if (!existsSync(SERVER_INDEX)) return 'packages/server/src/index.ts does not exist yet';
  if (!/export[^;]*\bcreateServer\b/.test(readFileSync(SERVER_INDEX, 'utf8'))) {
    return 'packages/server/src/index.ts does not export createServer yet';
  }
  return undefined;
}

/**
 * Starts a server of the given kind on a free loopback port; `durable` gives it a SQLite
 * store in a fresh directory (gearmand `-q libsqlite3`, ours `store: 'sqlite:…'`).
 */
export async function startServer(kind: ServerKind, durable = false): Promise<BenchServer> {
  const dir = durable ? mkdtempSync(join(tmpdir(), 'gearmanode-bench-store-')) : undefined;
  const storePath = dir === undefined ? undefined : join(dir, 'queue.sqlite');
  const removeStore = (): void => {
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  };
  const stored = storePath === undefined ? {} : { storePath };
  if (kind === 'gearmand') {
    const gearmand = await startGearmand(
      storePath === undefined ? {} : { args: ['-q', 'libsqlite3', '--libsqlite3-db', storePath] },
    );
    return {
      kind,
      host: gearmand.host,
      port: gearmand.port,
      pid: gearmand.pid,
      ...stored,
      stop: () => gearmand.stop().finally(removeStore),
    };
  }
  if (kind === 'floor' && durable) {
    removeStore();
    throw new Error('the floor server has no store');
  }
  const child = new DriverProcess(
    `${kind} server`,
    [
      process.execPath,
      '--import',
      'tsx',
      kind === 'floor' ? 'src/floor-server.ts' : 'src/embedded-server.ts',
      ...(storePath === undefined ? [] : [`sqlite:${storePath}`]),
    ],
    BENCH_DIR,
  );
  const listening = await child.next('listening', 15_000);
  return {
    kind,
    host: listening.host,
    port: listening.port,
    pid: child.pid,
    ...stored,
    stop: () => child.stop(5000).finally(removeStore),
  };
}

const CLOCK_TICKS_PER_SECOND = 100; // USER_HZ on Linux

/** CPU time (user + system) a process has used so far, in microseconds; 0 when unknown. */
export function processCpuUs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces; the fields after its ')' are fixed.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime: fields 14 and 15
    return (ticks / CLOCK_TICKS_PER_SECOND) * 1e6;
  } catch {
    return 0; // the process is gone, or this is not Linux
  }
}
