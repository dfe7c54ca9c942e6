import { describe, expect, inject, test } from 'vitest';
import { uniqueName, waitFor } from '../../../test/helpers.js';
import { EXIT } from '../src/errors.js';
import { runCli, spawnCli } from './support/binary.js';

// Every admin command through the real binary against gearmand: tables, --json, exit codes.

const { host, port, kind } = inject('gearman');
// Against gearmand only: the `integration-embedded` project would run these binaries a second
// time, and commands.test.ts runs every command in-process against the embedded server already.
const onGearmand = describe.skipIf(kind === 'embedded');
const server = `${host.includes(':') ? `[${host}]` : host}:${port}`;
const env = { GEARMAN_SERVERS: server };

onGearmand('admin commands against gearmand', () => {
  test('status, priority-status, jobs, unique-jobs: tables and --json', async () => {
    const name = uniqueName('queued');
    const unique = uniqueName('key');
    const background = await runCli(
      ['submit', '--background', '--unique', unique, '-p', 'high', name, 'x'],
      {
        env,
      },
    );
    expect(background.code).toBe(0);
    const handle = background.text.trim();
    expect(handle).toMatch(/^H:/);

    const [status, statusJson, priority, jobs, jobsJson, uniques] = await Promise.all([
      runCli(['status'], { env }),
      runCli(['status', '--json'], { env }),
      runCli(['priority-status'], { env }),
      runCli(['jobs'], { env }),
      runCli(['jobs', '--json'], { env }),
      runCli(['unique-jobs'], { env }),
    ]);
    expect(status.text).toMatch(/^FUNCTION +QUEUED +RUNNING +WORKERS\n/);
    expect(status.text).toMatch(new RegExp(`\n${name} +1 +0 +0\n`));
    expect(JSON.parse(statusJson.text)).toContainEqual({
      server,
      functionName: name,
      queued: 1,
      running: 0,
      total: 1,
      availableWorkers: 0,
    });
    expect(priority.text).toMatch(/^FUNCTION +HIGH +NORMAL +LOW +WORKERS\n/);
    expect(priority.text).toMatch(new RegExp(`\n${name} +1 +0 +0 +0\n`));
    expect(jobs.text).toMatch(/^HANDLE +RETRIES +IGNORED +PERSISTED\n/);
    expect(jobs.text).toMatch(new RegExp(`\n${handle} +0 +no +yes\n`));
    expect(JSON.parse(jobsJson.text)).toContainEqual({
      server,
      handle,
      retries: 0,
      ignored: false,
      persisted: true,
    });
    expect(uniques.text).toMatch(new RegExp(`^UNIQUE\n(.*\n)*${unique}\n`));
    for (const result of [status, statusJson, priority, jobs, jobsJson, uniques]) {
      expect(result).toMatchObject({ code: 0, stderr: '' });
    }

    // Cancelling a queued background job marks it ignored until a worker's GRAB discards it.
    expect(await runCli(['cancel', handle], { env })).toMatchObject({
      code: 0,
      text: `cancelled ${handle} on ${server}\n`,
    });
    const after = JSON.parse((await runCli(['jobs', '--json'], { env })).text) as unknown[];
    expect(after).toContainEqual(expect.objectContaining({ handle, ignored: true }));
  });

  test('cancel of an unknown handle is exit 7, also as JSON', async () => {
    const [plain, json] = await Promise.all([
      runCli(['cancel', 'H:nowhere:1'], { env }),
      runCli(['cancel', 'H:nowhere:1', '--json'], { env }),
    ]);
    expect(plain).toMatchObject({
      code: EXIT.SERVER,
      text: '',
      stderr: `gearmanode: ${server}: no job H:nowhere:1 (UNKNOWN_JOB)\n`,
    });
    expect(json.code).toBe(EXIT.SERVER);
    expect(JSON.parse(json.text)).toEqual([
      {
        server,
        ok: false,
        error: { code: 'ERR_ADMIN', adminCode: 'UNKNOWN_JOB', message: 'UNKNOWN_JOB' },
      },
    ]);
  });

  test('create-function, maxqueue (refusing a job: exit 7), drop-function', async () => {
    const name = uniqueName('limited');
    expect(await runCli(['create-function', name], { env })).toMatchObject({
      code: 0,
      text: `created function ${name} on ${server}\n`,
    });
    expect(await runCli(['maxqueue', name, '1'], { env })).toMatchObject({
      code: 0,
      text: `maxqueue ${name}: 1 on ${server}\n`,
    });
    expect((await runCli(['submit', '-b', name, 'first'], { env })).code).toBe(0);
    const refused = await runCli(['submit', '-b', name, 'second'], { env });
    expect(refused.code).toBe(EXIT.SERVER);
    expect(refused.stderr).toBe('gearmanode: QUEUE_ERROR: Job queue is full\n');
    const reset = await runCli(['maxqueue', name, '--json'], { env });
    expect(JSON.parse(reset.text)).toEqual([{ server, ok: true }]);
    expect((await runCli(['submit', '-b', name, 'second'], { env })).code).toBe(0);

    const empty = uniqueName('empty');
    await runCli(['create-function', empty], { env });
    expect(await runCli(['drop-function', empty], { env })).toMatchObject({
      code: 0,
      text: `dropped function ${empty} on ${server}\n`,
    });
    const again = await runCli(['drop-function', empty], { env });
    expect(again).toMatchObject({ code: EXIT.SERVER, text: '' });
    expect(again.stderr).toBe(`gearmanode: ${server}: function not found\n`);
  });

  test('workers lists a running `work` with its id and function', async () => {
    const name = uniqueName('listed');
    const id = uniqueName('id');
    const worker = spawnCli(['work', name, '--id', id, '--', 'cat'], { env, timeout: 20_000 });
    try {
      const listed = await waitFor(
        async () => {
          const result = await runCli(['workers', '--json'], { env });
          const rows = JSON.parse(result.text) as {
            clientId: string | null;
            functions: string[];
          }[];
          return rows.find((row) => row.clientId === id);
        },
        { timeout: 10_000, what: 'the worker in `workers`' },
      );
      expect(listed.functions).toEqual([name]);
      const table = await runCli(['workers'], { env });
      expect(table.text).toMatch(/^FD +IP +ID +FUNCTIONS\n/);
      expect(table.text).toMatch(new RegExp(`\n *\\d+ +\\S+ +${id} +${name}\n`));
      const all = JSON.parse(
        (await runCli(['workers', '--all', '--json'], { env })).text,
      ) as unknown[];
      expect(all).toContainEqual(expect.objectContaining({ functions: [] })); // clients, admin
    } finally {
      worker.child.kill('SIGTERM');
      expect((await worker.exited).code).toBe(0);
    }
  });

  test('getpid, version and verbose: the bare value, or JSON', async () => {
    const [pid, versionJson, verbose] = await Promise.all([
      runCli(['getpid'], { env }),
      runCli(['version', '--json'], { env }),
      runCli(['verbose'], { env }),
    ]);
    expect(pid.text).toMatch(/^\d+\n$/);
    expect(verbose.text).toMatch(/^[A-Z]+\n$/);
    expect(JSON.parse(versionJson.text)).toEqual([
      {
        server,
        version: expect.stringMatching(/^\d+\.\d+\.\d+$/),
        raw: expect.stringMatching(/^\d+\.\d+\.\d+/),
      },
    ]);
  });

  test('shutdown: gearmand has no such command (exit 7, explained)', async () => {
    const result = await runCli(['shutdown'], { env });
    expect(result.code).toBe(EXIT.SERVER);
    expect(result.stderr).toBe(
      `gearmanode: ${server}: the server has no 'shutdown' command (gearmand removed it in 1.1.15); stop its process instead\n`,
    );
  });
});
