/**
 * One adapter per peer: how to start its worker of a given kind and how to submit a job with its
 * client. The scenarios write a case body once against an adapter and keep per-peer cells only
 * where a peer really behaves differently.
 *
 * The PHP and Perl scripts take a `--mode`; the gearman tool (`-w`) runs a command per job with
 * the payload on stdin and sends back its stdout, so its kinds of worker are shell commands.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { waitFor } from '../helpers.js';
import {
  bytes,
  type ForeignProcess,
  type ForeignResult,
  functionStatus,
  gearmanClient,
  gearmanWorker,
  payloadFile,
  perlClient,
  perlWorker,
  phpClient,
  phpWorker,
  type ScriptEvent,
  type Server,
  waitForWorkers,
} from './support.js';
import type { CaseContext, Cell, PeerId } from './table.js';

/** Reads all of stdin before writing, so large payloads cannot fill both pipes at once. */
const BUFFERED_CAT = ['sh', '-c', 'f=$(mktemp); cat > "$f"; cat "$f"; rm -f "$f"'];

/**
 * What a started worker does with each job: send the payload back as it is or reversed, send
 * status, data and warning before the result "done:<payload>", fail it, or send an exception
 * "<peer> exception: <payload>".
 */
type WorkerKind = 'echo' | 'reverse' | 'progress' | 'fail' | 'exception';

/**
 * The gearman tool's command for each kind; it sends only data (stdout) and the result, and a
 * failing command fails the job after its output went out as data.
 */
const CLI_COMMANDS: Partial<Record<WorkerKind, readonly string[]>> = {
  echo: BUFFERED_CAT,
  reverse: ['rev'],
  fail: ['sh', '-c', 'echo "partial output"; exit 3'],
};

/** One job a recording worker ran: its payload, and what the peer's worker saw of it. */
export interface RecordedJob {
  payload: string;
  /** Unset where the peer's worker does not show it (the gearman tool). */
  handle?: unknown;
  unique?: unknown;
}

/** A peer worker that runs `count` jobs, notes each, and exits. */
interface RecordingWorker {
  readonly process: ForeignProcess;
  /** Resolves once the worker has exited, with the jobs in the order it ran them. */
  jobs(): Promise<RecordedJob[]>;
}

/** A peer worker that dies (SIGKILL) while it holds a job. */
interface DyingWorker {
  readonly process: ForeignProcess;
  /** Resolves once the worker has died holding the job. */
  died(): Promise<void>;
}

/** What a scenario asks of a peer's worker. */
export interface PeerWorker {
  /** Starts a worker of `kind`; resolves once it is registered. */
  start(server: Server, fn: string, kind: WorkerKind): Promise<ForeignProcess>;
  /** Starts a worker that runs `count` jobs, noting each, then exits. */
  recording(server: Server, fn: string, count: number): RecordingWorker;
  /** Starts a worker that dies holding its first job; resolves once it is registered. */
  dying(server: Server, fn: string): Promise<DyingWorker>;
}

/** A job the peer's client ran in the foreground. */
export interface PeerRun {
  /** The result the peer's client got. */
  result: Buffer;
  /** The handle the peer's client printed, where it prints one. */
  handle: unknown;
  run: ForeignResult;
}

/** Options of {@link PeerClient.submit}. */
interface SubmitOptions {
  unique?: string;
}

/** What a scenario asks of a peer's client. */
export interface PeerClient {
  /** Submits a foreground job; a binary payload goes in through a file or stdin. */
  submit(
    server: Server,
    fn: string,
    payload: string | Uint8Array,
    options?: SubmitOptions,
  ): Promise<PeerRun>;
  /**
   * Submits a background job, checks that the peer saw it queued, and resolves with the handle
   * it printed (none from the gearman tool).
   */
  submitBackground(
    server: Server,
    fn: string,
    payload: string,
    options: { priority?: 'low' | 'normal' | 'high'; unique?: string },
  ): Promise<string | undefined>;
  /** The status of the job `handle`, as the peer's client reports it (fields as it gives them). */
  status(server: Server, handle: string): Promise<ScriptEvent | undefined>;
}

/** Both sides of one peer. */
export interface Peer {
  readonly worker: PeerWorker;
  readonly client: PeerClient;
}

type Script = typeof phpWorker;
type ClientScript = typeof phpClient;

function scriptWorker(start: Script, dyingMode: string): PeerWorker {
  return {
    async start(server, fn, kind) {
      const worker = start(server, { function: fn, mode: kind });
      await waitForWorkers(server, fn);
      return worker;
    },
    recording(server, fn, count) {
      const worker = start(server, { function: fn, mode: 'echo', count });
      return {
        process: worker,
        async jobs() {
          expect(await worker.exited, worker.describe()).toMatchObject({ code: 0 });
          return worker.events
            .filter((e) => e.event === 'job')
            .map((e) => ({ payload: bytes(e).toString(), handle: e.handle, unique: e.unique }));
        },
      };
    },
    async dying(server, fn) {
      const worker = start(server, { function: fn, mode: dyingMode });
      await waitForWorkers(server, fn);
      return {
        process: worker,
        async died() {
          await worker.waitForEvent('dying');
          expect(await worker.exited).toMatchObject({ signal: 'SIGKILL' });
        },
      };
    },
  };
}

function scriptClient(run: ClientScript, handlePattern: RegExp): PeerClient {
  return {
    async submit(server, fn, payload, { unique } = {}) {
      const input =
        typeof payload === 'string' ? { payload } : { 'payload-file': payloadFile(payload) };
      const done = await run(server, { function: fn, unique, ...input });
      const created = done.events.find((e) => e.event === 'created');
      const complete = done.events.find((e) => e.event === 'complete');
      expect(complete, done.stderr).toBeDefined();
      return { result: bytes(complete), handle: created?.handle, run: done };
    },
    async submitBackground(server, fn, payload, { priority, unique }) {
      const done = await run(server, {
        function: fn,
        mode: 'background',
        priority,
        unique,
        payload,
      });
      const handle = done.events.find((e) => e.event === 'created')?.handle;
      expect(handle, done.stderr).toMatch(handlePattern);
      return handle as string;
    },
    async status(server, handle) {
      const done = await run(server, { mode: 'status', handle });
      return done.events.find((e) => e.event === 'status');
    },
  };
}

const CLI_PRIORITY = { low: ['-L'], normal: [], high: ['-I'] } as const;

const cli: Peer = {
  worker: {
    async start(server, fn, kind) {
      const command = CLI_COMMANDS[kind];
      if (command === undefined) throw new Error(`the gearman tool has no ${kind} worker`);
      const worker = gearmanWorker(server, fn, ['--', ...command]);
      await waitForWorkers(server, fn);
      return worker;
    },
    recording(server, fn, count) {
      // One line per job: the payload, then a newline the command adds.
      const log = join(payloadFile(Buffer.alloc(0)), '..', 'jobs.log');
      const worker = gearmanWorker(server, fn, [
        '-c',
        String(count),
        '--',
        'sh',
        '-c',
        `cat >> '${log}'; echo >> '${log}'`,
      ]);
      return {
        process: worker,
        async jobs() {
          expect(await worker.exited, worker.describe()).toMatchObject({ code: 0 });
          const lines = readFileSync(log, 'utf8').split('\n').slice(0, -1);
          return lines.map((payload) => ({ payload }));
        },
      };
    },
    async dying(server, fn) {
      const worker = gearmanWorker(server, fn, ['--', 'sleep', '60']);
      await waitForWorkers(server, fn);
      return {
        process: worker,
        async died() {
          await waitFor(async () => (await functionStatus(server, fn)).running === 1, {
            timeout: 10_000,
            what: 'the job to run on the gearman tool',
          });
          await worker.kill();
        },
      };
    },
  },
  client: {
    async submit(server, fn, payload, { unique } = {}) {
      const uniqueArgs = unique === undefined ? [] : ['-u', unique];
      const done =
        typeof payload === 'string'
          ? await gearmanClient(server, [...uniqueArgs, '-f', fn, '--', payload])
          : await gearmanClient(server, [...uniqueArgs, '-f', fn], { stdin: payload });
      return { result: done.stdout, handle: undefined, run: done };
    },
    async submitBackground(server, fn, payload, { priority = 'normal', unique }) {
      const done = await gearmanClient(server, [
        '-b',
        ...CLI_PRIORITY[priority],
        ...(unique === undefined ? [] : ['-u', unique]),
        '-f',
        fn,
        '--',
        payload,
      ]);
      expect(done.code, done.stderr).toBe(0);
      return undefined;
    },
    status() {
      throw new Error('the gearman tool cannot query a job status');
    },
  },
};

/** The adapters, by peer. */
export const PEER: Readonly<Record<PeerId, Peer>> = {
  // Gearman::Worker dies by its own SIGKILL in mode "kill" ("die" is a handler that dies);
  // Gearman::Client prefixes the server's handle with the server's address.
  perl: { worker: scriptWorker(perlWorker, 'kill'), client: scriptClient(perlClient, /\/\/H:/) },
  php: { worker: scriptWorker(phpWorker, 'die'), client: scriptClient(phpClient, /^H:/) },
  cli,
};

/** One case body for each of `peers`, given the peer's id and adapter. */
export function forPeers(
  peers: readonly PeerId[],
  body: (peer: Peer, context: CaseContext, id: PeerId) => Promise<void>,
): Partial<Record<PeerId, Cell>> {
  return Object.fromEntries(
    peers.map((id) => [id, (context: CaseContext) => body(PEER[id], context, id)]),
  );
}
