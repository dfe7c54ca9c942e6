import type { ServerResponse } from 'node:http';
import { COMMON_HEADERS, startHttp } from '../metrics/http.js';
import type { ListenAddress } from '../metrics/listen.js';
import { createScraper, type FunctionMetrics, type ServerScrape } from '../metrics/scrape.js';
import { PAGE_CSS, PAGE_HTML, PAGE_JS } from './assets.js';

/** One server as the page shows it. */
export interface DashboardServer {
  readonly server: string;
  readonly up: boolean;
  /** How long the server took to answer, in ms. */
  readonly durationMs: number;
  readonly error?: string;
  readonly functions: readonly FunctionMetrics[];
  /** Connections with at least one function. */
  readonly workers: readonly {
    readonly fd: number;
    readonly ip: string;
    readonly clientId?: string;
    readonly functions: readonly string[];
  }[];
  /** Every connection the server listed. */
  readonly connections: number;
}

/** What one refresh sends to the page (`update` events; `snapshot` adds `history`). */
export interface DashboardState {
  /** When the refresh finished, in ms since the epoch. */
  readonly at: number;
  readonly servers: readonly DashboardServer[];
  /** How many samples a sparkline holds. */
  readonly historyLength: number;
  /** Queued jobs per `server + '\n' + function`, oldest first; in `snapshot` only. */
  readonly history?: Readonly<Record<string, readonly number[]>>;
}

/** Options of `startDashboard`. */
export interface DashboardOptions {
  readonly listen: ListenAddress;
  readonly servers: readonly string[];
  /** Time between refreshes, in ms. */
  readonly interval: number;
  /** How long one server may take per refresh, in ms. */
  readonly timeout: number;
  /** Samples per sparkline. @default 120 */
  readonly historyLength?: number;
}

/** A running dashboard. */
export interface Dashboard {
  /** The page's URL, with a trailing slash. */
  readonly url: string;
  /** Stops refreshing, ends the event streams and stops serving. */
  close(): Promise<void>;
}

const HEARTBEAT = 15_000; // an SSE comment, so proxies and browsers keep an idle stream open

const ASSET_HEADERS = {
  ...COMMON_HEADERS,
  // Everything comes from this origin; the script builds the page with DOM calls only.
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'referrer-policy': 'no-referrer',
};

/**
 * Serves the live dashboard: `/` (the page), `/dashboard.js`, `/dashboard.css`, `/events`
 * (server-sent events: one `snapshot` with the sparkline history on connect, then an `update`
 * per refresh) and `/snapshot` (the current state with history, as JSON). The servers are
 * refreshed every `interval`, whether or not a page is open, so a page opened later still has
 * a history to draw.
 * @throws CliError when the address cannot be bound.
 */
export async function startDashboard(options: DashboardOptions): Promise<Dashboard> {
  const historyLength = options.historyLength ?? 120;
  const scraper = createScraper({ servers: options.servers, timeout: options.timeout });
  const history = new Map<string, number[]>();
  const clients = new Set<ServerResponse>();
  let state: DashboardState | undefined;
  let closed = false;
  let timer: NodeJS.Timeout | undefined;

  const withHistory = (current: DashboardState): DashboardState => ({
    ...current,
    history: Object.fromEntries(history),
  });

  const record = (scrapes: readonly ServerScrape[]): void => {
    const seen = new Set<string>();
    for (const scrape of scrapes) {
      if (!scrape.up) {
        // A server that did not answer keeps its history as it was: the gap is the outage.
        for (const key of history.keys()) if (key.startsWith(`${scrape.server}\n`)) seen.add(key);
        continue;
      }
      for (const row of scrape.functions) {
        const key = `${scrape.server}\n${row.functionName}`;
        const samples = history.get(key) ?? [];
        samples.push(row.queued);
        if (samples.length > historyLength) samples.splice(0, samples.length - historyLength);
        history.set(key, samples);
        seen.add(key);
      }
    }
    for (const key of history.keys()) if (!seen.has(key)) history.delete(key);
  };

  const refresh = async (): Promise<void> => {
    const started = Date.now();
    const scrapes = await scraper.scrape();
    if (closed) return;
    record(scrapes);
    state = { at: Date.now(), servers: scrapes.map(toDashboardServer), historyLength };
    const event = `event: update\ndata: ${JSON.stringify(state)}\n\n`;
    for (const client of clients) client.write(event);
    timer = setTimeout(
      () => void refresh(),
      Math.max(0, options.interval - (Date.now() - started)),
    );
  };

  const heartbeat = setInterval(() => {
    for (const client of clients) client.write(': keep-alive\n\n');
  }, HEARTBEAT);
  heartbeat.unref();

  const asset =
    (type: string, body: string) =>
    (_request: unknown, response: ServerResponse): void => {
      const bytes = Buffer.from(body);
      response.writeHead(200, {
        ...ASSET_HEADERS,
        'content-type': `${type}; charset=utf-8`,
        'content-length': bytes.length,
      });
      response.end(bytes);
    };

  let endpoint: Awaited<ReturnType<typeof startHttp>>;
  try {
    endpoint = await startHttp(options.listen, {
      '/': asset('text/html', PAGE_HTML),
      '/index.html': asset('text/html', PAGE_HTML),
      '/dashboard.js': asset('text/javascript', PAGE_JS),
      '/dashboard.css': asset('text/css', PAGE_CSS),
      '/snapshot': (_request, response) => {
        const body = Buffer.from(
          `${JSON.stringify(state === undefined ? null : withHistory(state))}\n`,
        );
        response.writeHead(200, {
          ...COMMON_HEADERS,
          'content-type': 'application/json; charset=utf-8',
          'content-length': body.length,
        });
        response.end(body);
      },
      '/events': (request, response) => {
        response.writeHead(200, {
          ...COMMON_HEADERS,
          'content-type': 'text/event-stream; charset=utf-8',
          connection: 'keep-alive',
        });
        if (request.method === 'HEAD') {
          response.end();
          return;
        }
        response.write('retry: 2000\n\n');
        if (state !== undefined) {
          response.write(`event: snapshot\ndata: ${JSON.stringify(withHistory(state))}\n\n`);
        }
        clients.add(response);
        response.on('close', () => clients.delete(response));
      },
    });
  } catch (error) {
    clearInterval(heartbeat);
    scraper.close();
    throw error;
  }
  void refresh();

  return {
    url: `${endpoint.url}/`,
    async close() {
      closed = true;
      clearTimeout(timer);
      clearInterval(heartbeat);
      for (const client of clients) client.end();
      clients.clear();
      await endpoint.close();
      scraper.close();
    },
  };
}

function toDashboardServer(scrape: ServerScrape): DashboardServer {
  return {
    server: scrape.server,
    up: scrape.up,
    durationMs: Math.round(scrape.durationSeconds * 10_000) / 10,
    ...(scrape.error === undefined ? {} : { error: scrape.error }),
    functions: scrape.functions,
    workers: scrape.connections
      .filter((connection) => connection.functions.length > 0)
      .map((connection) => ({
        fd: connection.fd,
        ip: connection.ip,
        ...(typeof connection.clientId === 'string' ? { clientId: connection.clientId } : {}),
        functions: connection.functions,
      })),
    connections: scrape.connections.length,
  };
}
