import { expectPositionals, type ParsedArgs, parseDuration } from '../args.js';
import { EXIT, type ExitCode } from '../errors.js';
import type { COMMANDS } from '../help.js';
import type { CliIO } from '../io.js';
import { startExporter } from '../metrics/exporter.js';
import { isLoopback, type ListenAddress, parseListen } from '../metrics/listen.js';
import { resolveServers } from '../servers.js';
import { untilSignal } from '../signals.js';

type ExporterArgs = ParsedArgs<(typeof COMMANDS)['exporter']['options']>;

/** Where `exporter` and `server --metrics` listen by default. */
const DEFAULT_EXPORTER_LISTEN = '127.0.0.1:9470';

/** How long one job server may take to answer a scrape, by default, in ms. */
export const DEFAULT_SCRAPE_TIMEOUT = 5000;

/**
 * `gearmanode exporter`: serves `/metrics` for Prometheus until SIGINT or SIGTERM. Prints
 * `gearmanode exporter listening on http://127.0.0.1:9470/metrics` once it accepts requests.
 */
export async function exporter(args: ExporterArgs, io: CliIO): Promise<ExitCode> {
  const { values } = args;
  expectPositionals('exporter', args.positionals, []);
  const listen = parseListen(values.listen ?? DEFAULT_EXPORTER_LISTEN, '--listen', 'exporter');
  const timeout =
    values.timeout === undefined
      ? DEFAULT_SCRAPE_TIMEOUT
      : parseDuration(values.timeout, '--timeout', 'exporter');
  const servers = resolveServers(values.servers, io.env);
  const running = await startExporter({ listen, servers, timeout: Math.max(1, timeout) });
  const stopped = untilSignal(io);
  io.stdout.write(`gearmanode exporter listening on ${running.url}\n`);
  warnIfExposed(listen, io);
  await stopped;
  await running.close();
  return EXIT.OK;
}

/** Says so on stderr when an endpoint without authentication listens beyond loopback. */
export function warnIfExposed(listen: ListenAddress, io: CliIO): void {
  if (isLoopback(listen.host)) return;
  io.stderr.write(
    `gearmanode: warning: listening on ${listen.host}, not loopback; the endpoint has no authentication\n`,
  );
}
