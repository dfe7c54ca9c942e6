import { fileURLToPath } from 'node:url';
import { configDefaults, defineConfig, type TestProjectInlineConfiguration } from 'vitest/config';

const root = (path: string) => fileURLToPath(new URL(path, import.meta.url));

const integrationFiles = ['packages/*/test/**/*.int.test.ts'];

/**
 * An integration project: the same suites against the server that `globalSetup` starts and
 * provides as `inject('gearman')`. Add one per server kind, e.g.
 * `integration('integration-embedded', 'test/global-setup-embedded.ts')`.
 */
function integration(
  name: string,
  globalSetup: string,
  include: string[] = integrationFiles,
): TestProjectInlineConfiguration {
  return {
    extends: true,
    test: {
      name,
      include,
      globalSetup: [globalSetup],
      // The chaos suite starts its own servers and runs in a project of its own.
      exclude: [...configDefaults.exclude, 'test/chaos/**'],
      testTimeout: 20_000,
      hookTimeout: 30_000,
    },
  };
}

export default defineConfig({
  resolve: {
    // Tests run against src/, so no build step is needed first.
    alias: [{ find: /^@gearmanode\/([a-z-]+)$/, replacement: root('packages/$1/src/index.ts') }],
  },
  test: {
    // Forks rather than threads: tests spawn and kill gearmand, and a process per worker gives
    // the launcher's process.on('exit') cleanup a real process exit to hook into.
    pool: 'forks',
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['packages/*/test/**/*.test.ts', 'test/**/*.test.ts'],
          exclude: [...configDefaults.exclude, '**/*.int.test.ts'],
        },
      },
      // The launcher's own tests need gearmand but not the embedded server, so only here.
      integration('integration', 'test/global-setup.ts', [
        ...integrationFiles,
        'test/**/*.int.test.ts',
      ]),
      // The same package suites against our own job server (the launcher's tests stay above).
      integration('integration-embedded', 'test/global-setup-embedded.ts'),
      // Faults, bad input and load against gearmand instances each test starts itself (issue 7).
      // It runs after every other project (groupOrder) and one file at a time, so that its
      // figures are not measured on a machine busy with other suites.
      {
        extends: true,
        test: {
          name: 'chaos',
          include: ['test/chaos/**/*.int.test.ts'],
          sequence: { groupOrder: 1 },
          maxWorkers: 1,
          execArgv: ['--expose-gc'],
          testTimeout: 120_000,
          hookTimeout: 60_000,
        },
      },
    ],
  },
});
