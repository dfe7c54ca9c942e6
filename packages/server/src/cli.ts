#!/usr/bin/env node
import type { Buffer } from 'node:buffer';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { DEFAULT_MAX_PACKET_SIZE } from '@gearmanode/protocol';
import { isGearmanError } from './errors.js';
import { DEFAULT_HOST, DEFAULT_PORT, type ServerLogger, type ServerTlsOptions } from './options.js';
import { createServer } from './server.js';
import { VERSION } from './version.js';

const USAGE = `Usage: gearmanode-server [options]

A Gearman job server. Jobs live in memory, unless --store keeps background jobs in a file.

Options:
  --host <address>          address to listen on (default ${DEFAULT_HOST})
  --port <port>             TCP port, 0 for any free port (default ${DEFAULT_PORT})
  --job-retries <n>         fail a job after its worker was lost n times (default 0: never)
  --handle-prefix <prefix>  job handles are <prefix>:<n> (default H:<hostname>)
  --max-packet-size <bytes> largest packet body accepted (default ${DEFAULT_MAX_PACKET_SIZE})
  --max-queue <n>           queue limit per function and priority (default 0: unlimited)
  --store sqlite:<path>     keep background jobs in this SQLite file, in gearmand's
                            libsqlite3 format (needs Node.js 22.13 or later)
  --store-table <name>      the store's table (default gearman_queue)
  --tls-cert <file>         serve TLS with this PEM certificate (chain); needs --tls-key
  --tls-key <file>          the PEM private key of --tls-cert
  --tls-ca <file>           require client certificates signed by these PEM CAs
  --shutdown-timeout <ms>   how long SIGINT/SIGTERM wait for running jobs (default 30000)
  --verbose                 log every connection
  -h, --help                show this help
  -V, --version             show the version

SIGINT or SIGTERM waits for running jobs, then exits; a second signal exits at once.
`;

function integer(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value))
    throw new Error(`--${name} must be a non-negative integer, got ${value}`);
  return Number(value);
}

/** Reads the PEM files of --tls-cert, --tls-key and --tls-ca; undefined without TLS. */
function tlsOptions(
  cert: string | undefined,
  key: string | undefined,
  ca: string | undefined,
): ServerTlsOptions | undefined {
  if (cert === undefined && key === undefined && ca === undefined) return undefined;
  if (cert === undefined || key === undefined) {
    throw new Error('--tls-cert and --tls-key go together (and --tls-ca needs both)');
  }
  const read = (flag: string, path: string): Buffer => {
    try {
      return readFileSync(path);
    } catch (error) {
      throw new Error(`${flag}: cannot read ${path}: ${(error as Error).message}`);
    }
  };
  return {
    cert: read('--tls-cert', cert),
    key: read('--tls-key', key),
    ...(ca !== undefined ? { ca: read('--tls-ca', ca), requestCert: true } : {}),
  };
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      host: { type: 'string' },
      port: { type: 'string' },
      'job-retries': { type: 'string' },
      'handle-prefix': { type: 'string' },
      'max-packet-size': { type: 'string' },
      'max-queue': { type: 'string' },
      store: { type: 'string' },
      'store-table': { type: 'string' },
      'tls-cert': { type: 'string' },
      'tls-key': { type: 'string' },
      'tls-ca': { type: 'string' },
      'shutdown-timeout': { type: 'string' },
      verbose: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
      version: { type: 'boolean', short: 'V' },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (values.version) {
    process.stdout.write(`${VERSION}\n`);
    return 0;
  }
  const stamp = (): string => new Date().toISOString();
  const logger: ServerLogger = {
    error: (message) => console.error(`${stamp()} ERROR ${message}`),
    warn: (message) => console.error(`${stamp()} WARN ${message}`),
    info: (message) => console.error(`${stamp()} INFO ${message}`),
    ...(values.verbose
      ? { debug: (message: string) => console.error(`${stamp()} DEBUG ${message}`) }
      : {}),
  };
  const shutdownTimeout = integer('shutdown-timeout', values['shutdown-timeout']) ?? 30_000;
  const tls = tlsOptions(values['tls-cert'], values['tls-key'], values['tls-ca']);
  const server = await createServer({
    host: values.host ?? DEFAULT_HOST,
    port: integer('port', values.port) ?? DEFAULT_PORT,
    jobRetries: integer('job-retries', values['job-retries']) ?? 0,
    ...(values['handle-prefix'] !== undefined ? { handlePrefix: values['handle-prefix'] } : {}),
    maxPacketSize: integer('max-packet-size', values['max-packet-size']) ?? DEFAULT_MAX_PACKET_SIZE,
    maxQueue: integer('max-queue', values['max-queue']) ?? 0,
    ...(values.store !== undefined ? { store: values.store } : {}),
    ...(values['store-table'] !== undefined ? { storeTable: values['store-table'] } : {}),
    ...(tls !== undefined ? { tls } : {}),
    logger,
  });
  const { host, port } = server.address;
  process.stdout.write(
    `gearmanode-server ${VERSION} listening on ${host.includes(':') ? `[${host}]` : host}:${port}\n`,
  );

  // The CLI owns the process, so it may install signal handlers (the library never does).
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    signals++;
    if (signals === 1) {
      logger.info(`${signal}: waiting up to ${shutdownTimeout} ms for running jobs`);
      void server.close({ graceful: true, timeout: shutdownTimeout });
    } else {
      logger.info(`${signal} again: closing now`);
      void server.close();
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  await server.closed;
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    const message = isGearmanError(error) || error instanceof Error ? error.message : String(error);
    process.stderr.write(`gearmanode-server: ${message}\n`);
    if (isGearmanError(error) && error.code === 'ERR_STORE') {
      // Not a usage problem: the store's file, or this Node.js.
      process.exitCode = 1;
      return;
    }
    if (!isGearmanError(error) && !(error instanceof TypeError) && error instanceof Error) {
      // parseArgs and listen errors carry a code worth showing (ERR_PARSE_ARGS_*, EADDRINUSE).
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== undefined && !message.includes(code)) process.stderr.write(`(${code})\n`);
    }
    process.stderr.write('Run gearmanode-server --help for usage.\n');
    process.exitCode = 2;
  },
);
