import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { createClient } from '@gearmanode/client';
import { createWorker } from '@gearmanode/worker';
import { afterEach, describe, expect, inject, test } from 'vitest';
import { startGearmand } from './gearmand.js';
import { rawConnect, uniqueName, waitFor, withTimeout } from './helpers.js';

/*
 * Runs every example under examples/ as its users do, a child process per entry point, and
 * checks what it prints. As packages/cli/test/support/binary.ts does for the CLI: `node --import
 * tsx/esm <entry>`, with TSX_TSCONFIG_PATH set to the example's own tsconfig.json, whose `paths`
 * send every `@gearmanode/*` import to the package's src/. Nothing has to be built first.
 */

const { host, port } = inject('gearman');
const GEARMAND = `${host}:${port}`;
const EXAMPLES = fileURLToPath(new URL('../examples/', import.meta.url));
const TSX_LOADER = createRequire(import.meta.url).resolve('tsx/esm');

interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

interface Running {
  readonly child: ChildProcessWithoutNullStreams;
  stdout(): string;
  stderr(): string;
  /** Resolves with the first match of `pattern` in stdout (it may have come already). */
  output(pattern: RegExp, timeout?: number): Promise<RegExpMatchArray>;
  /** Resolves once the process has exited; it is killed and this rejects after `timeout`. */
  readonly exited: Promise<Exit>;
}

const running = new Set<ChildProcessWithoutNullStreams>();
afterEach(() => {
  // A failed test may leave a child behind; it must not outlive the test or hold the port.
  for (const child of running) child.kill('SIGKILL');
  running.clear();
});

/** How to start `examples/<example>/src/<entry>.ts`. */
interface StartOptions {
  /** GEARMAN_SERVERS; `undefined` leaves it out, so that the example starts its own server. */
  readonly servers: string | undefined;
  readonly args?: readonly string[];
  readonly env?: Record<string, string>;
  /** Kill it and fail after this many ms. @default 15000 */
  readonly timeout?: number;
}

/** Starts `examples/<example>/src/<entry>.ts` as a child process, as its README runs it. */
function start(example: string, entry: string, options: StartOptions): Running {
  const dir = `${EXAMPLES}${example}/`;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    TSX_TSCONFIG_PATH: `${dir}tsconfig.json`,
    GEARMAN_SERVERS: options.servers,
    ...options.env,
  };
  if (options.servers === undefined) delete env.GEARMAN_SERVERS;
  delete env.NODE_OPTIONS;
  const script = `${dir}src/${entry}.ts`;
  const child = spawn(process.execPath, ['--import', TSX_LOADER, script, ...(options.args ?? [])], {
    cwd: dir,
    env,
  });
  running.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const timeout = options.timeout ?? 15_000;
  const what = `examples/${example}/src/${entry}.ts`;
  const exited = new Promise<Exit>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${what} did not exit within ${timeout} ms\n${stdout}\n${stderr}`));
    }, timeout);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      running.delete(child);
      resolve({ code, signal, stdout, stderr });
    });
  });
  exited.catch(() => {}); // reported by whoever awaits it
  return {
    child,
    stdout: () => stdout,
    stderr: () => stderr,
    output: (pattern, wait = 10_000) =>
      waitFor(() => pattern.exec(stdout), {
        timeout: wait,
        what: `${what} printing ${pattern}; stdout so far:\n${stdout}\nstderr:\n${stderr}`,
      }),
    exited,
  };
}

/** Runs an entry point to its end and checks that it exited with code 0. */
async function run(example: string, entry: string, options: StartOptions): Promise<Exit> {
  const exit = await start(example, entry, options).exited;
  expect(exit, `stderr:\n${exit.stderr}`).toMatchObject({ code: 0, signal: null });
  return exit;
}

const lines = (text: string) => text.split('\n').filter((line) => line !== '');

describe('reverse', () => {
  test('prints the reversed text, using the servers in GEARMAN_SERVERS', async () => {
    const { stdout, stderr } = await run('reverse', 'main', { servers: GEARMAND });
    expect(stdout).toBe('!dlrow olleh\n');
    expect(stderr).toContain(`job servers: ${GEARMAND}\n`);
  });

  test('prints the reversed text with no GEARMAN_SERVERS, on an embedded server', async () => {
    const { stdout, stderr } = await run('reverse', 'main', { servers: undefined });
    expect(stdout).toBe('!dlrow olleh\n');
    expect(stderr).toMatch(/^embedded job server on 127\.0\.0\.1:\d+$/m);
  });

  test('runs as a separate worker and client, and the worker stops on SIGTERM', async () => {
    const worker = start('reverse', 'worker', { servers: GEARMAND });
    await waitFor(() => worker.stderr().includes('Ctrl-C stops it'), { what: 'worker ready' });
    const client = await run('reverse', 'client', { servers: GEARMAND });
    expect(client.stdout).toBe('!dlrow olleh\n');
    // Reversed by code points, so that multi-byte characters survive.
    const text = await run('reverse', 'client', { servers: GEARMAND, args: ['héllo wörld 👋'] });
    expect(text.stdout).toBe('👋 dlröw olléh\n');

    worker.child.kill('SIGTERM');
    const exit = await worker.exited;
    expect(exit).toMatchObject({ code: 0, signal: null });
    expect(exit.stderr).toContain('worker closed');
  });
});

test('progress: shows status, data and warning events as the job sends them', async () => {
  const { stdout } = await run('progress', 'main', { servers: GEARMAND });
  const events = lines(stdout).map((line) => {
    const match = /^\+(\d+\.\d\d)s (\w+) +(.*)$/.exec(line);
    expect(match, line).not.toBeNull();
    return { at: Number(match![1]), type: match![2], text: match![3] };
  });
  expect(events.map(({ type, text }) => `${type} ${text}`)).toEqual([
    expect.stringMatching(/^created H:/),
    'data line 1',
    'status 1/5',
    'data line 2',
    'status 2/5',
    'data line 3',
    'status 3/5',
    'warning halfway there',
    'data line 4',
    'status 4/5',
    'data line 5',
    'status 5/5',
    'result counted to 5',
  ]);
  // The client printed each event when it came, not all of them at the end: the worker works
  // 800 ms more after its first status, so the result comes well after it.
  const times = events.map(({ at }) => at);
  expect(times).toEqual([...times].sort((a, b) => a - b));
  const firstStatus = events.find(({ type }) => type === 'status')!;
  expect(events.at(-1)!.at - firstStatus.at).toBeGreaterThanOrEqual(0.3);
});

test('background: jobs are queued, then polled by handle and unique until done', async () => {
  const { stdout } = await run('background', 'main', { servers: GEARMAND });
  const output = lines(stdout);
  const submitted = output.filter((line) => line.startsWith('submitted '));
  expect(submitted).toHaveLength(3);
  const uniques = submitted.map((line) => /^submitted (\S+) as H:/.exec(line)![1]!);
  // Before a worker registers, the server holds all three, queued.
  expect(output.filter((line) => line.startsWith('no worker yet'))).toEqual(
    uniques.map((unique) => `no worker yet  ${unique}  queued`),
  );
  // Then the worker runs them with progress, and the server forgets each once done.
  expect(stdout).toMatch(/by handle: running [1-4]\/4 {2}by unique: /);
  for (const unique of uniques) {
    const last = output.findLast((line) => line.includes(` ${unique} `));
    expect(last).toMatch(/by handle: done {2}by unique: done \(0 clients waiting\)$/);
  }
  expect(output.at(-1)).toBe('all 3 background jobs finished');
});

describe('multi-server', () => {
  /** Checks the summary: every job completed, and jobs ran on both servers. */
  function expectAllCompleted(stdout: string, servers: string[]) {
    expect(stdout).toContain('30 of 30 jobs completed, 0 failed\n');
    expect(stdout).not.toMatch(/job \d+ failed/);
    for (const server of servers) {
      const count = new RegExp(`^ {2}${server.replaceAll('.', '\\.')}: (\\d+) jobs$`, 'm');
      expect(Number(count.exec(stdout)?.[1]), `jobs on ${server}`).toBeGreaterThan(0);
    }
  }

  test('gearmand and an embedded server, which is stopped mid-run: no job fails', async () => {
    const { stdout } = await run('multi-server', 'main', { servers: GEARMAND });
    const embedded = /^server (\S+) \(embedded\)$/m.exec(stdout)?.[1];
    expect(embedded).toBeDefined();
    expect(stdout).toContain(`stopping ${embedded} after 15 of 30 submits`);
    expectAllCompleted(stdout, [GEARMAND, embedded!]);
  });

  test('two embedded servers, one stopped mid-run: no job fails', async () => {
    const { stdout } = await run('multi-server', 'main', { servers: undefined });
    const embedded = [...stdout.matchAll(/^server (\S+) \(embedded\)$/gm)].map((m) => m[1]!);
    expect(embedded).toHaveLength(2);
    expect(stdout).toContain(`stopping ${embedded[1]} after 15 of 30 submits`);
    expectAllCompleted(stdout, embedded);
  });

  test('two servers from GEARMAN_SERVERS: spreads the jobs and stops neither', async () => {
    await using second = await startGearmand();
    const servers = [GEARMAND, `${second.host}:${second.port}`];
    const { stdout } = await run('multi-server', 'main', { servers: servers.join(',') });
    expect(stdout).toContain('both servers come from GEARMAN_SERVERS: not stopping either\n');
    expectAllCompleted(stdout, servers);
  });
});

describe('shutdown', () => {
  test('the worker finishes its running jobs on SIGTERM and takes no more', async () => {
    const words = ['one', 'two', 'three', 'four'];
    const first = start('shutdown', 'worker', { servers: GEARMAND });
    await first.output(/^ready/m);

    await using client = await createClient({ servers: [GEARMAND] });
    const results = words.map((word) =>
      client.submit('slow-reverse', word, { encoding: 'utf8', timeout: 15_000 }),
    );
    // SIGTERM while the worker runs two jobs (its concurrency): it must finish both.
    await first.output(/^started .*\n(?:.*\n)*started /m);
    first.child.kill('SIGTERM');
    const exit = await first.exited;
    expect(exit).toMatchObject({ code: 0, signal: null });
    const startedFirst = [...exit.stdout.matchAll(/^started (\w+)$/gm)].map((m) => m[1]!);
    expect(startedFirst).toHaveLength(2);
    expect([...exit.stdout.matchAll(/^finished (\w+)$/gm)].map((m) => m[1]!).sort()).toEqual(
      [...startedFirst].sort(),
    );
    expect(exit.stdout).toMatch(/^SIGTERM: finishing 2 running jobs, taking no more$/m);
    expect(exit.stdout).toMatch(/closed: every job taken was finished\n$/);

    // The other two waited on the server; a second worker runs exactly those.
    const second = start('shutdown', 'worker', { servers: GEARMAND });
    expect(await withTimeout(Promise.all(results), 15_000, 'all results')).toEqual(
      words.map((word) => [...word].reverse().join('')),
    );
    second.child.kill('SIGTERM');
    const secondExit = await second.exited;
    expect(secondExit.code).toBe(0);
    const startedSecond = [...secondExit.stdout.matchAll(/^started (\w+)$/gm)].map((m) => m[1]!);
    expect([...startedFirst, ...startedSecond].sort()).toEqual([...words].sort());
  }, 30_000);

  test('the self-contained run: SIGTERM mid-run, then a second worker, and no job lost', async () => {
    const { stdout } = await run('shutdown', 'main', { servers: GEARMAND, timeout: 25_000 });
    expect(stdout).toContain('sending SIGTERM to worker 1\n');
    expect(stdout).toContain('worker 1 exited with code 0\n');
    expect(stdout).toContain('6 of 6 jobs completed, none lost\n');
    expect(stdout).toContain('foxtrot -> tortxof\n');
  }, 30_000);
});

test('codec-only: the proxy logs every packet both ways and forwards bytes untouched', async () => {
  const proxy = start('codec-only', 'proxy', { servers: GEARMAND, env: { PROXY_PORT: '0' } });
  const [, listening] = await proxy.output(/^proxy listening on (127\.0\.0\.1:\d+),/m);
  expect(proxy.stdout()).toContain(`forwarding to ${GEARMAND}`);
  const viaProxy = listening!;

  const name = uniqueName('echo');
  await using worker = await createWorker({ servers: [viaProxy], functions: [name] });
  void worker.process((job) => job.payload);
  await using client = await createClient({ servers: [viaProxy] });
  expect(await client.submit(name, 'hello world!', { encoding: 'utf8' })).toBe('hello world!');
  // Every byte value, 1 MiB: what comes back is exactly what went in.
  const binary = Buffer.alloc(1024 * 1024, Buffer.from(Array.from({ length: 256 }, (_, i) => i)));
  expect((await client.submit(name, binary)).equals(binary)).toBe(true);
  // The admin protocol on the same port is logged as text lines.
  await using admin = await rawConnect(host, Number(viaProxy.split(':')[1]));
  await admin.write('version\n');
  expect(await admin.readLine()).toMatch(/^OK /);

  const log = await proxy.output(/text "OK [^"]*"/);
  expect(log.input).toContain(`client > server CAN_DO (REQ) functionName="${name}"\n`);
  expect(log.input).toContain(
    `client > server SUBMIT_JOB (REQ) functionName="${name}" unique="" payload=12 bytes "hello world!"\n`,
  );
  expect(log.input).toMatch(/server > client JOB_CREATED \(RES\) handle="H:[^"]+"\n/);
  expect(log.input).toMatch(
    new RegExp(`server > client JOB_ASSIGN_UNIQ \\(RES\\) handle="H:[^"]+" functionName="${name}"`),
  );
  expect(log.input).toMatch(/client > server WORK_COMPLETE \(REQ\) handle="H:[^"]+" payload=12/);
  expect(log.input).toMatch(/server > client WORK_COMPLETE \(RES\) handle="H:[^"]+" payload=12/);
  expect(log.input).toMatch(/client > server SUBMIT_JOB \(REQ\) .* payload=1048576 bytes 00010203/);
  expect(log.input).toContain('client > server text "version"\n');
  expect(log.input).not.toContain('no longer decoded');

  proxy.child.kill('SIGTERM');
  expect(await proxy.exited).toMatchObject({ code: 0, signal: null });
});
