import { performance } from 'node:perf_hooks';
import {
  Connection,
  type ConnectionEvent,
  type ReplyHandler,
  type ServerAddress,
  tuningOf,
} from '@gearmanode/core';
import {
  COPY_THRESHOLD,
  encodePacketParts,
  type GearmanError,
  HEADER_SIZE,
  type Packet,
  type PacketInit,
} from '@gearmanode/protocol';
import {
  ASSIGNMENT_DECODERS,
  CompleteWriter,
  completeSize,
  type RawAssignment,
} from './assignment.js';
import { GrabLoop } from './grab-loop.js';
import type { JobImpl } from './job.js';
import type { ResolvedWorkerOptions } from './options.js';
import type { ServerStats } from './worker-types.js';

/** What a link reports to the worker that owns it. */
export interface LinkHost {
  /** A packet nobody waited for: NOOP, or an ERROR answering a report. */
  onPacket(link: ServerLink, packet: Packet): void;
  onEvent(link: ServerLink, event: ConnectionEvent): void;
  /** The reply to a GRAB: a JOB_ASSIGN* or NO_JOB. */
  onGrabReply(link: ServerLink, packet: Packet): void;
  /** A GRAB of type `packet` got no job: an ERROR reply, or its socket went away. */
  onGrabError(link: ServerLink, error: GearmanError, packet: GrabPacket): void;
}

/** The three GRABs: plain, with the unique, and with the unique and the reducer. */
export type GrabPacket = 'GRAB_JOB' | 'GRAB_JOB_UNIQ' | 'GRAB_JOB_ALL';

const PRE_SLEEP: PacketInit = { type: 'PRE_SLEEP' };
// Writes WORK_COMPLETE from a job's handle bytes; one for every link (its use is synchronous).
const COMPLETE = new CompleteWriter();
// Each GRAB's frame, encoded once and written by every GRAB sent (a GRAB has no body).
const GRABS: Readonly<Record<GrabPacket, readonly Buffer[]>> = {
  GRAB_JOB: encodePacketParts({ type: 'GRAB_JOB' }),
  GRAB_JOB_UNIQ: encodePacketParts({ type: 'GRAB_JOB_UNIQ' }),
  GRAB_JOB_ALL: encodePacketParts({ type: 'GRAB_JOB_ALL' }),
};
/** What to grab with instead when a server refuses a GRAB: the next simpler one. */
const FALLBACK: Readonly<Record<GrabPacket, 'GRAB_JOB' | 'GRAB_JOB_UNIQ' | undefined>> = {
  GRAB_JOB_ALL: 'GRAB_JOB_UNIQ',
  GRAB_JOB_UNIQ: 'GRAB_JOB',
  GRAB_JOB: undefined,
};

/**
 * The worker's link to one job server: its connection and grab cycle, the functions registered
 * on the current socket, and the jobs that socket handed out.
 */
export class ServerLink {
  readonly server: string;
  readonly connection: Connection;
  readonly loop: GrabLoop;
  /**
   * Jobs from the current socket that are held, running or buffered, oldest first. An array,
   * not a Set: a job is added and removed once each, mostly at the ends, and a Set would hash
   * every new job object (a call into the runtime per job).
   */
  readonly jobs: JobImpl[] = [];
  /** Closed for good (gave up, or reconnect is off). */
  dead = false;
  /** Connected once, or failed its first attempt: counted towards the worker's start. */
  started = false;
  /** Functions registered on the current socket. */
  #registered = new Set<string>();
  /** Functions unregistered while this socket held jobs of them: CANT_DO once they settle. */
  readonly #pendingCantDo = new Set<string>();
  readonly #options: ResolvedWorkerOptions;
  /** The worker's registered functions and their time limits, read at every (re)connect. */
  readonly #functions: ReadonlyMap<string, number>;
  /** The GRAB the worker is configured for; every new socket starts with it. */
  readonly #configuredGrab: GrabPacket;
  /** The GRAB this socket sends: simpler than configured once the server refused that one. */
  #grab: GrabPacket;
  /** `#grab`'s frame and reply handler, looked up once per change rather than per GRAB. */
  #grabFrames: readonly Buffer[];
  #grabReply: ReplyHandler;
  /** GRAB refusals on every socket so far. */
  #grabRefused = 0;
  /** The reply handlers of each GRAB: one object per type, not one per GRAB. */
  readonly #grabReplies: Readonly<Record<GrabPacket, ReplyHandler>>;

  constructor(
    address: ServerAddress,
    options: ResolvedWorkerOptions,
    functions: ReadonlyMap<string, number>,
    host: LinkHost,
  ) {
    this.#options = options;
    this.#functions = functions;
    this.#configuredGrab = options.grabMode === 'all' ? 'GRAB_JOB_ALL' : 'GRAB_JOB_UNIQ';
    const replies = {} as Record<GrabPacket, ReplyHandler>;
    for (const type of Object.keys(GRABS) as GrabPacket[]) {
      replies[type] = {
        onReply: (packet) => host.onGrabReply(this, packet),
        onError: (error) => host.onGrabError(this, error, type),
      };
    }
    this.#grabReplies = replies;
    this.#grab = this.#configuredGrab;
    this.#grabFrames = GRABS[this.#grab];
    this.#grabReply = replies[this.#grab];
    this.connection = new Connection({
      address,
      ...tuningOf(options),
      // A worker submits nothing, so it needs no WORK_EXCEPTION forwarding.
      exceptions: false,
      setup: () => this.#setup(),
      onPacket: (packet) => host.onPacket(this, packet),
      bodyDecoders: ASSIGNMENT_DECODERS,
      onEvent: (event) => host.onEvent(this, event),
    });
    this.server = this.connection.server;
    this.loop = new GrabLoop({
      pollInterval: options.pollInterval,
      maxWindow: options.concurrency,
      eagerPreSleep: !options.serverTimeout,
    });
  }

  /**
   * Registers `name` on the current socket unless it is registered there already (CAN_DO again
   * would register it twice). Without a socket the next one registers it. Returns true when a
   * sleeping grab cycle woke up: jobs already queued for a new function send no NOOP.
   */
  register(name: string, timeout: number): boolean {
    this.#pendingCantDo.delete(name);
    if (this.#registered.has(name)) return false;
    if (this.connection.send(this.#canDo(name, timeout))) this.#registered.add(name);
    return this.loop.poke();
  }

  /**
   * Unregisters `name` (CANT_DO). gearmand re-queues jobs a worker holds of a function it
   * unregisters
   * ([protocol.md section 11](https://github.com/gearmanode/gearmanode/blob/main/docs/protocol.md#11-gearmand-1120-as-observed),
   * item 21): while this socket holds such jobs, the CANT_DO waits until they are settled.
   */
  unregister(name: string): void {
    if (!this.#registered.has(name)) return;
    if (this.#holdsJobsOf(name)) this.#pendingCantDo.add(name);
    else this.#cantDo(name);
  }

  /** A job from this link is over: forget it, and send a CANT_DO that waited for it. */
  jobDone(job: JobImpl): void {
    this.forget(job);
    if (this.#pendingCantDo.size > 0 && this.#pendingCantDo.has(job.name)) {
      if (!this.#holdsJobsOf(job.name)) this.#cantDo(job.name);
    }
  }

  /** Removes `job` from `jobs`, if it is there. */
  forget(job: JobImpl): void {
    const jobs = this.jobs;
    // Jobs mostly end in the order they came: the oldest, or with one job held the only one.
    if (jobs[0] === job) jobs.shift();
    else {
      const index = jobs.lastIndexOf(job);
      if (index === jobs.length - 1) jobs.pop();
      else if (index >= 0) jobs.splice(index, 1);
    }
  }

  /** Sends a GRAB; false when the socket is not connected after all. */
  grab(): boolean {
    try {
      this.connection.requestEncoded(this.#grab, this.#grabFrames, this.#grabReply);
    } catch {
      // Between attempts, or closed: the connection's events update the loop.
      return false;
    }
    if (this.loop.grabSent() === 'pre-sleep') this.preSleep();
    return true;
  }

  /** The GRAB this socket sends now. */
  get grabPacket(): GrabPacket {
    return this.#grab;
  }

  /**
   * The server answered a GRAB of type `packet` with ERROR: it does not know that GRAB (Perl's
   * Gearman::Server knows neither GRAB_JOB_UNIQ nor GRAB_JOB_ALL and answers each with ERROR
   * `server_error`). Until the next socket this link grabs with the next simpler GRAB, which is
   * returned; undefined when there is none (plain GRAB_JOB was refused).
   */
  refused(packet: GrabPacket): 'GRAB_JOB' | 'GRAB_JOB_UNIQ' | undefined {
    this.#grabRefused++;
    // A GRAB sent before an earlier refusal switched the link is refused again: no step down.
    if (packet === this.#grab) this.#useGrab(FALLBACK[packet] ?? packet);
    return FALLBACK[packet];
  }

  /**
   * Sends a report of a job (WORK_*) on the socket the job came from, whose `generation` it
   * carries; false when that socket is gone.
   * @throws InvalidArgumentError when the packet cannot be encoded.
   */
  report(generation: number, packet: PacketInit): boolean {
    const connection = this.connection;
    if (generation !== connection.generation || !connection.send(packet)) return false;
    // WORK_EXCEPTION must end the job on every server. Perl's Gearman::Server keeps the job
    // open after it (its own workers follow it with WORK_FAIL); gearmand ends the job there, as
    // libgearman's worker expects (it sends nothing after it), and answers a WORK_FAIL after it
    // with ERROR JOB_NOT_FOUND. So the WORK_FAIL goes only where the server has shown itself to
    // be Gearman::Server-like: a socket that fell back to GRAB_JOB (never configured) because
    // its server refused GRAB_JOB_UNIQ.
    if (packet.type === 'WORK_EXCEPTION' && this.#grab === 'GRAB_JOB') {
      connection.send({ type: 'WORK_FAIL', handle: packet.handle });
    }
    return true;
  }

  /**
   * `report()` of WORK_COMPLETE with `result`, written from the handle's bytes in `raw`.
   * @throws InvalidArgumentError when the packet would exceed `maxPacketSize`.
   */
  reportComplete(generation: number, raw: RawAssignment, result: Uint8Array): boolean {
    const connection = this.connection;
    if (generation !== connection.generation) return false;
    const size = completeSize(raw, result);
    // Over maxPacketSize: the encoder's error, exactly (it refuses the packet before anything
    // is queued). A large result: the encoder's way too, which writes it uncopied behind a head.
    if (size - HEADER_SIZE > this.#options.maxPacketSize || result.length >= COPY_THRESHOLD) {
      return this.report(generation, {
        type: 'WORK_COMPLETE',
        handle: raw.handle,
        payload: result,
      });
    }
    COMPLETE.raw = raw;
    COMPLETE.result = result;
    try {
      return connection.sendFrame('WORK_COMPLETE', size, COMPLETE);
    } finally {
      COMPLETE.raw = undefined;
      COMPLETE.result = undefined;
    }
  }

  preSleep(): void {
    this.connection.send(PRE_SLEEP);
  }

  /** A GRAB came back without a job: NO_JOB, or an ERROR. Sends PRE_SLEEP if the loop sleeps. */
  noJob(): void {
    if (this.loop.noJob(performance.now()) === 'pre-sleep') this.preSleep();
  }

  stats(): ServerStats {
    return {
      server: this.server,
      connection: this.connection.state,
      grab: this.loop.state,
      jobs: this.jobs.length,
      grabsInFlight: this.loop.outstanding,
      suspect: this.connection.suspect,
      generation: this.connection.generation,
      grabRefused: this.#grabRefused,
    };
  }

  /** The packets written first on every new socket: the client id, then the registrations. */
  #setup(): PacketInit[] {
    const packets: PacketInit[] = [];
    if (this.#options.clientId !== undefined) {
      packets.push({ type: 'SET_CLIENT_ID', clientId: this.#options.clientId });
    }
    for (const [name, timeout] of this.#functions) packets.push(this.#canDo(name, timeout));
    this.#registered = new Set(this.#functions.keys());
    this.#pendingCantDo.clear();
    // A new socket may be a different server (an upgrade, a fail-over behind the same address).
    this.#useGrab(this.#configuredGrab);
    return packets;
  }

  #useGrab(grab: GrabPacket): void {
    this.#grab = grab;
    this.#grabFrames = GRABS[grab];
    this.#grabReply = this.#grabReplies[grab];
  }

  #canDo(name: string, timeout: number): PacketInit {
    // CAN_DO_TIMEOUT only on request: on gearmand 1.1.20 its timer outlives the job and has
    // corrupted the server (protocol.md section 11, item 25). Time limits are enforced here.
    return this.#options.serverTimeout && timeout > 0
      ? { type: 'CAN_DO_TIMEOUT', functionName: name, timeout }
      : { type: 'CAN_DO', functionName: name };
  }

  #cantDo(name: string): void {
    this.#pendingCantDo.delete(name);
    this.#registered.delete(name);
    // Without a live socket there is nothing to undo: the next socket registers afresh.
    this.connection.send({ type: 'CANT_DO', functionName: name });
  }

  #holdsJobsOf(name: string): boolean {
    for (const job of this.jobs) if (job.name === name) return true;
    return false;
  }
}
