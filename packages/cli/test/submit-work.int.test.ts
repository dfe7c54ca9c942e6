import { randomBytes } from 'node:crypto';
import { createAdmin, createClient } from '@gearmanode/client';
import { createWorker, type Job, type Worker } from '@gearmanode/worker';
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest';
import { uniqueName, waitFor } from '../../../test/helpers.js';
import { EXIT } from '../src/errors.js';
import { runCli, spawnCli, spawnInTerminal } from './support/binary.js';

// `submit` and `work` as real processes against gearmand: bytes through stdin and stdout, exit
// codes, progress on a terminal, WORK_DATA as it arrives, and a worker that drains on SIGTERM.

const { host, port, kind } = inject('gearman');
// Against gearmand only: the `integration-embedded` project would run these binaries a second
// time, and commands.test.ts runs every command in-process against the embedded server already.
const onGearmand = describe.skipIf(kind === 'embedded');
const server = `${host.includes(':') ? `[${host}]` : host}:${port}`;
const env = { GEARMAN_SERVERS: server };

let admin: Awaited<ReturnType<typeof createAdmin>>;

beforeAll(async () => {
  admin = await createAdmin({ server });
});

afterAll(async () => {
  await admin.close();
});

async function functionStatus(name: string) {
  return (await admin.status()).find((row) => row.functionName === name);
}

/** Waits until `name` has `count` registered workers. */
async function workersFor(name: string, count = 1): Promise<void> {
  await waitFor(async () => (await functionStatus(name))?.availableWorkers === count, {
    timeout: 10_000,
    what: `${count} worker(s) for ${name}`,
  });
}

async function libraryWorker(name: string, handler: (job: Job) => Promise<void>): Promise<Worker> {
  const worker = await createWorker({ servers: [server], functions: [name] });
  void worker.process(async (job) => {
    await handler(job);
  });
  return worker;
}

onGearmand('submit and work, binary safe', () => {
  test('a payload with zero bytes goes through stdin, `work -- cat` and stdout unchanged', async () => {
    const name = uniqueName('cat');
    const worker = spawnCli(['work', name, '--max-jobs', '2', '--', 'cat'], {
      env,
      timeout: 20_000,
    });
    await workersFor(name);
    const payload = Buffer.concat([
      Buffer.from([0, 0, 1, 0, 255, 0]),
      randomBytes(100_000),
      Buffer.alloc(1000), // a run of zeros
      Buffer.from('\r\n\0'),
    ]);
    const piped = await runCli(['submit', name], { env, input: payload });
    expect(piped).toMatchObject({ code: 0, stderr: '' });
    expect(piped.stdout.length).toBe(payload.length);
    expect(piped.stdout.equals(payload)).toBe(true);

    const argument = await runCli(['submit', name, 'from the argument ✓'], { env });
    expect(argument).toMatchObject({ code: 0, text: 'from the argument ✓' });
    expect(await worker.exited).toMatchObject({ code: 0, stderr: '' });
  });
});

onGearmand('failures and their exit codes', () => {
  test('a failing command: WORK_EXCEPTION with its exit status and stderr, exit 4', async () => {
    const name = uniqueName('fails');
    const worker = spawnCli(
      [
        'work',
        name,
        '-n',
        '1',
        '--',
        'sh',
        '-c',
        'cat >/dev/null; echo "no space left" >&2; exit 3',
      ],
      { env, timeout: 20_000 },
    );
    await workersFor(name);
    const result = await runCli(['submit', name, 'x'], { env });
    expect(result.code).toBe(EXIT.JOB_EXCEPTION);
    expect(result.text).toBe('');
    expect(result.stderr).toMatch(
      /^gearmanode: job \S+ failed with an exception:\n {2}command exited with code 3\n {2}no space left\n$/,
    );
    const work = await worker.exited;
    expect(work.code).toBe(0);
    expect(work.stderr).toContain('no space left\n'); // passed through as it happened
    expect(work.stderr).toMatch(/gearmanode: job \S+ failed: command exited with code 3\n/);
  });

  test('--plain-fail: WORK_FAIL, exit 3', async () => {
    const name = uniqueName('plain');
    const worker = spawnCli(['work', name, '-n', '1', '--plain-fail', '--', 'false'], {
      env,
      timeout: 20_000,
    });
    await workersFor(name);
    const result = await runCli(['submit', name, 'x'], { env });
    expect(result).toMatchObject({ code: EXIT.JOB_FAILED, text: '' });
    expect(result.stderr).toMatch(/^gearmanode: job \S+ failed\n$/);
    expect((await worker.exited).code).toBe(0);
  });

  test('--timeout with no worker: exit 5; Ctrl-C while waiting: exit 130', async () => {
    const name = uniqueName('nobody');
    const waiting = spawnCli(['submit', name, 'x'], { env });
    const [timedOut] = await Promise.all([
      runCli(['submit', '--timeout', '300ms', name, 'x'], { env }),
      (async () => {
        await waitFor(async () => (await functionStatus(name))?.queued === 2, { timeout: 10_000 });
        waiting.child.kill('SIGINT');
      })(),
    ]);
    expect(timedOut.code).toBe(EXIT.TIMEOUT);
    expect(timedOut.stderr).toMatch(
      /^gearmanode: timed out after 300 ms; job \S+ may still run on the server\n$/,
    );
    const interrupted = await waiting.exited;
    expect(interrupted.code).toBe(EXIT.INTERRUPTED);
    expect(interrupted.stderr).toMatch(
      /^gearmanode: interrupted by SIGINT; job \S+ may still run\n$/,
    );
  });
});

onGearmand('progress and streaming', () => {
  test('WORK_DATA reaches stdout while the job still runs; warnings go to stderr', async () => {
    const name = uniqueName('stream');
    let release: () => void = () => {};
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    const worker = await libraryWorker(name, async (job) => {
      await job.data('first chunk\n');
      await job.warning('a warning\n');
      await released; // the job goes on only once the CLI has printed the first chunk
      await job.data(Buffer.from([0, 1, 0]));
      await job.complete('result\n');
    });
    try {
      const submit = spawnCli(['submit', name], { env });
      await waitFor(() => submit.stdout().toString() === 'first chunk\n', {
        timeout: 10_000,
        what: 'the first WORK_DATA on stdout',
      });
      release();
      const result = await submit.exited;
      expect(result.code).toBe(0);
      expect(result.stdout.equals(Buffer.from('first chunk\n\x00\x01\x00result\n'))).toBe(true);
      expect(result.stderr).toBe('a warning\n'); // no progress bar: stderr is not a terminal
    } finally {
      await worker.close();
    }
  });

  test('WORK_STATUS draws a progress bar when stderr is a terminal', async () => {
    const name = uniqueName('progress');
    const worker = await libraryWorker(name, async (job) => {
      await job.status(1, 4);
      await new Promise((resolve) => setTimeout(resolve, 150));
      await job.status(4, 4);
      await job.complete('done');
    });
    try {
      const result = await spawnInTerminal(['submit', name], { env, columns: 80 }).exited;
      expect(result.code).toBe(0);
      const screen = result.text;
      expect(screen).toMatch(new RegExp(`\\r${name} \\[█+░+\\] +25% {2}1/4 {2}0:0\\d\\x1b\\[K`));
      expect(screen).toMatch(/\[█+\] 100% {2}4\/4/);
      expect(screen).toContain('\r\x1b[Kdone'); // the bar is erased before the result
    } finally {
      await worker.close();
    }
  });
});

onGearmand('work: concurrency and shutdown', () => {
  test('--concurrency 2 runs two commands at once', async () => {
    const name = uniqueName('parallel');
    const worker = spawnCli(
      ['work', name, '-c', '2', '-n', '2', '--', 'sh', '-c', 'sleep 2; cat'],
      {
        env,
        timeout: 20_000,
      },
    );
    await workersFor(name);
    // Both jobs from one client, so that they are queued together whatever the machine's load.
    const client = await createClient({ servers: [server] });
    try {
      const results = Promise.all([client.submit(name, 'a'), client.submit(name, 'b')]);
      await waitFor(async () => (await functionStatus(name))?.running === 2, {
        timeout: 10_000,
        what: 'two jobs running at once',
      });
      expect((await results).map(String).sort()).toEqual(['a', 'b']);
    } finally {
      await client.close();
    }
    expect((await worker.exited).code).toBe(0);
  });

  test('SIGTERM drains: the running command finishes, its result is sent, exit 0', async () => {
    const name = uniqueName('drain');
    const worker = spawnCli(['work', name, '--', 'sh', '-c', 'sleep 1; cat'], {
      env,
      timeout: 20_000,
    });
    await workersFor(name);
    const submit = spawnCli(['submit', name, 'finished anyway'], { env });
    await waitFor(async () => (await functionStatus(name))?.running === 1, {
      timeout: 10_000,
      what: 'the job running',
    });
    worker.child.kill('SIGTERM');
    const result = await submit.exited;
    expect(result).toMatchObject({ code: 0, text: 'finished anyway' });
    const work = await worker.exited;
    expect(work.code).toBe(0);
    expect(work.stderr).toContain('SIGTERM: stopping; waiting up to 30s for 1 running command');
    // Stopped: the function has no worker any more.
    await waitFor(async () => (await functionStatus(name))?.availableWorkers === 0);
  });
});
