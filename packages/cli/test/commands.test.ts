import { createClient } from '@gearmanode/client';
import { createServer, type GearmanServer } from '@gearmanode/server';
import { createWorker, type Job, type Worker } from '@gearmanode/worker';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { uniqueName, waitFor } from '../../../test/helpers.js';
import { EXIT } from '../src/errors.js';
import { COMMANDS, type CommandName, cliVersion } from '../src/help.js';
import { run } from '../src/run.js';
import { type MemoryIOOptions, memoryIO } from './support/memory-io.js';

// In-process: run() with memory streams against the embedded server, so that each command's
// parsing, output and exit codes are covered fast. The real binary against gearmand is in
// cli.int.test.ts and friends.

let server: GearmanServer;
let address: string;

beforeAll(async () => {
  server = await createServer({ port: 0 });
  address = `127.0.0.1:${server.address.port}`;
});

afterAll(async () => {
  await server.close();
});

function cli(argv: string[], options: MemoryIOOptions = {}) {
  const io = memoryIO({ ...options, env: { GEARMAN_SERVERS: address, ...options.env } });
  const done = run(argv, io);
  return { io, done };
}

async function exec(argv: string[], options: MemoryIOOptions = {}) {
  const { io, done } = cli(argv, options);
  const code = await done;
  return { code, stdout: io.stdout.text(), bytes: io.stdout.bytes(), stderr: io.stderr.text() };
}

/** A library worker for `name` that runs `handler` for each job until the test closes it. */
async function libraryWorker(name: string, handler: (job: Job) => Promise<void>): Promise<Worker> {
  const worker = await createWorker({ servers: [address], functions: [name] });
  void worker.process(async (job) => {
    await handler(job);
  });
  return worker;
}

describe('help and usage', () => {
  test.each(Object.keys(COMMANDS) as CommandName[])(
    '%s --help shows usage and examples',
    async (name) => {
      const { code, stdout, stderr } = await exec([name, '--help']);
      expect(code).toBe(EXIT.OK);
      expect(stderr).toBe('');
      expect(stdout).toMatch(new RegExp(`^Usage: gearmanode ${name}`));
      expect(stdout).toMatch(/\nExamples:\n {2}.*gearmanode /);
    },
  );

  test('help <command> is <command> --help', async () => {
    expect((await exec(['help', 'submit'])).stdout).toBe((await exec(['submit', '--help'])).stdout);
  });

  test('--help lists every command, the exit codes and the environment', async () => {
    const { code, stdout } = await exec(['--help']);
    expect(code).toBe(EXIT.OK);
    for (const name of Object.keys(COMMANDS)) expect(stdout).toContain(`\n  ${name} `);
    expect(stdout).toContain('GEARMAN_SERVERS');
    expect(stdout).toContain('  130  interrupted');
  });

  test('no command prints the overview on stderr and exits 2', async () => {
    const { code, stdout, stderr } = await exec([]);
    expect(code).toBe(EXIT.USAGE);
    expect(stdout).toBe('');
    expect(stderr).toContain('Usage: gearmanode <command>');
  });

  test('--version prints the package version', async () => {
    expect(await exec(['--version'])).toMatchObject({ code: 0, stdout: `${cliVersion()}\n` });
    expect((await exec(['-V'])).stdout).toMatch(/^\d+\.\d+\.\d+/);
  });

  test('an unknown command or option is one line and exit 2', async () => {
    expect(await exec(['frobnicate'])).toMatchObject({
      code: EXIT.USAGE,
      stderr: 'gearmanode: unknown command "frobnicate"\nRun \'gearmanode --help\' for usage.\n',
    });
    expect(await exec(['status', '--bogus'])).toMatchObject({
      code: EXIT.USAGE,
      stderr: "gearmanode: unknown option --bogus\nRun 'gearmanode status --help' for usage.\n",
    });
  });

  test('--json is refused by commands without JSON output', async () => {
    const { code, stderr } = await exec(['top', '--json']);
    expect(code).toBe(EXIT.USAGE);
    expect(stderr).toContain('top has no --json output');
  });
});

describe('submit', () => {
  test('sends the argument, or stdin bytes unchanged, and writes the result as bytes', async () => {
    const name = uniqueName('echo');
    const worker = await libraryWorker(name, (job) => job.complete(job.payload));
    try {
      expect(await exec(['submit', name, 'hello'])).toMatchObject({ code: 0, stdout: 'hello' });
      const bytes = Buffer.from([0, 1, 2, 0, 255, 10, 0]);
      const piped = await exec(['submit', name], { stdin: bytes });
      expect(piped.code).toBe(0);
      expect(piped.bytes.equals(bytes)).toBe(true);
      const dash = await exec(['submit', name, '-'], { stdin: 'from stdin' });
      expect(dash.stdout).toBe('from stdin');
      const literal = await exec(['submit', name, '--', '--not-an-option']);
      expect(literal.stdout).toBe('--not-an-option');
      // A terminal on stdin and no argument: an empty payload, no waiting for input.
      const empty = await exec(['submit', name], { stdinTTY: true });
      expect(empty).toMatchObject({ code: 0, stdout: '' });
    } finally {
      await worker.close();
    }
  });

  test('streams WORK_DATA to stdout, warnings to stderr, and draws progress on a terminal', async () => {
    const name = uniqueName('progress');
    const worker = await libraryWorker(name, async (job) => {
      await job.status(1, 2);
      await job.data('one\n');
      await job.warning('careful\n');
      await job.status(2, 2);
      await job.complete('done\n');
    });
    try {
      const tty = await exec(['submit', name], { stderr: { isTTY: true, columns: 60 } });
      expect(tty.code).toBe(0);
      expect(tty.stdout).toBe('one\ndone\n');
      expect(tty.stderr).toContain('careful\n');
      expect(tty.stderr).toMatch(/\r\S+ \[█+░*\] +50% {2}1\/2/);
      expect(tty.stderr).toContain('100%  2/2');
      expect(tty.stderr.endsWith('\r\x1b[K')).toBe(true); // the bar leaves nothing behind

      const plain = await exec(['submit', name]);
      expect(plain.stdout).toBe('one\ndone\n');
      expect(plain.stderr).toBe('careful\n');
      const quiet = await exec(['submit', '-q', name], { stderr: { isTTY: true } });
      expect(quiet.stderr).toBe('careful\n');
    } finally {
      await worker.close();
    }
  });

  test('exits 3 on WORK_FAIL and 4 on WORK_EXCEPTION, with the reason on stderr', async () => {
    const name = uniqueName('failing');
    const worker = await libraryWorker(name, async (job) => {
      if (job.text() === 'fail') await job.fail();
      else if (job.text() === 'short') await job.exception('bad input');
      else await job.exception('first line\nsecond line');
    });
    try {
      const failed = await exec(['submit', name, 'fail']);
      expect(failed.code).toBe(EXIT.JOB_FAILED);
      expect(failed.stderr).toMatch(/^gearmanode: job \S+ failed\n$/);
      const short = await exec(['submit', name, 'short']);
      expect(short.code).toBe(EXIT.JOB_EXCEPTION);
      expect(short.stderr).toMatch(/^gearmanode: job \S+ failed with an exception: bad input\n$/);
      const long = await exec(['submit', name, 'long']);
      expect(long.stderr).toMatch(
        /^gearmanode: job \S+ failed with an exception:\n {2}first line\n {2}second line\n$/,
      );
    } finally {
      await worker.close();
    }
  });

  test('exits 5 when --timeout passes', async () => {
    const { code, stderr } = await exec([
      'submit',
      '--timeout',
      '100ms',
      uniqueName('nobody'),
      'x',
    ]);
    expect(code).toBe(EXIT.TIMEOUT);
    expect(stderr).toMatch(
      /^gearmanode: timed out after 100 ms; job \S+ may still run on the server\n$/,
    );
  });

  test('exits 130 when interrupted, and says the job may still run', async () => {
    const name = uniqueName('nobody');
    const { io, done } = cli(['submit', name, 'x']);
    await waitFor(async () => (await statusOf(address)).some((s) => s.functionName === name));
    io.signals.emit('SIGINT', 'SIGINT');
    expect(await done).toBe(EXIT.INTERRUPTED);
    expect(io.stderr.text()).toMatch(
      /^gearmanode: interrupted by SIGINT; job \S+ may still run\n$/,
    );
  });

  test('--background prints the handle; status, jobs and unique-jobs show the job', async () => {
    const name = uniqueName('later');
    const submitted = await exec(['submit', '-b', '-u', `${name}-key`, name, 'x']);
    expect(submitted.code).toBe(0);
    const handle = submitted.stdout.trim();
    expect(handle).toMatch(/^H:/);
    const json = await exec(['submit', '--background', '--json', name, 'y']);
    expect(JSON.parse(json.stdout)).toEqual({ handle: expect.stringMatching(/^H:/) });

    const status = JSON.parse((await exec(['status', '--json'])).stdout) as {
      functionName: string;
    }[];
    expect(status).toContainEqual({
      server: address,
      functionName: name,
      queued: 2,
      running: 0,
      total: 2,
      availableWorkers: 0,
    });
    const table = await exec(['status']);
    expect(table.stdout).toMatch(/^FUNCTION +QUEUED +RUNNING +WORKERS\n/);
    expect(table.stdout).toMatch(new RegExp(`\n${name} +2 +0 +0\n`));
    expect((await exec(['jobs'])).stdout).toMatch(new RegExp(`\n${handle} +0 +no +yes\n`));
    expect((await exec(['unique-jobs'])).stdout).toContain(`\n${name}-key\n`);
    const priorities = await exec(['priority-status', '--json']);
    expect(JSON.parse(priorities.stdout)).toContainEqual(
      expect.objectContaining({ functionName: name, normal: 2 }),
    );

    expect(await exec(['cancel', handle])).toMatchObject({
      code: 0,
      stdout: `cancelled ${handle} on ${address}\n`,
    });
  });

  test('--at schedules a background job (SUBMIT_JOB_EPOCH)', async () => {
    const name = uniqueName('scheduled');
    const { code, stdout } = await exec(['submit', '-b', '--at', '+1h', name, 'x']);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^H:\S+\n$/);
  });

  test('checks its options before connecting', async () => {
    expect((await exec(['submit', '--at', '+1m', 'f', 'x'])).stderr).toContain(
      '--at needs --background',
    );
    expect((await exec(['submit', '--json', 'f', 'x'])).code).toBe(EXIT.USAGE);
    expect((await exec(['submit', '-p', 'urgent', 'f', 'x'])).code).toBe(EXIT.USAGE);
    expect((await exec(['submit'])).stderr).toContain('missing <function>');
    expect((await exec(['submit', '-t', 'soon', 'f'])).code).toBe(EXIT.USAGE);
  });

  test('exits 6 when no server answers', async () => {
    const { code, stderr } = await exec(['submit', '--servers', '127.0.0.1:1', 'f', 'x']);
    expect(code).toBe(EXIT.CONNECTION);
    expect(stderr).toBe('gearmanode: cannot connect to any job server (ECONNREFUSED)\n');
  });
});

describe('work', () => {
  test('runs the command per job: payload on stdin, stdout as the result', async () => {
    const name = uniqueName('cat');
    const { io, done } = cli(['work', name, '--max-jobs', '2', '--', 'cat']);
    await waitForWorker(name);
    const client = await createClient({ servers: [address] });
    try {
      const bytes = Buffer.from([0, 0, 7, 0]);
      expect((await client.submit(name, bytes)).equals(bytes)).toBe(true);
      expect((await client.submit(name, 'text')).toString()).toBe('text');
    } finally {
      await client.close();
    }
    expect(await done).toBe(EXIT.OK);
    expect(io.stderr.text()).toBe('');
  });

  test('a failing command fails the job with its exit status and stderr', async () => {
    const name = uniqueName('fails');
    const { io, done } = cli([
      'work',
      name,
      '-n',
      '1',
      '--',
      'sh',
      '-c',
      'echo "it broke on $GEARMAN_FUNCTION" >&2; exit 3',
    ]);
    await waitForWorker(name);
    const submitted = await exec(['submit', name, 'x']);
    expect(submitted.code).toBe(EXIT.JOB_EXCEPTION);
    expect(submitted.stderr).toContain('failed with an exception:\n  command exited with code 3\n');
    expect(submitted.stderr).toContain(`  it broke on ${name}\n`);
    expect(await done).toBe(EXIT.OK);
    expect(io.stderr.text()).toContain(`it broke on ${name}\n`); // passed through
    expect(io.stderr.text()).toMatch(/gearmanode: job \S+ failed: command exited with code 3\n/);
  });

  test('--plain-fail sends WORK_FAIL, and --timeout kills a slow command', async () => {
    const name = uniqueName('slow');
    const { done } = cli([
      'work',
      name,
      '-n',
      '2',
      '--plain-fail',
      '-t',
      '200ms',
      '--',
      'sh',
      '-c',
      'read x; [ "$x" = slow ] && sleep 5; exit 1',
    ]);
    await waitForWorker(name);
    expect((await exec(['submit', name, 'fast'])).code).toBe(EXIT.JOB_FAILED);
    const started = Date.now();
    expect((await exec(['submit', name, 'slow\n'])).code).toBe(EXIT.JOB_FAILED);
    expect(Date.now() - started).toBeLessThan(3000);
    expect(await done).toBe(EXIT.OK);
  });

  test('drains on SIGTERM: the running command finishes and its result is sent', async () => {
    const name = uniqueName('drain');
    const { io, done } = cli(['work', name, '--', 'sh', '-c', 'sleep 0.3; cat']);
    await waitForWorker(name);
    const client = await createClient({ servers: [address] });
    try {
      const result = client.submit(name, 'kept');
      await waitFor(async () =>
        (await statusOf(address)).some((s) => s.functionName === name && s.running === 1),
      );
      io.signals.emit('SIGTERM', 'SIGTERM');
      expect((await result).toString()).toBe('kept');
    } finally {
      await client.close();
    }
    expect(await done).toBe(EXIT.OK);
    expect(io.stderr.text()).toMatch(/SIGTERM: stopping; waiting up to 30s for 1 running command/);
  });

  test('refuses a command that does not exist, and a missing command', async () => {
    expect(await exec(['work', 'f', '--', 'no-such-command-xyz'])).toMatchObject({
      code: EXIT.USAGE,
      stderr:
        "gearmanode: command not found: no-such-command-xyz\nRun 'gearmanode --help' for usage.\n",
    });
    expect((await exec(['work', 'f'])).stderr).toContain('missing <command> after --');
    expect((await exec(['work', '-c', '0', 'f', '--', 'cat'])).code).toBe(EXIT.USAGE);
  });
});

describe('admin commands', () => {
  test('workers lists workers with their ids and functions; --all lists every connection', async () => {
    const name = uniqueName('listed');
    const id = uniqueName('cli-worker');
    const { io, done } = cli(['work', name, '--id', id, '--', 'cat']);
    await waitForWorker(name);
    try {
      const table = await exec(['workers']);
      expect(table.stdout).toMatch(/^FD +IP +ID +FUNCTIONS\n/);
      expect(table.stdout).toMatch(new RegExp(`\n *\\d+ +127\\.0\\.0\\.1 +${id} +${name}\n`));
      const json = JSON.parse((await exec(['workers', '--json'])).stdout) as unknown[];
      expect(json).toContainEqual({
        server: address,
        fd: expect.any(Number),
        ip: '127.0.0.1',
        clientId: id,
        functions: [name],
      });
      const all = JSON.parse((await exec(['workers', '--all', '--json'])).stdout) as unknown[];
      expect(all.length).toBeGreaterThan(json.length); // the admin connection itself, at least
    } finally {
      io.signals.emit('SIGINT', 'SIGINT');
      expect(await done).toBe(EXIT.OK);
    }
  });

  test('getpid, version and verbose print the bare value, or JSON', async () => {
    expect((await exec(['getpid'])).stdout).toBe(`${process.pid}\n`);
    expect((await exec(['version'])).stdout).toMatch(/^\d+\.\d+\.\d+\S*\n$/);
    expect((await exec(['verbose'])).stdout).toMatch(/^[A-Z]+\n$/);
    expect(JSON.parse((await exec(['getpid', '--json'])).stdout)).toEqual([
      { server: address, pid: process.pid },
    ]);
  });

  test('create-function, maxqueue and drop-function', async () => {
    const name = uniqueName('limited');
    expect(await exec(['create-function', name])).toMatchObject({
      code: 0,
      stdout: `created function ${name} on ${address}\n`,
    });
    expect((await exec(['maxqueue', name, '1'])).stdout).toBe(
      `maxqueue ${name}: 1 on ${address}\n`,
    );
    expect((await exec(['submit', '-b', name, 'a'])).code).toBe(0);
    const full = await exec(['submit', '-b', name, 'b']);
    expect(full.code).toBe(EXIT.SERVER);
    expect(full.stderr).toContain('QUEUE_ERROR');
    expect((await exec(['maxqueue', name, '5', '10', '0'])).stdout).toBe(
      `maxqueue ${name}: high 5, normal 10, low unlimited on ${address}\n`,
    );
    expect((await exec(['maxqueue', name])).stdout).toBe(
      `maxqueue ${name}: unlimited on ${address}\n`,
    );
    expect((await exec(['maxqueue', name, 'x'])).code).toBe(EXIT.USAGE);

    const other = uniqueName('dropped');
    await exec(['create-function', other]);
    expect(JSON.parse((await exec(['drop-function', other, '--json'])).stdout)).toEqual([
      { server: address, ok: true },
    ]);
    const again = await exec(['drop-function', other]);
    expect(again.code).toBe(EXIT.SERVER);
  });

  test('cancel of an unknown handle exits 7', async () => {
    const { code, stderr } = await exec(['cancel', 'H:nowhere:1']);
    expect(code).toBe(EXIT.SERVER);
    expect(stderr).toBe(`gearmanode: ${address}: no job H:nowhere:1 (UNKNOWN_JOB)\n`);
    const json = await exec(['cancel', 'H:nowhere:1', '--json']);
    expect(JSON.parse(json.stdout)).toEqual([
      {
        server: address,
        ok: false,
        error: { code: 'ERR_ADMIN', adminCode: 'UNKNOWN_JOB', message: 'UNKNOWN_JOB' },
      },
    ]);
  });

  test('an unreachable server among several: the rows of the others, its error, exit 6', async () => {
    const { code, stdout, stderr } = await exec(['status', '-s', `${address},127.0.0.1:1`]);
    expect(code).toBe(EXIT.CONNECTION);
    expect(stdout).toMatch(/^SERVER +FUNCTION/);
    expect(stderr).toMatch(/^gearmanode: .*127\.0\.0\.1:1.*\(ECONNREFUSED\)\n$/);
  });
});

describe('top', () => {
  test('prints one plain frame per refresh when stdout is not a terminal', async () => {
    const name = uniqueName('watched');
    await exec(['submit', '-b', name, 'x']);
    const { code, stdout } = await exec(['top', '-n', '2', '-i', '100ms']);
    expect(code).toBe(0);
    const frames = stdout.split(/^(?=gearmanode top )/m);
    expect(frames).toHaveLength(2);
    expect(frames[1]).toMatch(new RegExp(`\n${name} +1 +0 +0\n`));
    expect(stdout).not.toContain('\x1b');
  });

  test('on a terminal: alternate screen, raw keys, q quits and everything is restored', async () => {
    const { io, done } = cli(['top', '-i', '100ms'], {
      stdinTTY: true,
      stdout: { isTTY: true, columns: 80, rows: 20 },
    });
    await waitFor(() => io.stdout.text().includes('FUNCTION'));
    const stdin = io.stdin as unknown as { raw: boolean; write(data: string): void };
    expect(stdin.raw).toBe(true);
    stdin.write('q');
    expect(await done).toBe(0);
    const out = io.stdout.text();
    expect(out.startsWith('\x1b[?1049h\x1b[?25l\x1b[H')).toBe(true);
    expect(out.endsWith('\x1b[?25h\x1b[?1049l')).toBe(true);
    expect(stdin.raw).toBe(false);
  });

  test('SIGINT quits too', async () => {
    const { io, done } = cli(['top', '-i', '100ms'], { stdout: { isTTY: true } });
    await waitFor(() => io.stdout.text().includes('FUNCTION'));
    io.signals.emit('SIGINT', 'SIGINT');
    expect(await done).toBe(0);
    expect(io.stdout.text().endsWith('\x1b[?25h\x1b[?1049l')).toBe(true);
  });
});

describe('server', () => {
  test('prints its address, serves, and stops on SIGINT', async () => {
    const { io, done } = cli(['server', '--port', '0', '--json']);
    const { address: where, port } = JSON.parse(
      await waitFor(() => (io.stdout.text().endsWith('}\n') ? io.stdout.text() : '')),
    ) as { address: string; port: number };
    expect(where).toBe(`127.0.0.1:${port}`);
    expect((await exec(['version', '-s', where])).code).toBe(0);
    io.signals.emit('SIGINT', 'SIGINT');
    expect(await done).toBe(0);
  });

  test('stops on the admin command shutdown', async () => {
    const { io, done } = cli(['server', '--port', '0']);
    const line = await waitFor(() => /listening on (\S+)\n/.exec(io.stdout.text()));
    const where = line[1] as string;
    expect(await exec(['shutdown', '-s', where])).toMatchObject({
      code: 0,
      stdout: `${where} is shutting down\n`,
    });
    expect(await done).toBe(0);
  });
});

describe('arguments are checked before anything connects', () => {
  // Nothing listens on port 1: a check that waited for a connection would report exit 6 instead.
  const down = { env: { GEARMAN_SERVERS: '127.0.0.1:1' } };

  test('a 64-byte --unique, an empty function name, a bad --id', async () => {
    const unique = await exec(['submit', '--unique', 'u'.repeat(64), 'f', 'x'], down);
    expect(unique.code).toBe(EXIT.USAGE);
    expect(unique.stderr).toMatch(/^gearmanode: --unique/);
    const name = await exec(['submit', '', 'x'], down);
    expect(name.code).toBe(EXIT.USAGE);
    expect(name.stderr).toMatch(/^gearmanode: <function>/);
    const id = await exec(['work', '--id', 'two words', 'f', '--', 'cat'], down);
    expect(id.code).toBe(EXIT.USAGE);
    expect(id.stderr).toMatch(/^gearmanode: --id/);
  });

  test('a job larger than --max-packet-size names the option', async () => {
    const { code, stderr } = await exec(
      ['submit', '--max-packet-size', '1KiB', 'f', 'x'.repeat(2000)],
      down,
    );
    expect(code).toBe(EXIT.USAGE);
    expect(stderr).toContain('more than the packet limit of 1024; raise it with --max-packet-size');
    const bad = await exec(['work', '--max-packet-size', 'lots', 'f', '--', 'cat'], down);
    expect(bad.code).toBe(EXIT.USAGE);
    expect(bad.stderr).toMatch(/^gearmanode: --max-packet-size must be a size/);
  });

  test('negative numbers get the message of their option', async () => {
    const port = await exec(['server', '--port', '-1']);
    expect(port.code).toBe(EXIT.USAGE);
    expect(port.stderr).toMatch(/^gearmanode: --port must be an integer from 0 to 65535, got "-1"/);
    const timeout = await exec(['submit', '-t', '-5', 'f', 'x'], down);
    expect(timeout.code).toBe(EXIT.USAGE);
    expect(timeout.stderr).toMatch(/^gearmanode: --timeout must be a duration/);
  });

  test('a malformed server list', async () => {
    const { code, stderr } = await exec(['status', '--servers', 'host:4730:5']);
    expect(code).toBe(EXIT.USAGE);
    expect(stderr).toMatch(/^gearmanode: --servers: "host:4730:5" is not host:port/);
  });
});

describe('submit and top tell what is wrong', () => {
  test('a job larger than the default limit passes with --max-packet-size', async () => {
    const name = uniqueName('big');
    const worker = await libraryWorker(name, async (job) => {
      await job.complete(String(job.payload.length));
    });
    try {
      const { code, stdout } = await exec([
        'submit',
        '--max-packet-size',
        '1MiB',
        name,
        'y'.repeat(100_000),
      ]);
      expect(code).toBe(EXIT.OK);
      expect(stdout).toBe('100000');
    } finally {
      await worker.close();
    }
  });

  test('submit says on stderr when no worker has registered the function', async () => {
    const name = uniqueName('nobody');
    const { code, stderr } = await exec(['submit', '--timeout', '6s', name, 'x']);
    expect(code).toBe(EXIT.TIMEOUT);
    expect(stderr).toContain(
      `gearmanode: no worker has registered ${name} on ${address}; the job waits until one does\n`,
    );
  }, 20_000); // the notice comes after NO_WORKER_NOTICE_DELAY, the timeout after 6 s

  test('top exits 6 when it never reached a server', async () => {
    const { code, stderr } = await exec(['top', '-n', '1', '-s', '127.0.0.1:1']);
    expect(code).toBe(EXIT.CONNECTION);
    expect(stderr).toMatch(/^gearmanode: no job server was reached \(127\.0\.0\.1:1: /);
  });
});

async function statusOf(servers: string) {
  const { stdout } = await exec(['status', '--json', '-s', servers]);
  return JSON.parse(stdout) as { functionName: string; running: number; queued: number }[];
}

async function waitForWorker(name: string): Promise<void> {
  await waitFor(
    async () =>
      (await statusOf(address)).some(
        (s) =>
          s.functionName === name && (s as { availableWorkers?: number }).availableWorkers === 1,
      ),
    { what: `a worker for ${name}` },
  );
}
