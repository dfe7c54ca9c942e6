import { Buffer } from 'node:buffer';
import { checkPayload, checkTimeout, describe } from '@gearmanode/core';
import {
  ClosedError,
  checkClientId,
  type GearmanError,
  InvalidArgumentError,
  ownPayload,
  type Packet,
  type PacketInit,
} from '@gearmanode/protocol';
import { type ClientCounts, countError } from './client-stats.js';
import type { ClientState, JobStatus, UniqueJobStatus } from './client-types.js';
import { mergeStatus, statusRequest } from './job-status.js';
import type { Payload, RequestOptions } from './options.js';
import type { ServerPool } from './pool.js';
import { PendingRequest } from './request.js';
import type { ServerLink } from './server-link.js';

/**
 * The client's requests besides submits: GET_STATUS(_UNIQUE) and ECHO_REQ with a reply each,
 * and SET_CLIENT_ID, sent on every connection and again on each new socket.
 */
export class ServerRequests {
  /** Requests awaiting their reply. */
  pending = 0;
  /** Called after each settled request while `close()` waits for the client to go idle. */
  onSettled: (() => void) | undefined;
  /** The id each new socket sends first (SET_CLIENT_ID), if any. */
  clientId: string | undefined;
  readonly #client: { readonly state: ClientState };
  readonly #links: readonly ServerLink[];
  readonly #pool: ServerPool<ServerLink>;
  readonly #counts: ClientCounts;

  constructor(
    client: { readonly state: ClientState },
    links: readonly ServerLink[],
    pool: ServerPool<ServerLink>,
    counts: ClientCounts,
    clientId: string | undefined,
  ) {
    this.#client = client;
    this.#links = links;
    this.#pool = pool;
    this.#counts = counts;
    this.clientId = clientId;
  }

  /** `Client.getStatus()`. */
  async getStatus(
    query: string | { unique: string },
    options: RequestOptions | undefined,
  ): Promise<JobStatus | UniqueJobStatus> {
    const { packet, unique } = statusRequest(query);
    const links = this.#targets(options, unique);
    const answers = await Promise.allSettled(links.map((link) => this.#ask(link, packet, options)));
    return mergeStatus(answers);
  }

  /** `Client.echo()`. */
  async echo(payload: Payload, options: RequestOptions | undefined): Promise<Buffer> {
    checkPayload(payload);
    const [link] = this.#targets(options, undefined);
    const reply = await this.#ask(link as ServerLink, { type: 'ECHO_REQ', payload }, options);
    return reply.type === 'ECHO_RES' ? ownPayload(reply.payload) : Buffer.alloc(0);
  }

  /** `Client.setClientId()`. */
  setClientId(id: string): void {
    this.#assertOpen();
    this.clientId = checkClientId(id, 'id');
    for (const link of this.#links) {
      // Not connected now: the connection's setup sends the id once it is.
      link.connection.send({ type: 'SET_CLIENT_ID', clientId: id });
    }
  }

  /**
   * The servers to ask: the named one, every one for handles (`unique` ''), the unique's
   * preference order for uniques, or the strategy's next one (`unique` undefined).
   */
  #targets(options: RequestOptions | undefined, unique: string | undefined): ServerLink[] {
    this.#assertOpen();
    const server = options?.server;
    if (server !== undefined) {
      const link = this.#links.find((candidate) => candidate.name === server);
      if (link === undefined) {
        throw new InvalidArgumentError('server', `${describe(server)} is not a configured server`);
      }
      return [link];
    }
    if (unique === undefined) return this.#pool.order('').slice(0, 1);
    if (unique === '') return this.#links.slice();
    return this.#pool.order(unique);
  }

  #ask(link: ServerLink, packet: PacketInit, options: RequestOptions | undefined): Promise<Packet> {
    const timeout = checkTimeout(options?.timeout, 'timeout', 0);
    const signal = options?.signal;
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<Packet>((resolve, reject) => {
      this.pending++;
      const request = new PendingRequest(
        `${packet.type} to ${link.name}`,
        resolve,
        (error: unknown) => {
          countError(this.#counts, error);
          reject(error);
        },
        timeout,
        signal,
        () => {
          this.pending--;
          if (this.onSettled !== undefined) this.onSettled();
        },
      );
      try {
        link.live().request(packet, request);
      } catch (error) {
        request.onError(error as GearmanError);
      }
    });
  }

  #assertOpen(): void {
    const state = this.#client.state;
    if (state !== 'running') throw new ClosedError(`client is ${state}`);
  }
}
