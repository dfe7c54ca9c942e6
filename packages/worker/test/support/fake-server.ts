import { createServer, type Server, type Socket } from 'node:net';
import { encodePacket, type Packet, PacketDecoder, type PacketInit } from '@gearmanode/protocol';

/** A job as the fake server holds it. */
export interface FakeJob {
  handle: string;
  name: string;
  unique: string;
  reducer: string;
  payload: Buffer;
  /** The connection holding it, or undefined while queued. */
  holder: FakeConnection | undefined;
}

/** One worker connection, as the fake server sees it. */
export interface FakeConnection {
  readonly id: number;
  readonly socket: Socket;
  readonly functions: string[];
  clientId: string | undefined;
  sleeping: boolean;
  /** Every packet received, in order. */
  readonly packets: Packet[];
}

/** A packet from a worker, with the connection it came on and when. */
export interface LoggedPacket {
  connection: number;
  packet: Packet;
  at: number;
}

/**
 * A scripted job server for the worker's unit tests: enough of gearmand's worker side (section
 * 5 of protocol.md) to watch what the worker sends, plus knobs to misbehave: drop sockets, send
 * stray NOOPs, answer PRE_SLEEP with NOOP forever (the spin of section 11, item 26), or hold
 * jobs back without waking anyone (an epoch job falling due).
 */
export class FakeServer {
  readonly #server: Server;
  readonly connections: FakeConnection[] = [];
  readonly queue: FakeJob[] = [];
  readonly log: LoggedPacket[] = [];
  /** Jobs by handle, including finished ones; `results` has what workers sent for each. */
  readonly jobs = new Map<string, FakeJob>();
  readonly results = new Map<string, Packet[]>();
  /** Answer every PRE_SLEEP with NOOP although GRAB finds nothing (section 11, item 26). */
  spin = false;
  /** Jobs in this list are not handed out until `release()` (like a future epoch job). */
  hidden = new Set<string>();
  /**
   * Packet types answered with ERROR `server_error`, as Perl's Gearman::Server answers
   * GRAB_JOB_UNIQ and GRAB_JOB_ALL, which it does not know.
   */
  refuse = new Set<Packet['type']>();
  /** Keep a job held after WORK_EXCEPTION until WORK_FAIL, as Perl's Gearman::Server does. */
  exceptionNotFinal = false;
  #counter = 0;
  #connectionIds = 0;
  port = 0;

  private constructor() {
    this.#server = createServer((socket) => this.#accept(socket));
  }

  static async start(port = 0): Promise<FakeServer> {
    const fake = new FakeServer();
    await new Promise<void>((resolve, reject) => {
      fake.#server.once('error', reject);
      fake.#server.listen(port, '127.0.0.1', () => resolve());
    });
    const address = fake.#server.address();
    if (address === null || typeof address === 'string') throw new Error('no port');
    fake.port = address.port;
    return fake;
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** Live connections that registered at least one function. */
  get workers(): FakeConnection[] {
    return this.connections.filter((c) => !c.socket.destroyed && c.functions.length > 0);
  }

  /** Packets of a type received so far. */
  count(type: Packet['type']): number {
    return this.log.filter((entry) => entry.packet.type === type).length;
  }

  /** Jobs assigned to `connection` and not yet finished. */
  held(connection?: FakeConnection): FakeJob[] {
    return [...this.jobs.values()].filter(
      (job) => job.holder !== undefined && (connection === undefined || job.holder === connection),
    );
  }

  /** Queues a job and wakes sleeping workers of its function, as gearmand does. */
  addJob(
    name: string,
    payload: Uint8Array | string = '',
    options: { unique?: string; reducer?: string; hidden?: boolean } = {},
  ): string {
    const handle = `H:fake:${++this.#counter}`;
    const job: FakeJob = {
      handle,
      name,
      unique: options.unique ?? '',
      reducer: options.reducer ?? '',
      payload: Buffer.from(payload),
      holder: undefined,
    };
    this.jobs.set(handle, job);
    this.queue.push(job);
    if (options.hidden) this.hidden.add(handle);
    else this.#wake(name);
    return handle;
  }

  /** Makes hidden jobs available without waking anyone (an epoch job falling due). */
  release(): void {
    this.hidden.clear();
  }

  /** Sends a packet to a connection, e.g. a stray NOOP. */
  send(connection: FakeConnection, packet: PacketInit): void {
    connection.socket.write(encodePacket(packet, { magic: 'RES' }));
  }

  /** Destroys every socket: their jobs go back to the queue. */
  dropAll(): void {
    for (const connection of this.connections) connection.socket.destroy();
  }

  async close(): Promise<void> {
    this.dropAll();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  /** Resolves once `predicate` holds, polling every 5 ms. */
  async until(predicate: () => boolean, timeout = 3000, what = 'condition'): Promise<void> {
    const deadline = Date.now() + timeout;
    while (!predicate()) {
      if (Date.now() > deadline) throw new Error(`${what} not met within ${timeout} ms`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  #accept(socket: Socket): void {
    const connection: FakeConnection = {
      id: ++this.#connectionIds,
      socket,
      functions: [],
      clientId: undefined,
      sleeping: false,
      packets: [],
    };
    this.connections.push(connection);
    socket.setNoDelay(true);
    const decoder = new PacketDecoder((packet) => this.#onPacket(connection, packet));
    socket.on('data', (chunk) => {
      try {
        decoder.push(chunk);
      } catch {
        socket.destroy();
      }
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      // PROTOCOL 5.4: jobs of a lost worker go back to the queue.
      for (const job of this.jobs.values()) {
        if (job.holder === connection) {
          job.holder = undefined;
          this.queue.push(job);
        }
      }
    });
  }

  #reply(connection: FakeConnection, packet: PacketInit): void {
    if (!connection.socket.destroyed) {
      connection.socket.write(encodePacket(packet, { magic: 'RES' }));
    }
  }

  #available(connection: FakeConnection): FakeJob | undefined {
    return this.queue.find(
      (job) => connection.functions.includes(job.name) && !this.hidden.has(job.handle),
    );
  }

  #wake(name: string): void {
    for (const connection of this.connections) {
      if (connection.sleeping && connection.functions.includes(name)) {
        connection.sleeping = false;
        this.#reply(connection, { type: 'NOOP' });
      }
    }
  }

  #onPacket(connection: FakeConnection, packet: Packet): void {
    connection.packets.push(packet);
    this.log.push({ connection: connection.id, packet, at: Date.now() });
    if (this.refuse.has(packet.type)) {
      this.#reply(connection, { type: 'ERROR', code: 'server_error', message: packet.type });
      return;
    }
    switch (packet.type) {
      case 'CAN_DO':
      case 'CAN_DO_TIMEOUT':
        connection.functions.push(packet.functionName);
        return;
      case 'CANT_DO': {
        const name = packet.functionName;
        for (let i = connection.functions.indexOf(name); i !== -1; ) {
          connection.functions.splice(i, 1);
          i = connection.functions.indexOf(name);
        }
        // gearmand re-queues jobs of the function this connection holds (section 11, item 21).
        for (const job of this.jobs.values()) {
          if (job.holder === connection && job.name === name) {
            job.holder = undefined;
            this.queue.push(job);
          }
        }
        return;
      }
      case 'SET_CLIENT_ID':
        connection.clientId = packet.clientId;
        return;
      case 'GRAB_JOB':
      case 'GRAB_JOB_UNIQ':
      case 'GRAB_JOB_ALL': {
        connection.sleeping = false;
        const job = this.#available(connection);
        if (job === undefined) {
          this.#reply(connection, { type: 'NO_JOB' });
          return;
        }
        this.queue.splice(this.queue.indexOf(job), 1);
        job.holder = connection;
        if (packet.type === 'GRAB_JOB') {
          this.#reply(connection, {
            type: 'JOB_ASSIGN',
            handle: job.handle,
            functionName: job.name,
            payload: job.payload,
          });
        } else if (packet.type === 'GRAB_JOB_ALL' && job.reducer !== '') {
          this.#reply(connection, {
            type: 'JOB_ASSIGN_ALL',
            handle: job.handle,
            functionName: job.name,
            unique: job.unique,
            reducer: job.reducer,
            payload: job.payload,
          });
        } else {
          this.#reply(connection, {
            type: 'JOB_ASSIGN_UNIQ',
            handle: job.handle,
            functionName: job.name,
            unique: job.unique,
            payload: job.payload,
          });
        }
        return;
      }
      case 'PRE_SLEEP':
        if (this.spin || this.#available(connection) !== undefined) {
          this.#reply(connection, { type: 'NOOP' });
        } else {
          connection.sleeping = true;
        }
        return;
      case 'ECHO_REQ':
        this.#reply(connection, { type: 'ECHO_RES', payload: packet.payload });
        return;
      case 'WORK_STATUS':
      case 'WORK_DATA':
      case 'WORK_WARNING':
      case 'WORK_COMPLETE':
      case 'WORK_FAIL':
      case 'WORK_EXCEPTION': {
        const job = this.jobs.get(packet.handle);
        if (job === undefined || job.holder !== connection) {
          this.#reply(connection, {
            type: 'ERROR',
            code: 'JOB_NOT_FOUND',
            message: 'Job given in work result not found',
          });
          return;
        }
        const list = this.results.get(packet.handle) ?? [];
        list.push(copy(packet));
        this.results.set(packet.handle, list);
        if (
          packet.type === 'WORK_COMPLETE' ||
          packet.type === 'WORK_FAIL' ||
          (packet.type === 'WORK_EXCEPTION' && !this.exceptionNotFinal)
        ) {
          job.holder = undefined;
        }
        return;
      }
      default:
        return;
    }
  }
}

/** The packet with its payload copied out of the socket chunk. */
function copy(packet: Packet): Packet {
  return 'payload' in packet ? { ...packet, payload: Buffer.from(packet.payload) } : packet;
}
