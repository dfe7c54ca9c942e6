import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  type GearmandInstance,
  type GearmandOptions,
  gearmandVersion,
  type ServerLaunch,
  startServer,
} from './gearmand.js';

// Perl's Gearman::Server (Debian's gearman-server, also on CPAN), a second job server the
// interoperability suite runs against. Its package installs the script as /usr/bin/gearmand,
// where it would shadow the C gearmand for anything that searches PATH, so scripts/test.sh
// unpacks the package into .cache/gearman-server of the repository instead of installing it.

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Where Gearman::Server was found: its script, and the Perl library folder it needs, if any. */
export interface GearmanServerInstall {
  readonly script: string;
  readonly lib: string | undefined;
}

/**
 * Finds Gearman::Server: unpacked under `GEARMAN_SERVER_ROOT` (default .cache/gearman-server of
 * the repository, as scripts/test.sh leaves it), or installed as /usr/bin/gearmand (told apart
 * from the C gearmand by its `--version`). Returns undefined when it is in neither place.
 */
function findGearmanServer(): GearmanServerInstall | undefined {
  const root = process.env.GEARMAN_SERVER_ROOT ?? join(ROOT, '.cache', 'gearman-server');
  const unpacked = join(root, 'usr', 'bin', 'gearmand');
  if (existsSync(unpacked)) return { script: unpacked, lib: join(root, 'usr', 'share', 'perl5') };
  const installed = '/usr/bin/gearmand';
  if (existsSync(installed) && gearmandVersion(installed).line.startsWith('Gearman::Server')) {
    return { script: installed, lib: undefined };
  }
  return undefined;
}

/** Says how to get Gearman::Server, for a test that needs it. */
const GEARMAN_SERVER_MISSING =
  'Gearman::Server not found: run scripts/test.sh, or `apt-get download gearman-server && ' +
  'dpkg-deb -x gearman-server_*.deb .cache/gearman-server` plus `apt-get install ' +
  'libdanga-socket-perl libgearman-client-perl`';

function launch(install: GearmanServerInstall, extra: readonly string[]): ServerLaunch {
  const lib = install.lib;
  const perl5lib = [lib, process.env.PERL5LIB].filter(Boolean).join(':');
  return {
    name: 'Gearman::Server',
    command: 'perl',
    args: (port) => [install.script, '--listen', '127.0.0.1', '--port', String(port), ...extra],
    env: { ...process.env, PERL5LIB: perl5lib },
    // It has no `getpid`; `version` answers its version alone (`v1.130.1`). A port taken by someone else
    // answers differently (or not at all), and our process exiting shows as a startup failure.
    probe: 'version\r\n',
    isOurs: (line) => /^v?\d+\.\d+/.test(line),
  };
}

/**
 * Starts Gearman::Server on a free port of 127.0.0.1 and resolves once it answers; `stop()`,
 * `kill()`, `restart()` and `pid` work as for gearmand.
 * @throws Error when it is not unpacked or installed (see `GEARMAN_SERVER_MISSING`).
 * @example
 * await using server = await startGearmanServer();
 * const client = await createClient({ servers: [`${server.host}:${server.port}`] });
 */
export function startGearmanServer(options: GearmandOptions = {}): Promise<GearmandInstance> {
  const install = findGearmanServer();
  if (install === undefined) return Promise.reject(new Error(GEARMAN_SERVER_MISSING));
  return startServer(launch(install, options.args ?? []), options);
}
