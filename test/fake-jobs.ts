import type { Packet } from '@gearmanode/protocol';
import type { FakeConnection } from './fake-server.js';

// The job server inside the fake server (fake-server.ts): a queue of jobs handed to workers as
// gearmand does (protocol.md section 5), their WORK_* packets relayed to the submitting client.

/** A job as the fake server holds it. */
export interface FakeJob {
  readonly handle: string;
  readonly name: string;
  readonly unique: string;
  readonly reducer: string;
  readonly payload: Buffer;
  /** The worker connection holding it, or undefined while queued or done. */
  holder: FakeConnection | undefined;
  /** The client connection waiting for its WORK_* packets (foreground submits). */
  readonly client: FakeConnection | undefined;
}

export interface AddJobOptions {
  unique?: string;
  reducer?: string;
  /** Not handed out until `release()`, like a future epoch job. */
  hidden?: boolean;
}

type SubmitPacket = Extract<Packet, { type: `SUBMIT_${string}` }>;

/** The jobs of a fake server, and its answers to workers. */
export class JobBoard {
  readonly queue: FakeJob[] = [];
  readonly jobs = new Map<string, FakeJob>();
  readonly results = new Map<string, Packet[]>();
  spin = false;
  /** Keep a job held after WORK_EXCEPTION until WORK_FAIL, as Perl's Gearman::Server does. */
  exceptionNotFinal = false;
  readonly #connections: readonly FakeConnection[];
  readonly #hidden = new Set<string>();
  #jobNumber = 0;

  constructor(connections: readonly FakeConnection[]) {
    this.#connections = connections;
  }

  /** Queues a submitted job for workers; returns its handle, `H:fake:<n>`. */
  submit(packet: SubmitPacket, connection: FakeConnection): string {
    const background = packet.type.endsWith('_BG') || packet.type.endsWith('_BACKGROUND');
    return this.#queue(packet.functionName, Buffer.from(packet.payload), {
      unique: packet.unique,
      reducer: 'reducer' in packet ? packet.reducer : '',
      client: background ? undefined : connection,
    });
  }

  /** The worker side's default answers; other packets get none. */
  answer(packet: Packet, connection: FakeConnection): void {
    switch (packet.type) {
      case 'CAN_DO':
      case 'CAN_DO_TIMEOUT':
        connection.functions.push(packet.functionName);
        return;
      case 'CANT_DO': {
        const name = packet.functionName;
        const functions = connection.functions;
        for (let i = functions.indexOf(name); i !== -1; i = functions.indexOf(name)) {
          functions.splice(i, 1);
        }
        // gearmand re-queues the jobs of the function this connection holds (section 11, item 21).
        this.requeue((job) => job.holder === connection && job.name === name);
        return;
      }
      case 'SET_CLIENT_ID':
        connection.clientId = packet.clientId;
        return;
      case 'GRAB_JOB':
      case 'GRAB_JOB_UNIQ':
      case 'GRAB_JOB_ALL':
        this.#grab(connection, packet.type);
        return;
      case 'PRE_SLEEP':
        if (this.spin || this.#available(connection) !== undefined) {
          connection.send({ type: 'NOOP' });
        } else {
          connection.sleeping = true;
        }
        return;
      case 'WORK_STATUS':
      case 'WORK_DATA':
      case 'WORK_WARNING':
      case 'WORK_COMPLETE':
      case 'WORK_FAIL':
      case 'WORK_EXCEPTION':
        this.#workResult(packet, connection);
        return;
      default:
        return;
    }
  }

  #queue(
    name: string,
    payload: Buffer,
    options: AddJobOptions & { client?: FakeConnection | undefined },
  ): string {
    const handle = `H:fake:${++this.#jobNumber}`;
    const job: FakeJob = {
      handle,
      name,
      unique: options.unique ?? '',
      reducer: options.reducer ?? '',
      payload,
      holder: undefined,
      client: options.client,
    };
    this.jobs.set(handle, job);
    this.queue.push(job);
    if (options.hidden === true) this.#hidden.add(handle);
    else this.#wake(name);
    return handle;
  }

  /** Puts the held jobs that `match` back in the queue. */
  requeue(match: (job: FakeJob) => boolean): void {
    for (const job of this.jobs.values()) {
      if (job.holder !== undefined && match(job)) {
        job.holder = undefined;
        this.queue.push(job);
      }
    }
  }

  #available(connection: FakeConnection): FakeJob | undefined {
    return this.queue.find(
      (job) => connection.functions.includes(job.name) && !this.#hidden.has(job.handle),
    );
  }

  #wake(name: string): void {
    for (const connection of this.#connections) {
      if (connection.sleeping && connection.functions.includes(name)) {
        connection.sleeping = false;
        connection.send({ type: 'NOOP' });
      }
    }
  }

  #grab(connection: FakeConnection, grab: 'GRAB_JOB' | 'GRAB_JOB_UNIQ' | 'GRAB_JOB_ALL'): void {
    connection.sleeping = false;
    const job = this.#available(connection);
    if (job === undefined) {
      connection.send({ type: 'NO_JOB' });
      return;
    }
    this.queue.splice(this.queue.indexOf(job), 1);
    job.holder = connection;
    const { handle, name: functionName, unique, reducer, payload } = job;
    if (grab === 'GRAB_JOB') {
      connection.send({ type: 'JOB_ASSIGN', handle, functionName, payload });
    } else if (grab === 'GRAB_JOB_ALL' && reducer !== '') {
      connection.send({ type: 'JOB_ASSIGN_ALL', handle, functionName, unique, reducer, payload });
    } else {
      connection.send({ type: 'JOB_ASSIGN_UNIQ', handle, functionName, unique, payload });
    }
  }

  #workResult(packet: Extract<Packet, { type: `WORK_${string}` }>, connection: FakeConnection) {
    const job = this.jobs.get(packet.handle);
    if (job === undefined || job.holder !== connection) {
      connection.send({
        type: 'ERROR',
        code: 'JOB_NOT_FOUND',
        message: 'Job given in work result not found',
      });
      return;
    }
    // The payload is a view of the socket's chunk: keep a copy.
    const result =
      'payload' in packet ? { ...packet, payload: Buffer.from(packet.payload) } : packet;
    const list = this.results.get(packet.handle) ?? [];
    list.push(result);
    this.results.set(packet.handle, list);
    const terminal =
      packet.type === 'WORK_COMPLETE' ||
      packet.type === 'WORK_FAIL' ||
      (packet.type === 'WORK_EXCEPTION' && !this.exceptionNotFinal);
    if (terminal) job.holder = undefined;
    if (job.client !== undefined && !job.client.closed) job.client.send(result);
  }

  /** Live connections that registered at least one function. */
  get workers(): FakeConnection[] {
    return this.#connections.filter((c) => !c.closed && c.functions.length > 0);
  }

  /** Queues a job and wakes sleeping workers of its function, as gearmand does. */
  add(name: string, payload: Buffer, options: AddJobOptions = {}): string {
    return this.#queue(name, payload, options);
  }

  /** Makes hidden jobs available without waking anyone. */
  release(): void {
    this.#hidden.clear();
  }

  /** Jobs assigned to `connection` (or to anyone) and not finished yet. */
  held(connection?: FakeConnection): FakeJob[] {
    return [...this.jobs.values()].filter(
      (job) => job.holder !== undefined && (connection === undefined || job.holder === connection),
    );
  }
}
