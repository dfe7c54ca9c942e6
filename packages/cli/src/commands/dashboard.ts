import { expectPositionals, type ParsedArgs, parseDuration } from '../args.js';
import { startDashboard } from '../dashboard/dashboard.js';
import { EXIT, type ExitCode } from '../errors.js';
import type { COMMANDS } from '../help.js';
import type { CliIO } from '../io.js';
import { parseListen } from '../metrics/listen.js';
import { resolveServers } from '../servers.js';
import { untilSignal } from '../signals.js';
import { DEFAULT_SCRAPE_TIMEOUT, warnIfExposed } from './exporter.js';

type DashboardArgs = ParsedArgs<(typeof COMMANDS)['dashboard']['options']>;

/** Where `dashboard` listens by default: next to the exporter's 9470. */
const DEFAULT_DASHBOARD_LISTEN = '127.0.0.1:9471';

const DEFAULT_INTERVAL = 1000;
const MIN_INTERVAL = 100;

/**
 * `gearmanode dashboard`: serves the live web page until SIGINT or SIGTERM. Prints
 * `gearmanode dashboard on http://127.0.0.1:9471/` once it accepts requests.
 */
export async function dashboard(args: DashboardArgs, io: CliIO): Promise<ExitCode> {
  const { values } = args;
  expectPositionals('dashboard', args.positionals, []);
  const listen = parseListen(values.listen ?? DEFAULT_DASHBOARD_LISTEN, '--listen', 'dashboard');
  const interval =
    values.interval === undefined
      ? DEFAULT_INTERVAL
      : Math.max(MIN_INTERVAL, parseDuration(values.interval, '--interval', 'dashboard'));
  const timeout =
    values.timeout === undefined
      ? DEFAULT_SCRAPE_TIMEOUT
      : Math.max(1, parseDuration(values.timeout, '--timeout', 'dashboard'));
  const servers = resolveServers(values.servers, io.env);
  const running = await startDashboard({ listen, servers, interval, timeout });
  const stopped = untilSignal(io);
  io.stdout.write(`gearmanode dashboard on ${running.url}\n`);
  warnIfExposed(listen, io);
  await stopped;
  await running.close();
  return EXIT.OK;
}
