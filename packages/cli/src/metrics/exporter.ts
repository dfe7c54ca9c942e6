import { COMMON_HEADERS, startHttp } from './http.js';
import type { ListenAddress } from './listen.js';
import { createMetricsRegistry } from './registry.js';
import { createScraper, type ServerScrape } from './scrape.js';

/** Options of `startExporter`. */
export interface ExporterOptions {
  readonly listen: ListenAddress;
  /** `host:port` of each job server to scrape. */
  readonly servers: readonly string[];
  /** How long one server may take per scrape, in ms. */
  readonly timeout: number;
}

/** A running exporter. */
export interface Exporter {
  /** The `/metrics` URL. */
  readonly url: string;
  /** Stops serving and closes the admin connections. */
  close(): Promise<void>;
}

/** The path Prometheus scrapes. */
const METRICS_PATH = '/metrics';

/**
 * Serves `/metrics` in the Prometheus text format. Every scrape asks every job server for
 * `status`, `prioritystatus` and `workers` at once (requests that arrive during a scrape share
 * it), so the figures are never older than the request. `/` links to `/metrics`.
 * @throws CliError when the address cannot be bound.
 */
export async function startExporter(options: ExporterOptions): Promise<Exporter> {
  const scraper = createScraper({ servers: options.servers, timeout: options.timeout });
  const metrics = createMetricsRegistry();
  let inFlight: Promise<string> | undefined;
  const render = (): Promise<string> => {
    inFlight ??= scraper
      .scrape()
      .then((scrapes: ServerScrape[]) => {
        metrics.update(scrapes);
        return metrics.registry.metrics();
      })
      .finally(() => {
        inFlight = undefined;
      });
    return inFlight;
  };
  let endpoint: Awaited<ReturnType<typeof startHttp>>;
  try {
    endpoint = await startHttp(options.listen, {
      [METRICS_PATH]: async (request, response) => {
        // HEAD gets the headers without a scrape: it is how a load balancer checks liveness.
        const body = request.method === 'HEAD' ? '' : await render();
        response.writeHead(200, {
          'content-type': metrics.registry.contentType,
          ...COMMON_HEADERS,
        });
        response.end(body);
      },
      '/': (_request, response) => {
        const html = `<!doctype html><title>gearmanode exporter</title><p><a href="${METRICS_PATH}">${METRICS_PATH}</a></p>\n`;
        response.writeHead(200, {
          'content-type': 'text/html; charset=utf-8',
          ...COMMON_HEADERS,
        });
        response.end(html);
      },
    });
  } catch (error) {
    scraper.close();
    throw error;
  }
  return {
    url: `${endpoint.url}${METRICS_PATH}`,
    async close() {
      await endpoint.close();
      scraper.close();
    },
  };
}
