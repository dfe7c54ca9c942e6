import { createServer, type Server, type Socket } from 'node:net';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { encodePacket, type Packet, PacketDecoder, type PacketInit } from '@gearmanode/protocol';
import { type AddJobOptions, type FakeJob, JobBoard } from './fake-jobs.js';

export type { AddJobOptions, FakeJob } from './fake-jobs.js';

/**
 * A scripted job server on 127.0.0.1 for what gearmand will not do on demand: split writes,
 * stray replies, absurd size fields, silence, dropped sockets, ERROR packets, a worker side that
 * spins or holds jobs back. It speaks the binary protocol through `@gearmanode/protocol`; a
 * script decides per packet, and anything it leaves alone gets the default answer of a small
 * job server: submits are queued and handed to workers (GRAB, PRE_SLEEP/NOOP, CAN_DO), and their
 * WORK_* packets go back to the submitting client (see `#defaultReply`).
 *
 * @example
 * await using fake = await startFakeServer({
 *   onPacket(packet, connection) {
 *     if (packet.type !== 'SUBMIT_JOB') return false; // default answer
 *     connection.destroy(); // drop the socket mid-job
 *     return true;
 *   },
 * });
 */
export interface FakeServer extends AsyncDisposable {
  readonly host: string;
  readonly port: number;
  /** `host:port`, as a client's `servers` entry. */
  readonly address: string;
  /** Every connection accepted so far, in order, closed ones included. */
  readonly connections: readonly FakeConnection[];
  /** Every packet received on any connection, in order. */
  readonly received: readonly Packet[];
  /** Resolves with the first received packet (past or future) that matches. */
  waitForPacket(
    match: Packet['type'] | ((packet: Packet) => boolean),
    timeout?: number,
  ): Promise<{ packet: Packet; connection: FakeConnection }>;
  /** Resolves once `count` connections have been accepted. */
  waitForConnections(count: number, timeout?: number): Promise<void>;
  /** Stops listening and destroys every connection. */
  close(): Promise<void>;

  // The worker side: a queue of jobs handed out as gearmand does (protocol.md section 5).

  /** Jobs waiting to be grabbed, oldest first. */
  readonly queue: readonly FakeJob[];
  /** Jobs by handle, including finished ones. */
  readonly jobs: ReadonlyMap<string, FakeJob>;
  /** The WORK_* packets workers sent for each job, by handle. */
  readonly results: ReadonlyMap<string, Packet[]>;
  /** Answer every PRE_SLEEP with NOOP although GRAB finds nothing (section 11, item 26). */
  spin: boolean;
  /**
   * Packet types answered with ERROR `server_error`, as Perl's Gearman::Server answers
   * GRAB_JOB_UNIQ and GRAB_JOB_ALL, which it does not know.
   */
  readonly refuse: Set<Packet['type']>;
  /** Keep a job held after WORK_EXCEPTION until WORK_FAIL, as Perl's Gearman::Server does. */
  exceptionNotFinal: boolean;
  /** Live connections that registered at least one function. */
  readonly workers: readonly FakeConnection[];
  /** Queues a job and wakes sleeping workers of its function, as gearmand does. */
  addJob(name: string, payload?: Uint8Array | string, options?: AddJobOptions): string;
  /** Makes hidden jobs available without waking anyone (an epoch job falling due). */
  release(): void;
  /** Jobs assigned to `connection` (or to anyone) and not finished yet. */
  held(connection?: FakeConnection): FakeJob[];
  /** Packets of a type received so far, on every connection. */
  count(type: Packet['type']): number;
  /** Resolves once `predicate` holds, polling every 5 ms (for state outside the server too). */
  until(predicate: () => boolean, timeout?: number, what?: string): Promise<void>;
  /** Destroys every socket (jobs they held go back to the queue) but keeps listening. */
  dropAll(): void;
}

/** One accepted connection. */
export interface FakeConnection {
  /** 1 for the first connection accepted, and so on. */
  readonly id: number;
  readonly socket: Socket;
  /** Functions registered with CAN_DO, in order (CANT_DO removes them). */
  readonly functions: string[];
  /** The SET_CLIENT_ID sent last. */
  clientId: string | undefined;
  /** Sent PRE_SLEEP and waits for a NOOP. */
  sleeping: boolean;
  /** Packets received on this connection. */
  readonly received: readonly Packet[];
  readonly closed: boolean;
  /** Encodes `packet` as a server packet (`\0RES`) and writes it. */
  send(packet: PacketInit): void;
  /** Writes raw bytes. */
  write(bytes: Uint8Array | string): void;
  /** Writes `bytes` in pieces of `size` bytes, yielding to the event loop between pieces. */
  writeSplit(bytes: Uint8Array, size?: number): Promise<void>;
  /** Encodes a server packet without writing it, e.g. for `writeSplit`. */
  encode(packet: PacketInit): Buffer;
  /** Destroys the socket at once (no FIN handshake wait). */
  destroy(): void;
}

/** A script: return true when it handled the packet, false or nothing for the default answer. */
export type FakeScript = (
  packet: Packet,
  connection: FakeConnection,
  server: FakeServer,
) => boolean | undefined;

export interface FakeServerOptions {
  /** The port to listen on. @default a free one */
  port?: number;
  onPacket?: FakeScript;
  /** Called for each accepted connection, before any packet. */
  onConnection?: (connection: FakeConnection) => void;
}

/** Starts a fake server on a free port of 127.0.0.1. */
export async function startFakeServer(options: FakeServerOptions = {}): Promise<FakeServer> {
  const fake = new Fake(options);
  await fake.listen();
  return fake;
}

class Fake implements FakeServer {
  readonly host = '127.0.0.1';
  port = 0;
  readonly connections: FakeConnection[] = [];
  readonly received: Packet[] = [];
  readonly #server: Server;
  readonly #options: FakeServerOptions;
  readonly #watchers = new Set<() => void>();
  readonly #board = new JobBoard(this.connections);
  readonly refuse = new Set<Packet['type']>();

  constructor(options: FakeServerOptions) {
    this.#options = options;
    this.#server = createServer((socket) => this.#accept(socket));
  }

  get address(): string {
    return `${this.host}:${this.port}`;
  }

  listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(this.#options.port ?? 0, this.host, () => {
        const address = this.#server.address();
        if (address !== null && typeof address === 'object') this.port = address.port;
        resolve();
      });
    });
  }

  #accept(socket: Socket): void {
    socket.setNoDelay(true);
    const connection = new FakeSocket(socket, this.connections.length + 1);
    this.connections.push(connection);
    this.#options.onConnection?.(connection);
    const decoder = new PacketDecoder((packet) => {
      connection.received.push(packet);
      this.received.push(packet);
      const handled = this.#options.onPacket?.(packet, connection, this) === true;
      if (handled) {
        // The script answered it.
      } else if (this.refuse.has(packet.type)) {
        connection.send({ type: 'ERROR', code: 'server_error', message: packet.type });
      } else {
        this.#defaultReply(packet, connection);
      }
      this.#notify();
    });
    socket.on('data', (chunk: Buffer) => {
      try {
        decoder.push(chunk);
      } catch {
        // A client that sends garbage is dropped, as gearmand does; tests look at `closed`.
        socket.destroy();
      }
    });
    socket.on('error', () => {
      // Resets from clients that destroy their socket are expected; 'close' follows.
    });
    socket.on('close', () => {
      // PROTOCOL 5.4: the jobs of a lost worker go back to the queue.
      this.#board.requeue((job) => job.holder === connection);
      this.#notify();
    });
    this.#notify();
  }

  /**
   * The default answers: OPTION_RES, ECHO_RES, JOB_CREATED with `H:fake:<n>` for every submit
   * (the job is queued for workers), "unknown" for status requests, and the worker side of
   * gearmand (fake-jobs.ts). Packets without a reply get none.
   */
  #defaultReply(packet: Packet, connection: FakeConnection): void {
    switch (packet.type) {
      case 'OPTION_REQ':
        connection.send({ type: 'OPTION_RES', option: packet.option });
        return;
      case 'ECHO_REQ':
        connection.send({ type: 'ECHO_RES', payload: packet.payload });
        return;
      case 'SUBMIT_JOB':
      case 'SUBMIT_JOB_BG':
      case 'SUBMIT_JOB_HIGH':
      case 'SUBMIT_JOB_HIGH_BG':
      case 'SUBMIT_JOB_LOW':
      case 'SUBMIT_JOB_LOW_BG':
      case 'SUBMIT_JOB_EPOCH':
      case 'SUBMIT_REDUCE_JOB':
      case 'SUBMIT_REDUCE_JOB_BACKGROUND':
        connection.send({ type: 'JOB_CREATED', handle: this.#board.submit(packet, connection) });
        return;
      case 'GET_STATUS':
        connection.send({
          type: 'STATUS_RES',
          handle: packet.handle,
          known: false,
          running: false,
          numerator: 0,
          denominator: 0,
        });
        return;
      case 'GET_STATUS_UNIQUE':
        connection.send({
          type: 'STATUS_RES_UNIQUE',
          unique: packet.unique,
          known: false,
          running: false,
          numerator: 0,
          denominator: 0,
          waitingClients: 0,
        });
        return;
      default:
        this.#board.answer(packet, connection);
        return;
    }
  }

  get queue(): readonly FakeJob[] {
    return this.#board.queue;
  }

  get jobs(): ReadonlyMap<string, FakeJob> {
    return this.#board.jobs;
  }

  get results(): ReadonlyMap<string, Packet[]> {
    return this.#board.results;
  }

  get spin(): boolean {
    return this.#board.spin;
  }

  set spin(spin: boolean) {
    this.#board.spin = spin;
  }

  get exceptionNotFinal(): boolean {
    return this.#board.exceptionNotFinal;
  }

  set exceptionNotFinal(value: boolean) {
    this.#board.exceptionNotFinal = value;
  }

  get workers(): FakeConnection[] {
    return this.#board.workers;
  }

  addJob(name: string, payload: Uint8Array | string = '', options: AddJobOptions = {}): string {
    return this.#board.add(name, Buffer.from(payload), options);
  }

  release(): void {
    this.#board.release();
  }

  held(connection?: FakeConnection): FakeJob[] {
    return this.#board.held(connection);
  }

  count(type: Packet['type']): number {
    let count = 0;
    for (const packet of this.received) if (packet.type === type) count++;
    return count;
  }

  async until(predicate: () => boolean, timeout = 3000, what = 'condition'): Promise<void> {
    const deadline = Date.now() + timeout;
    while (!predicate()) {
      if (Date.now() > deadline)
        throw new Error(`fake server: ${what} not met within ${timeout} ms`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  dropAll(): void {
    for (const connection of this.connections) connection.destroy();
  }

  #notify(): void {
    for (const watcher of [...this.#watchers]) watcher();
  }

  #waitUntil<T>(check: () => T | undefined, timeout: number, what: string): Promise<T> {
    return new Promise((resolve, reject) => {
      const watcher = (): void => {
        const value = check();
        if (value === undefined) return;
        clearTimeout(timer);
        this.#watchers.delete(watcher);
        resolve(value);
      };
      const timer = setTimeout(() => {
        this.#watchers.delete(watcher);
        reject(new Error(`fake server: ${what} not seen within ${timeout} ms`));
      }, timeout);
      this.#watchers.add(watcher);
      watcher();
    });
  }

  waitForPacket(
    match: Packet['type'] | ((packet: Packet) => boolean),
    timeout = 5000,
  ): Promise<{ packet: Packet; connection: FakeConnection }> {
    const test = typeof match === 'string' ? (p: Packet) => p.type === match : match;
    return this.#waitUntil(
      () => {
        for (const connection of this.connections) {
          const packet = connection.received.find(test);
          if (packet !== undefined) return { packet, connection };
        }
        return undefined;
      },
      timeout,
      typeof match === 'string' ? match : 'matching packet',
    );
  }

  waitForConnections(count: number, timeout = 5000): Promise<void> {
    return this.#waitUntil(
      () => (this.connections.length >= count ? true : undefined),
      timeout,
      `${count} connections`,
    ).then(() => undefined);
  }

  close(): Promise<void> {
    this.dropAll();
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

class FakeSocket implements FakeConnection {
  readonly id: number;
  readonly socket: Socket;
  readonly received: Packet[] = [];
  readonly functions: string[] = [];
  clientId: string | undefined;
  sleeping = false;

  constructor(socket: Socket, id: number) {
    this.socket = socket;
    this.id = id;
  }

  get closed(): boolean {
    return this.socket.destroyed;
  }

  encode(packet: PacketInit): Buffer {
    const type = packet.type;
    const relayed = type.startsWith('WORK_');
    return encodePacket(packet, relayed ? { magic: 'RES' } : undefined);
  }

  send(packet: PacketInit): void {
    this.write(this.encode(packet));
  }

  write(bytes: Uint8Array | string): void {
    if (!this.socket.destroyed) this.socket.write(bytes);
  }

  async writeSplit(bytes: Uint8Array, size = 1): Promise<void> {
    for (let offset = 0; offset < bytes.length; offset += size) {
      this.write(bytes.subarray(offset, offset + size));
      await nextTurn();
    }
  }

  destroy(): void {
    this.socket.destroy();
  }
}
