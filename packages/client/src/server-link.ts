import {
  Connection,
  type ConnectionOptions,
  formatAddress,
  type ServerAddress,
} from '@gearmanode/core';
import { ConnectionError } from '@gearmanode/protocol';
import { JobTable } from './job-table.js';
import { fnv1a, type PoolMember } from './pool.js';

/**
 * The client's link to one job server: its connection (replaced when one gives up), the jobs
 * created on the current socket, and its health for the pool.
 */
export class ServerLink implements PoolMember {
  readonly name: string;
  readonly seed: number;
  downUntil = 0;
  connection: Connection;
  /** Created foreground jobs of the current socket, by handle. */
  readonly jobs = new JobTable();
  /** Reports the outcome of the first connect attempt to an eager `createClient`. */
  firstAttempt: ((error: Error | undefined) => void) | undefined;
  readonly #options: (link: ServerLink) => ConnectionOptions;

  /** `options` gives the options of each connection the link opens. */
  constructor(address: ServerAddress, options: (link: ServerLink) => ConnectionOptions) {
    this.name = formatAddress(address);
    this.seed = fnv1a(this.name);
    this.#options = options;
    this.connection = new Connection(options(this));
  }

  /** The server owes replies and has been silent for `suspectAfter` ms. */
  get suspect(): boolean {
    return this.connection.suspect;
  }

  /** Submits holding one of the client's `maxInFlight` slots here: sent, or created and running. */
  holding = 0;

  /** Skips the server for `recoverTime` ms (at least one, so a dispatch in the same tick does). */
  markDown(recoverTime: number): void {
    this.downUntil = Date.now() + Math.max(1, recoverTime);
  }

  /**
   * The link's connection, replaced when the old one gave up. With `reconnect: false` a lost
   * connection stays lost.
   * @throws ConnectionError (`maybeRan: false`) in that case.
   */
  live(): Connection {
    if (this.connection.state === 'closed') {
      const options = this.#options(this);
      if (options.reconnect === false) {
        throw new ConnectionError(`connection to ${this.name} was lost and reconnect is off`, {
          maybeRan: false,
          server: this.name,
        });
      }
      this.connection = new Connection(options);
    }
    return this.connection;
  }
}
