import { Buffer } from 'node:buffer';
import {
  createServer,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  type ServerResponse,
} from 'node:http';
import { CliError, EXIT } from '../errors.js';
import { httpUrl, isLoopback, type ListenAddress } from './listen.js';

/** Answers one GET or HEAD request for a path; a rejection becomes a 500. */
export type Route = (request: IncomingMessage, response: ServerResponse) => void | Promise<void>;

/** A read-only HTTP endpoint. */
export interface HttpEndpoint {
  /** The address bound (the real port when 0 was asked for). */
  readonly address: ListenAddress;
  /** `http://host:port`, without a trailing slash. */
  readonly url: string;
  /** Stops listening and ends every open response (event streams too). */
  close(): Promise<void>;
}

/** Headers every response carries. */
export const COMMON_HEADERS: OutgoingHttpHeaders = {
  'x-content-type-options': 'nosniff',
  'cache-control': 'no-store',
};

/**
 * Serves `routes` (by exact path) on `listen`. The endpoints only read: any method but GET and
 * HEAD gets 405, any other path 404. On a loopback address, a request naming another host in
 * `Host` gets 403, so a web page elsewhere cannot reach the endpoint through a DNS name it
 * points at 127.0.0.1 (DNS rebinding).
 * @throws CliError (exit 1) when the address cannot be bound, e.g. EADDRINUSE.
 */
export async function startHttp(
  listen: ListenAddress,
  routes: Readonly<Record<string, Route>>,
): Promise<HttpEndpoint> {
  const loopback = isLoopback(listen.host);
  const server = createServer((request, response) => {
    const route = pick(request, response, routes, loopback);
    if (route === undefined) return;
    Promise.resolve()
      .then(() => route(request, response))
      .catch((error: unknown) => {
        // The route's own failure: the client gets a 500, the endpoint keeps serving.
        if (!response.headersSent) {
          send(response, 500, `internal error: ${String(error)}\n`);
        } else {
          response.destroy();
        }
      });
  });
  // A scraper that never reads its response must not hold a socket for ever.
  server.requestTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      const where = httpUrl(listen).slice('http://'.length);
      reject(
        new CliError(EXIT.ERROR, `cannot listen on ${where}: ${error.code ?? error.message}`, {
          cause: error,
        }),
      );
    });
    server.listen(listen.port, listen.host, () => resolve());
  });
  const bound = server.address();
  const address =
    bound !== null && typeof bound === 'object' ? { host: listen.host, port: bound.port } : listen;
  return {
    address,
    url: httpUrl(address),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function pick(
  request: IncomingMessage,
  response: ServerResponse,
  routes: Readonly<Record<string, Route>>,
  loopback: boolean,
): Route | undefined {
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    send(response, 405, 'method not allowed: only GET and HEAD\n', { allow: 'GET, HEAD' });
    return undefined;
  }
  if (loopback && !isLoopbackHost(request.headers.host)) {
    send(response, 403, 'forbidden: the Host header must name a loopback address\n');
    return undefined;
  }
  const path = (request.url ?? '/').split('?')[0] ?? '/';
  const route = Object.hasOwn(routes, path) ? routes[path] : undefined;
  if (route === undefined) send(response, 404, 'not found\n');
  return route;
}

// The host part of a Host header: `127.0.0.1:9470`, `[::1]:9470`, `localhost`.
function isLoopbackHost(header: string | undefined): boolean {
  if (header === undefined) return true; // HTTP/1.0 without Host: nothing to rebind
  const host = /^\[([^\]]+)\]/.exec(header)?.[1] ?? header.replace(/:\d+$/, '');
  return host.toLowerCase() === 'localhost' || isLoopback(host);
}

/** Writes a whole plain-text response (Node leaves the body out for HEAD). */
function send(
  response: ServerResponse,
  status: number,
  body: string | Buffer,
  headers: OutgoingHttpHeaders = {},
): void {
  const bytes = typeof body === 'string' ? Buffer.from(body) : body;
  response.writeHead(status, {
    ...COMMON_HEADERS,
    'content-type': 'text/plain; charset=utf-8',
    'content-length': bytes.length,
    ...headers,
  });
  response.end(bytes);
}
