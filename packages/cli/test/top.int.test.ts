import { createClient } from '@gearmanode/client';
import { describe, expect, inject, test } from 'vitest';
import { uniqueName, waitFor } from '../../../test/helpers.js';
import { runCli, spawnInTerminal } from './support/binary.js';

// `top` in a pseudo-terminal (util-linux `script`), driven like a user would: watch it refresh,
// change the queues, press q.

const { host, port, kind } = inject('gearman');
// Against gearmand only: the `integration-embedded` project would run these binaries a second
// time, and commands.test.ts runs every command in-process against the embedded server already.
const onGearmand = describe.skipIf(kind === 'embedded');
const server = `${host.includes(':') ? `[${host}]` : host}:${port}`;
const env = { GEARMAN_SERVERS: server };

const GREEN = '\x1b\\[32m';
// biome-ignore lint/suspicious/noControlCharactersInRegex: stripping terminal escapes
const ESCAPES = /\x1b\[[0-9;?]*[ -/]*[@-~]/g;

onGearmand('top', () => {
  test('refreshes in place with counts and their changes, and q quits and restores the terminal', async () => {
    const name = uniqueName('watched');
    expect((await runCli(['submit', '-b', name, 'one'], { env })).code).toBe(0);
    const top = spawnInTerminal(['top', '--interval', '300ms'], { env, columns: 120, rows: 40 });
    const screen = (): string => top.stdout().toString();
    try {
      await waitFor(() => new RegExp(`${name} +1 `).test(screen().replace(ESCAPES, '')), {
        timeout: 10_000,
        what: `${name} with 1 queued job on the screen`,
      });
      expect(screen()).toContain('\x1b[?1049h'); // the alternate screen
      expect(screen()).toContain('\x1b[?25l'); // the cursor hidden

      // Two more jobs at once, from the library: a later refresh shows 3 queued and the change
      // since the refresh before, in green (+2, or +1 twice should a refresh fall in between).
      const client = await createClient({ servers: [server] });
      try {
        await Promise.all([
          client.submitBackground(name, 'two'),
          client.submitBackground(name, 'three'),
        ]);
      } finally {
        await client.close();
      }
      const changed = new RegExp(`${name} +3 +\\+[12] +0 +0`);
      await waitFor(() => changed.test(screen().replace(ESCAPES, '')), {
        timeout: 10_000,
        what: 'the new count and its change',
      });
      expect(screen()).toMatch(new RegExp(`${GREEN}\\+[12]`));
      const plain = screen().replace(ESCAPES, '');
      expect(plain).toMatch(/gearmanode top {2}\S+ {2}every 300ms/);
      const refreshes = screen().split('\x1b[H').length - 1;
      expect(refreshes).toBeGreaterThanOrEqual(2);

      top.child.stdin.write('q');
      const result = await top.exited;
      expect(result.code).toBe(0);
      // Restored: the cursor shown, the main screen back, and nothing after that.
      expect(result.text.trimEnd().endsWith('\x1b[?25h\x1b[?1049l')).toBe(true);
    } finally {
      top.child.kill('SIGKILL');
    }
  });

  test('Ctrl-C quits as q does', async () => {
    const top = spawnInTerminal(['top', '-i', '200ms'], { env });
    await waitFor(() => top.stdout().toString().includes('FUNCTION'), { timeout: 10_000 });
    top.child.stdin.write('\x03');
    const result = await top.exited;
    expect(result.code).toBe(0);
    expect(result.text.trimEnd().endsWith('\x1b[?25h\x1b[?1049l')).toBe(true);
  });

  test('without a terminal, prints --iterations plain frames', async () => {
    const name = uniqueName('plain');
    await runCli(['submit', '-b', name, 'x'], { env });
    const result = await runCli(['top', '-n', '2', '-i', '100ms'], { env });
    expect(result.code).toBe(0);
    expect(result.text).not.toContain('\x1b');
    expect(result.text.match(/^gearmanode top /gm)).toHaveLength(2);
    expect(result.text).toMatch(new RegExp(`\n${name} +1 +0 +0\n`));
  });
});
