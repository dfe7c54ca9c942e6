import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, inject, test } from 'vitest';
import { freePort, waitFor } from '../../../test/helpers.js';
import { hasNodeSqlite } from '../../server/test/node-sqlite.js';
import { EXIT } from '../src/errors.js';
import { CLI_COMMAND, cliEnv, runCli, spawnCli } from './support/binary.js';

// The real binary (node + tsx on src/cli.ts, see support/binary.ts) against the real gearmand
// of the integration project: help, usage and connection errors, and `gearmanode server`.

const { host, port, kind } = inject('gearman');
// Against gearmand only: the `integration-embedded` project would run these binaries a second
// time, and commands.test.ts runs every command in-process against the embedded server already.
const onGearmand = describe.skipIf(kind === 'embedded');
const server = `${host.includes(':') ? `[${host}]` : host}:${port}`;

onGearmand('the binary', () => {
  // Every command's --help is checked in-process (commands.test.ts); a few through the binary.
  test('--help and --version exit 0', async () => {
    const [overview, version, ...helps] = await Promise.all([
      runCli(['--help']),
      runCli(['--version']),
      runCli(['submit', '--help']),
      runCli(['help', 'top']),
    ]);
    expect(overview).toMatchObject({ code: 0, stderr: '' });
    expect(overview.text).toContain('Usage: gearmanode <command> [options]');
    expect(version.text).toMatch(/^\d+\.\d+\.\d+\n$/);
    for (const help of helps) {
      expect(help.code).toBe(0);
      expect(help.text).toMatch(/^Usage: gearmanode \S+/);
      expect(help.text).toContain('\nExamples:\n');
    }
  });

  test('-V and --version print the same version on both binaries', async () => {
    const [node, importFlag, loader] = CLI_COMMAND as [string, string, string];
    const serverEntry = fileURLToPath(new URL('../../server/src/cli.ts', import.meta.url));
    const serverBin = (flag: string) =>
      promisify(execFile)(node, [importFlag, loader, serverEntry, flag], { env: cliEnv() });
    const [long, short, serverLong, serverShort] = await Promise.all([
      runCli(['--version']),
      runCli(['-V']),
      serverBin('--version'),
      serverBin('-V'),
    ]);
    expect(long.text).toMatch(/^\d+\.\d+\.\d+\n$/);
    expect(short.text).toBe(long.text);
    expect(serverLong.stdout).toBe(long.text);
    expect(serverShort.stdout).toBe(long.text);
  });

  test('a usage error is one line plus a hint, exit 2, and a stack only with --verbose', async () => {
    const [plain, verbose, missing] = await Promise.all([
      runCli(['submit', '--priority', 'urgent', 'f', 'x']),
      runCli(['submit', '--priority', 'urgent', 'f', 'x', '--verbose']),
      runCli(['cancel']),
    ]);
    expect(plain).toMatchObject({
      code: EXIT.USAGE,
      text: '',
      stderr:
        'gearmanode: --priority must be low, normal or high, got "urgent"\n' +
        "Run 'gearmanode submit --help' for usage.\n",
    });
    expect(verbose.code).toBe(EXIT.USAGE);
    expect(verbose.stderr).toMatch(/^gearmanode: --priority must be/);
    expect(verbose.stderr).toContain('UsageError: --priority must be');
    expect(verbose.stderr).toMatch(/\n {4}at /);
    expect(missing).toMatchObject({ code: EXIT.USAGE });
    expect(missing.stderr.split('\n')[0]).toBe('gearmanode: missing <handle>');
  });

  test('an unreachable server is exit 6 with one line, for the client and for admin', async () => {
    const nobody = `127.0.0.1:${await freePort()}`;
    const [submit, status] = await Promise.all([
      runCli(['submit', '-s', nobody, 'f', 'x']),
      runCli(['status'], { env: { GEARMAN_SERVERS: nobody } }),
    ]);
    expect(submit).toMatchObject({
      code: EXIT.CONNECTION,
      stderr: 'gearmanode: cannot connect to any job server (ECONNREFUSED)\n',
    });
    expect(status.code).toBe(EXIT.CONNECTION);
    expect(status.stderr).toMatch(/^gearmanode: [^\n]*\(ECONNREFUSED\)\n$/);
    expect(status.stderr).not.toContain('    at ');
  });

  test('--servers wins over GEARMAN_SERVERS', async () => {
    const nobody = `127.0.0.1:${await freePort()}`;
    const result = await runCli(['getpid', '--servers', server], {
      env: { GEARMAN_SERVERS: nobody },
    });
    expect(result).toMatchObject({ code: 0 });
    expect(result.text).toMatch(/^\d+\n$/);
  });
});

onGearmand('gearmanode server', () => {
  test('prints its address, serves jobs, and exits 0 on the admin command shutdown', async () => {
    const running = spawnCli(['server', '--port', '0']);
    const line = await waitFor(
      () => /^gearmanode server listening on (\S+)\n/.exec(running.stdout().toString()),
      {
        timeout: 10_000,
        what: 'the listening line',
      },
    );
    const address = line[1] as string;
    const own = { GEARMAN_SERVERS: address };
    expect((await runCli(['submit', '-b', 'queued-here', 'x'], { env: own })).code).toBe(0);
    expect((await runCli(['status'], { env: own })).text).toMatch(/\nqueued-here +1 +0 +0\n/);
    expect(await runCli(['shutdown', '--graceful'], { env: own })).toMatchObject({
      code: 0,
      text: `${address} is shutting down after its running jobs\n`,
    });
    expect(await running.exited).toMatchObject({ code: 0 });
  });

  // The store needs node:sqlite (Node.js 22.13 or later); without it the refusal is tested.
  test.skipIf(!hasNodeSqlite)(
    '--store sqlite:PATH keeps a background job across a restart',
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'cli-store-'));
      try {
        const store = `sqlite:${join(dir, 'queue.sqlite')}`;
        const start = async () => {
          const running = spawnCli(['server', '--port', '0', '--store', store]);
          const line = await waitFor(
            () => /^gearmanode server listening on (\S+)\n/.exec(running.stdout().toString()),
            { timeout: 10_000, what: 'the listening line' },
          );
          return { running, env: { GEARMAN_SERVERS: line[1] as string } };
        };
        const first = await start();
        expect((await runCli(['submit', '-b', 'kept-here', 'x'], { env: first.env })).code).toBe(0);
        first.running.child.kill('SIGKILL');
        await first.running.exited;
        const second = await start();
        expect((await runCli(['status'], { env: second.env })).text).toMatch(
          /\nkept-here +1 +0 +0\n/,
        );
        second.running.child.kill('SIGTERM');
        expect(await second.running.exited).toMatchObject({ code: 0 });
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );

  test.skipIf(hasNodeSqlite)('--store on a Node.js without node:sqlite is refused', async () => {
    const result = await runCli(['server', '--port', '0', '--store', 'sqlite:/tmp/never.sqlite']);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('needs Node.js 22.13 or later');
  });

  test('--json prints the address as JSON, and SIGTERM stops it with exit 0', async () => {
    const running = spawnCli(['server', '--port', '0', '--json']);
    const json = await waitFor(
      () => {
        const text = running.stdout().toString();
        return text.endsWith('}\n')
          ? (JSON.parse(text) as { host: string; port: number; address: string })
          : undefined;
      },
      { timeout: 10_000 },
    );
    expect(json).toEqual({
      host: '127.0.0.1',
      port: expect.any(Number),
      address: `127.0.0.1:${json.port}`,
    });
    running.child.kill('SIGTERM');
    const result = await running.exited;
    expect(result.code).toBe(0);
    expect(result.stderr).toContain('SIGTERM: stopping after running jobs');
  });
});
