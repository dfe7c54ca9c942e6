import type { Buffer } from 'node:buffer';
import { readFileSync } from 'node:fs';
import {
  createServer,
  DEFAULT_HOST,
  DEFAULT_PORT,
  type ServerLogger,
  type ServerTlsOptions,
} from '@gearmanode/server';
import { expectPositionals, type ParsedArgs, parseInteger } from '../args.js';
import { CliError, EXIT, type ExitCode, UsageError } from '../errors.js';
import { formatJson } from '../format/json.js';
import type { COMMANDS } from '../help.js';
import type { CliIO } from '../io.js';
import { startExporter } from '../metrics/exporter.js';
import { parseListen } from '../metrics/listen.js';
import { formatHostPort } from '../servers.js';
import { DEFAULT_SCRAPE_TIMEOUT, warnIfExposed } from './exporter.js';

type ServerArgs = ParsedArgs<(typeof COMMANDS)['server']['options']>;

/** How long the first SIGINT/SIGTERM lets running jobs finish, in ms. */
const SERVER_SHUTDOWN_TIMEOUT = 30_000;

/**
 * `gearmanode server`: runs the embedded job server until SIGINT/SIGTERM (graceful: running
 * jobs finish; a second signal closes at once) or the admin command `shutdown`. Prints the
 * address on stdout once listening: `gearmanode server listening on 127.0.0.1:4730`, or
 * `{ "host", "port", "address" }` with `--json`.
 */
export async function server(args: ServerArgs, io: CliIO): Promise<ExitCode> {
  const { values } = args;
  expectPositionals('server', args.positionals, []);
  const port =
    values.port === undefined
      ? DEFAULT_PORT
      : parseInteger(values.port, '--port', { max: 65535, command: 'server' });
  const jobRetries =
    values['job-retries'] === undefined
      ? 0
      : parseInteger(values['job-retries'], '--job-retries', { command: 'server' });
  const maxQueue =
    values['max-queue'] === undefined
      ? 0
      : parseInteger(values['max-queue'], '--max-queue', { command: 'server' });
  const metricsListen =
    values.metrics === undefined ? undefined : parseListen(values.metrics, '--metrics', 'server');
  const log =
    (level: string) =>
    (message: string): void => {
      io.stderr.write(`${new Date().toISOString()} ${level} ${message}\n`);
    };
  // Problems always reach stderr; the lifecycle and per-connection lines only with --verbose.
  const logger: ServerLogger = {
    error: log('ERROR'),
    warn: log('WARN'),
    info: values.verbose === true ? log('INFO') : () => {},
    ...(values.verbose === true ? { debug: log('DEBUG') } : {}),
  };
  const instance = await createServer({
    host: values.host ?? DEFAULT_HOST,
    port,
    jobRetries,
    maxQueue,
    ...(values.store !== undefined ? { store: values.store } : {}),
    ...(values['store-table'] !== undefined ? { storeTable: values['store-table'] } : {}),
    ...tlsOptions(values),
    logger,
  });
  const { host, port: bound } = instance.address;
  const address = formatHostPort(host, bound);
  // The exporter asks the server's own admin interface, as it would ask gearmand.
  let metrics: Awaited<ReturnType<typeof startExporter>> | undefined;
  if (metricsListen !== undefined) {
    try {
      metrics = await startExporter({
        listen: metricsListen,
        servers: [formatHostPort(reachableHost(host), bound)],
        timeout: DEFAULT_SCRAPE_TIMEOUT,
      });
    } catch (error) {
      await instance.close();
      throw error;
    }
  }
  io.stdout.write(
    values.json === true
      ? formatJson({ host, port: bound, address, ...(metrics ? { metrics: metrics.url } : {}) })
      : `gearmanode server listening on ${address}\n${metrics ? `metrics on ${metrics.url}\n` : ''}`,
  );
  if (metricsListen !== undefined) warnIfExposed(metricsListen, io);

  // The CLI owns the process, so it installs the signal handlers (the library never does).
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    signals++;
    if (signals === 1) {
      io.stderr.write(
        `gearmanode: ${signal}: stopping after running jobs (${signal} again stops at once)\n`,
      );
      void instance.close({ graceful: true, timeout: SERVER_SHUTDOWN_TIMEOUT });
    } else {
      void instance.close();
    }
  };
  io.signals.on('SIGINT', onSignal);
  io.signals.on('SIGTERM', onSignal);
  try {
    const cause = await instance.closed;
    if (cause !== undefined) throw cause;
  } finally {
    io.signals.off('SIGINT', onSignal);
    io.signals.off('SIGTERM', onSignal);
    await metrics?.close();
  }
  return EXIT.OK;
}

/** `{ tls }` from --tls-cert, --tls-key and --tls-ca (PEM files), or nothing without TLS. */
function tlsOptions(values: ServerArgs['values']): { tls?: ServerTlsOptions } {
  const { 'tls-cert': cert, 'tls-key': key, 'tls-ca': ca } = values;
  if (cert === undefined && key === undefined && ca === undefined) return {};
  if (cert === undefined || key === undefined) {
    throw new UsageError(
      '--tls-cert and --tls-key go together (and --tls-ca needs both)',
      'server',
    );
  }
  const read = (flag: string, path: string): Buffer => {
    try {
      return readFileSync(path);
    } catch (error) {
      throw new CliError(EXIT.USAGE, `${flag}: cannot read ${path}: ${(error as Error).message}`);
    }
  };
  return {
    tls: {
      cert: read('--tls-cert', cert),
      key: read('--tls-key', key),
      ...(ca !== undefined ? { ca: read('--tls-ca', ca), requestCert: true } : {}),
    },
  };
}

/** An address to connect to for one the server listens on: the wildcard means loopback. */
function reachableHost(host: string): string {
  if (host === '0.0.0.0' || host === '') return '127.0.0.1';
  return host === '::' ? '::1' : host;
}
