import { performance } from 'node:perf_hooks';
import {
  type Admin,
  createAdmin,
  type FunctionPriorityStatus,
  type WorkerInfo,
} from '@gearmanode/client';
import { messageFor } from '../errors.js';

/** One function on one server, from `status` and `prioritystatus`. */
export interface FunctionMetrics {
  readonly functionName: string;
  /** Jobs waiting for a worker (`status` total minus running). */
  readonly queued: number;
  /** Jobs a worker holds. */
  readonly running: number;
  /** Workers registered for the function. */
  readonly workers: number;
  /** Waiting jobs per priority; absent when the server has no `prioritystatus`. */
  readonly priority?: { readonly high: number; readonly normal: number; readonly low: number };
}

/** One server at one scrape. */
export interface ServerScrape {
  readonly server: string;
  /** Whether `status` and `workers` were answered within the timeout. */
  readonly up: boolean;
  /** How long the server took to answer (or to fail), in seconds. */
  readonly durationSeconds: number;
  readonly functions: readonly FunctionMetrics[];
  /** Every connection the server listed: workers, clients and admin connections. */
  readonly connections: readonly WorkerInfo[];
  /** Why the server is down. */
  readonly error?: string;
}

/** Options of `createScraper`. */
export interface ScraperOptions {
  /** `host:port` of each job server. */
  readonly servers: readonly string[];
  /** How long one server may take to connect and answer, in ms. */
  readonly timeout: number;
}

/** Asks job servers for their queues and workers over admin connections kept between scrapes. */
export interface Scraper {
  /** Scrapes every server at once; never rejects: a failing server comes back with `up: false`. */
  scrape(): Promise<ServerScrape[]>;
  /** Closes the admin connections. */
  close(): void;
}

/**
 * A scraper over `servers`. A server that fails or passes the timeout loses its connection and
 * gets a new one at the next scrape, so a frozen server costs each scrape at most `timeout`.
 */
export function createScraper(options: ScraperOptions): Scraper {
  const admins = new Map<string, Promise<Admin>>();
  let closed = false;

  const drop = (server: string): void => {
    const admin = admins.get(server);
    admins.delete(server);
    // A connection still being made is destroyed once made; one that fails has nothing to close.
    admin?.then((connected) => connected.destroy()).catch(() => {});
  };

  const query = async (server: string): Promise<Omit<ServerScrape, 'durationSeconds'>> => {
    let admin = admins.get(server);
    if (admin === undefined) {
      admin = createAdmin({
        server,
        reconnect: false,
        connectTimeout: options.timeout,
        timeout: options.timeout,
      });
      admins.set(server, admin);
    }
    const connected = await admin;
    if (closed) {
      connected.destroy();
      throw new Error('closed');
    }
    const [status, priority, connections] = await Promise.all([
      connected.status(),
      // gearmand before 1.1.16 answers ERR for `prioritystatus`: the server is still up.
      connected.priorityStatus().catch((error: unknown) => {
        if ((error as { code?: unknown }).code === 'ERR_ADMIN') return undefined;
        throw error;
      }),
      connected.workers(),
    ]);
    const byName = new Map<string, FunctionPriorityStatus>();
    for (const row of priority ?? []) byName.set(row.functionName, row);
    const functions = status.map((row): FunctionMetrics => {
      const queues = byName.get(row.functionName);
      return {
        functionName: row.functionName,
        queued: row.queued,
        running: row.running,
        workers: row.availableWorkers,
        ...(queues === undefined
          ? {}
          : { priority: { high: queues.high, normal: queues.normal, low: queues.low } }),
      };
    });
    return { server, up: true, functions, connections };
  };

  const scrapeOne = async (server: string): Promise<ServerScrape> => {
    const started = performance.now();
    const elapsed = (): number => (performance.now() - started) / 1000;
    const attempt = query(server);
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`no answer within ${options.timeout} ms`)),
        options.timeout,
      );
    });
    try {
      const result = await Promise.race([attempt, deadline]);
      return { ...result, durationSeconds: elapsed() };
    } catch (error) {
      // The losing attempt rejects later, once its connection is destroyed: nobody waits for it.
      attempt.catch(() => {});
      drop(server);
      return {
        server,
        up: false,
        durationSeconds: elapsed(),
        functions: [],
        connections: [],
        error: messageFor(error),
      };
    } finally {
      clearTimeout(timer);
    }
  };

  return {
    async scrape() {
      if (closed) return options.servers.map((server) => downAfterClose(server));
      return Promise.all(options.servers.map(scrapeOne));
    },
    close() {
      closed = true;
      for (const server of [...admins.keys()]) drop(server);
    },
  };
}

function downAfterClose(server: string): ServerScrape {
  return {
    server,
    up: false,
    durationSeconds: 0,
    functions: [],
    connections: [],
    error: 'closed',
  };
}
