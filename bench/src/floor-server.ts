/**
 * The floor server: not a job server to use, a yardstick. The fewest lines of Node that serve
 * the bench's scenarios to the C drivers and ours: binary packets only, one FIFO queue per
 * function, no priorities, no unique coalescing, no persistence, no timeouts, no admin text.
 * Whatever a Gearman job server in Node does, it pays at least this per job: socket reads,
 * writes and wake-ups. Next to gearmand and the embedded server it splits the embedded
 * server's gap to gearmand into Node's part and ours.
 *
 * Like the embedded server it reads with 'data' events and writes once per connection per
 * event-loop turn (setImmediate). Payloads are never copied: a job keeps a view of the read
 * chunk it came in, and the packets it goes out in are written as a header and that view.
 *
 * Runs in a process of its own (see server.ts): prints `listening` with its port, then serves
 * until its stdin closes.
 */
import { Buffer } from 'node:buffer';
import net from 'node:net';
import { send } from '../drivers/lib/harness.ts';

const REQ = 0x00524551; // "\0REQ"
const RES = 0x00524553; // "\0RES"
const HEADER = 12;
const CAN_DO = 1;
const CANT_DO = 2;
const RESET_ABILITIES = 3;
const PRE_SLEEP = 4;
const NOOP = 6;
const SUBMIT_JOB = 7;
const JOB_CREATED = 8;
const GRAB_JOB = 9;
const NO_JOB = 10;
const JOB_ASSIGN = 11;
const WORK_STATUS = 12;
const WORK_COMPLETE = 13;
const WORK_FAIL = 14;
const ECHO_REQ = 16;
const ECHO_RES = 17;
const SUBMIT_JOB_BG = 18;
const ERROR = 19;
const SUBMIT_JOB_HIGH = 21;
const SET_CLIENT_ID = 22;
const CAN_DO_TIMEOUT = 23;
const WORK_EXCEPTION = 25;
const OPTION_REQ = 26;
const OPTION_RES = 27;
const WORK_DATA = 28;
const WORK_WARNING = 29;
const GRAB_JOB_UNIQ = 30;
const JOB_ASSIGN_UNIQ = 31;
const SUBMIT_JOB_HIGH_BG = 32;
const SUBMIT_JOB_LOW = 33;
const SUBMIT_JOB_LOW_BG = 34;
const GRAB_JOB_ALL = 39;

interface Job {
  handle: Buffer;
  fn: string;
  unique: Buffer;
  payload: Buffer;
  /** The submitting connection of a foreground job; undefined for a background one. */
  client: Conn | undefined;
}

/** A FIFO of one function's jobs: an array read from `head`, emptied when drained. */
interface Queue {
  jobs: (Job | undefined)[];
  head: number;
}

interface Conn {
  socket: net.Socket;
  out: Buffer[];
  outBytes: number;
  abilities: string[];
  sleeping: boolean;
  exceptions: boolean;
}

const queues = new Map<string, Queue>();
const running = new Map<string, Job>();
/** Connections with a function, for waking the sleeping ones. */
const workersOf = new Map<string, Set<Conn>>();
let nextHandle = 0;

let dirty: Conn[] = [];
let flushScheduled = false;

function flush(): void {
  flushScheduled = false;
  const conns = dirty;
  dirty = [];
  for (const conn of conns) {
    const { out, socket } = conn;
    if (out.length === 1) socket.write(out[0] as Buffer);
    else if (conn.outBytes < 64 * 1024) socket.write(Buffer.concat(out, conn.outBytes));
    else {
      // Large payloads go out as views in one writev, not copied into one buffer.
      socket.cork();
      for (const part of out) socket.write(part);
      socket.uncork();
    }
    conn.out = [];
    conn.outBytes = 0;
  }
}

function queueWrite(conn: Conn, part: Buffer): void {
  if (conn.out.length === 0) {
    dirty.push(conn);
    if (!flushScheduled) {
      flushScheduled = true;
      setImmediate(flush);
    }
  }
  conn.out.push(part);
  conn.outBytes += part.length;
}

function header(type: number, size: number, extra = 0): Buffer {
  const out = Buffer.allocUnsafe(HEADER + extra);
  out.writeUInt32BE(RES, 0);
  out.writeUInt32BE(type, 4);
  out.writeUInt32BE(size, 8);
  return out;
}

/** A response whose body is `body` as it is: a header, then the view. */
function forward(conn: Conn, type: number, body: Buffer): void {
  queueWrite(conn, header(type, body.length));
  if (body.length > 0) queueWrite(conn, body);
}

/** A response of small fields joined by NULs, built in one buffer. */
function reply(conn: Conn, type: number, ...fields: Buffer[]): void {
  const size = fields.reduce((sum, field) => sum + field.length, 0) + fields.length - 1;
  const out = header(type, Math.max(0, size), Math.max(0, size));
  let at = HEADER;
  fields.forEach((field, i) => {
    if (i > 0) out[at++] = 0;
    at += field.copy(out, at);
  });
  queueWrite(conn, out);
}

const noJob = (): Buffer => header(NO_JOB, 0);
const noop = (): Buffer => header(NOOP, 0);

function submit(conn: Conn, body: Buffer, background: boolean): void {
  const first = body.indexOf(0);
  const second = body.indexOf(0, first + 1);
  const fn = body.toString('latin1', 0, first);
  const job: Job = {
    handle: Buffer.from(`H:floor:${++nextHandle}`, 'latin1'),
    fn,
    unique: body.subarray(first + 1, second),
    payload: body.subarray(second + 1),
    client: background ? undefined : conn,
  };
  let queue = queues.get(fn);
  if (queue === undefined) {
    queue = { jobs: [], head: 0 };
    queues.set(fn, queue);
  }
  queue.jobs.push(job);
  reply(conn, JOB_CREATED, job.handle);
  // Like gearmand, every sleeping worker of the function gets a NOOP; the first to grab wins.
  for (const worker of workersOf.get(fn) ?? []) {
    if (worker.sleeping) {
      worker.sleeping = false;
      queueWrite(worker, noop());
    }
  }
}

function take(conn: Conn): Job | undefined {
  for (const fn of conn.abilities) {
    const queue = queues.get(fn);
    if (queue === undefined || queue.head === queue.jobs.length) continue;
    const job = queue.jobs[queue.head] as Job;
    queue.jobs[queue.head++] = undefined; // the job is freed once it is done
    if (queue.head === queue.jobs.length) {
      queue.jobs = [];
      queue.head = 0;
    }
    return job;
  }
  return undefined;
}

function hasWork(conn: Conn): boolean {
  return conn.abilities.some((fn) => {
    const queue = queues.get(fn);
    return queue !== undefined && queue.head < queue.jobs.length;
  });
}

function grab(conn: Conn, type: number): void {
  conn.sleeping = false;
  const job = take(conn);
  if (job === undefined) {
    queueWrite(conn, noJob());
    return;
  }
  running.set(job.handle.toString('latin1'), job);
  const fn = Buffer.from(job.fn, 'latin1');
  const uniq = type !== GRAB_JOB;
  // handle, function[, unique], payload: the fields built in one buffer, the payload a view.
  const fieldsSize = job.handle.length + 1 + fn.length + 1 + (uniq ? job.unique.length + 1 : 0);
  const out = header(
    uniq ? JOB_ASSIGN_UNIQ : JOB_ASSIGN,
    fieldsSize + job.payload.length,
    fieldsSize,
  );
  let at = HEADER + job.handle.copy(out, HEADER);
  out[at++] = 0;
  at += fn.copy(out, at);
  out[at++] = 0;
  if (uniq) {
    at += job.unique.copy(out, at);
    out[at++] = 0;
  }
  queueWrite(conn, out);
  if (job.payload.length > 0) queueWrite(conn, job.payload);
}

/** WORK_* from a worker: forwarded as it is to the job's client; the terminal ones end the job. */
function work(type: number, body: Buffer): void {
  const nul = body.indexOf(0);
  const handle = body.toString('latin1', 0, nul < 0 ? body.length : nul);
  const job = running.get(handle);
  if (job === undefined) return;
  const terminal = type === WORK_COMPLETE || type === WORK_FAIL || type === WORK_EXCEPTION;
  if (terminal) running.delete(handle);
  const client = job.client;
  if (client === undefined || client.socket.destroyed) return;
  if (type === WORK_EXCEPTION && !client.exceptions) reply(client, WORK_FAIL, job.handle);
  else forward(client, type, body);
}

function addAbility(conn: Conn, fn: string): void {
  if (conn.abilities.includes(fn)) return;
  conn.abilities.push(fn);
  let workers = workersOf.get(fn);
  if (workers === undefined) {
    workers = new Set();
    workersOf.set(fn, workers);
  }
  workers.add(conn);
}

function dropAbilities(conn: Conn, keep: (fn: string) => boolean): void {
  for (const fn of conn.abilities) if (!keep(fn)) workersOf.get(fn)?.delete(conn);
  conn.abilities = conn.abilities.filter(keep);
}

function onPacket(conn: Conn, type: number, body: Buffer): void {
  switch (type) {
    case SUBMIT_JOB:
    case SUBMIT_JOB_HIGH:
    case SUBMIT_JOB_LOW:
      submit(conn, body, false);
      return;
    case SUBMIT_JOB_BG:
    case SUBMIT_JOB_HIGH_BG:
    case SUBMIT_JOB_LOW_BG:
      submit(conn, body, true);
      return;
    case GRAB_JOB:
    case GRAB_JOB_UNIQ:
    case GRAB_JOB_ALL:
      grab(conn, type);
      return;
    case WORK_COMPLETE:
    case WORK_FAIL:
    case WORK_EXCEPTION:
    case WORK_DATA:
    case WORK_WARNING:
    case WORK_STATUS:
      work(type, body);
      return;
    case PRE_SLEEP:
      if (hasWork(conn)) queueWrite(conn, noop());
      else conn.sleeping = true;
      return;
    case CAN_DO:
      addAbility(conn, body.toString('latin1'));
      return;
    case CAN_DO_TIMEOUT: {
      const nul = body.indexOf(0);
      addAbility(conn, body.toString('latin1', 0, nul < 0 ? body.length : nul));
      return;
    }
    case CANT_DO: {
      const fn = body.toString('latin1');
      dropAbilities(conn, (f) => f !== fn);
      return;
    }
    case RESET_ABILITIES:
      dropAbilities(conn, () => false);
      return;
    case ECHO_REQ:
      forward(conn, ECHO_RES, body);
      return;
    case OPTION_REQ:
      if (body.toString('latin1').toLowerCase() === 'exceptions') {
        conn.exceptions = true;
        forward(conn, OPTION_RES, body);
        return;
      }
      reply(
        conn,
        ERROR,
        Buffer.from('UNKNOWN_OPTION'),
        Buffer.from('Server does not recognize given option'),
      );
      return;
    case SET_CLIENT_ID:
      return;
    default:
      process.stderr.write(`floor server: packet type ${type} not served\n`);
      reply(conn, ERROR, Buffer.from('UNKNOWN_COMMAND'), Buffer.from('not served'));
      return;
  }
}

const server = net.createServer({ noDelay: true }, (socket) => {
  const conn: Conn = {
    socket,
    out: [],
    outBytes: 0,
    abilities: [],
    sleeping: false,
    exceptions: false,
  };
  // A packet split across reads waits in `parts` until `need` bytes are there, then is joined
  // once: a 1 MiB payload costs one copy, not one per read.
  let parts: Buffer[] = [];
  let have = 0;
  let need = 0;
  socket.on('data', (chunk: Buffer) => {
    let buf = chunk;
    if (have > 0) {
      parts.push(chunk);
      have += chunk.length;
      if (have < need) return;
      buf = Buffer.concat(parts, have);
      parts = [];
      have = 0;
    }
    let at = 0;
    while (buf.length - at >= HEADER) {
      if (buf.readUInt32BE(at) !== REQ) {
        socket.destroy(); // admin text or garbage: not served
        return;
      }
      const end = at + HEADER + buf.readUInt32BE(at + 8);
      if (end > buf.length) break;
      onPacket(conn, buf.readUInt32BE(at + 4), buf.subarray(at + HEADER, end));
      at = end;
    }
    if (at < buf.length) {
      const rest = buf.subarray(at);
      parts = [rest];
      have = rest.length;
      need = have >= HEADER ? HEADER + rest.readUInt32BE(8) : HEADER;
    }
  });
  socket.on('error', () => socket.destroy());
  socket.on('close', () => dropAbilities(conn, () => false));
});

server.listen(0, '127.0.0.1', () => {
  const address = server.address() as net.AddressInfo;
  void send({ type: 'listening', host: '127.0.0.1', port: address.port });
});
process.stdin.on('end', () => {
  server.close();
  process.exit(0);
});
process.stdin.resume();
