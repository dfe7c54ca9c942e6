/**
 * The Node floor: not a library, a yardstick. The fewest lines of Node that speak enough Gearman
 * for the bench's scenarios, run through the same harness as every Node driver: no option
 * checks, no reconnect, no timeouts, no retries, no events, one connection per client and per
 * worker connection asked for. Whatever a Gearman library for Node does, it pays at least this:
 * the figures of this column are what Node itself costs on this machine, and the gap between it
 * and C is no library's doing.
 *
 * Worker, on each of its connections: CAN_DO, then GRAB_JOB_UNIQ; NO_JOB → PRE_SLEEP; NOOP →
 * GRAB_JOB_UNIQ; JOB_ASSIGN_UNIQ → one write of WORK_COMPLETE and the next GRAB (libgearman's
 * cycle). Client: SUBMIT_JOB per job, results matched by handle (JOB_CREATED comes back in
 * submission order on one connection); SUBMIT_JOB_BG per background job, settled by its
 * JOB_CREATED.
 *
 * The same work on the wire as the libraries it is the floor of: background jobs carry a random
 * unique (libgearman's client and ours both send one), and the worker is handed each job's
 * unique (libgearman grabs with GRAB_JOB_ALL, ours with GRAB_JOB_UNIQ), so the server stores,
 * hashes and sends the same bytes for the floor as for them.
 */
import { Buffer } from 'node:buffer';
import { randomUUID } from 'node:crypto';
import net from 'node:net';
import { config, runClient, workerHarness } from './lib/harness.ts';

const cfg = config();
const REQ = 0x00524551; // "\0REQ"
const HEADER = 12;
const [CAN_DO, PRE_SLEEP, NOOP, SUBMIT_JOB, JOB_CREATED, NO_JOB] = [1, 4, 6, 7, 8, 10];
const [WORK_COMPLETE, SUBMIT_JOB_BG, GRAB_JOB_UNIQ, JOB_ASSIGN_UNIQ] = [13, 18, 30, 31];

function packet(type: number, ...fields: (string | Buffer)[]): Buffer {
  const parts = fields.map((field) => (typeof field === 'string' ? Buffer.from(field) : field));
  const size = parts.reduce((sum, part) => sum + part.length, 0) + Math.max(0, parts.length - 1);
  const out = Buffer.allocUnsafe(HEADER + size);
  out.writeUInt32BE(REQ, 0);
  out.writeUInt32BE(type, 4);
  out.writeUInt32BE(size, 8);
  let at = HEADER;
  parts.forEach((part, i) => {
    if (i > 0) out[at++] = 0;
    at += part.copy(out, at);
  });
  return out;
}

const EMPTY = Buffer.alloc(0);
/** Bodies of at least this size are read straight into a buffer of their own. */
const LARGE = 64 * 1024;

/**
 * Connects with Node's `onread` reads and calls `onPacket(type, body)` per packet: small packets
 * from a 64 KiB slab, a large body read in place into its own buffer (the kernel's copy only).
 */
function connect(onPacket: (type: number, body: Buffer) => void): Promise<net.Socket> {
  let pending: Buffer | undefined;
  let body: Buffer | undefined;
  let bodyType = 0;
  let filled = 0;
  const slab = Buffer.allocUnsafe(LARGE);
  return new Promise((resolve, reject) => {
    const socket = net.connect({
      host: cfg.host,
      port: cfg.port,
      noDelay: true,
      onread: {
        buffer: () => (body === undefined ? slab : body.subarray(filled)),
        callback(bytes) {
          if (body !== undefined) {
            filled += bytes;
            if (filled === body.length) {
              const done = body;
              body = undefined;
              onPacket(bodyType, done);
            }
            return true;
          }
          // A packet split across reads is copied out; slab views are only used before the next read.
          const chunk = pending
            ? Buffer.concat([pending, slab.subarray(0, bytes)])
            : slab.subarray(0, bytes);
          pending = undefined;
          let at = 0;
          while (chunk.length - at >= HEADER) {
            const size = chunk.readUInt32BE(at + 8);
            const end = at + HEADER + size;
            if (end > chunk.length) {
              if (size < LARGE) break;
              bodyType = chunk.readUInt32BE(at + 4);
              body = Buffer.allocUnsafe(size);
              filled = chunk.copy(body, 0, at + HEADER);
              at = chunk.length;
              break;
            }
            onPacket(chunk.readUInt32BE(at + 4), chunk.subarray(at + HEADER, end));
            at = end;
          }
          if (at < chunk.length) pending = Buffer.from(chunk.subarray(at));
          return true;
        },
      },
    });
    socket.once('connect', () => resolve(socket));
    socket.once('error', reject);
  });
}

/** Writes a packet whose last field is a large payload: its head, then the payload uncopied. */
function writeLarge(
  socket: net.Socket,
  type: number,
  fields: (string | Buffer)[],
  payload: Buffer,
  after?: Buffer,
): void {
  const head = packet(type, ...fields, EMPTY);
  head.writeUInt32BE(head.length - HEADER + payload.length, 8);
  socket.cork();
  socket.write(head);
  socket.write(payload);
  if (after !== undefined) socket.write(after);
  socket.uncork();
}

if (cfg.role === 'client') {
  const byHandle = new Map<string, (result: Buffer) => void>();
  const created: ((result: Buffer) => void)[] = [];
  let head = 0;
  const socket = await connect((type, body) => {
    if (type === JOB_CREATED && cfg.mode === 'bg') {
      (created[head++] as (result: Buffer) => void)(body);
      if (head === created.length) {
        created.length = 0;
        head = 0;
      }
    } else if (type === JOB_CREATED) {
      byHandle.set(body.toString('latin1'), created[head++] as (result: Buffer) => void);
      if (head === created.length) {
        created.length = 0;
        head = 0;
      }
    } else if (type === WORK_COMPLETE) {
      const nul = body.indexOf(0);
      const handle = body.toString('latin1', 0, nul);
      const resolve = byHandle.get(handle);
      byHandle.delete(handle);
      // A large body is a buffer of its own; a small one is a view of the slab, copied.
      const result = body.subarray(nul + 1);
      resolve?.(body.length < LARGE ? Buffer.from(result) : result);
    }
  });
  await runClient(cfg, {
    submit: (payload) =>
      new Promise((resolve) => {
        created.push(resolve);
        if (payload.length < LARGE) socket.write(packet(SUBMIT_JOB, cfg.fn, '', payload));
        else writeLarge(socket, SUBMIT_JOB, [cfg.fn, ''], payload);
      }),
    submitBackground: (payload) =>
      new Promise((resolve) => {
        created.push(resolve);
        socket.write(packet(SUBMIT_JOB_BG, cfg.fn, randomUUID(), payload));
      }),
  });
} else {
  const harness = workerHarness(cfg);
  const grab = packet(GRAB_JOB_UNIQ);
  const preSleep = packet(PRE_SLEEP);
  const connectWorker = async (): Promise<void> => {
    const socket: net.Socket = await connect((type, body) => {
      if (type === NOOP) socket.write(grab);
      else if (type === NO_JOB) socket.write(preSleep);
      else if (type === JOB_ASSIGN_UNIQ) {
        // handle NUL function NUL unique NUL payload
        const first = body.indexOf(0);
        const second = body.indexOf(0, body.indexOf(0, first + 1) + 1);
        const result = harness.echo(body.subarray(second + 1));
        const handle = body.subarray(0, first);
        if (result.length < LARGE) {
          socket.write(Buffer.concat([packet(WORK_COMPLETE, handle, result), grab]));
        } else writeLarge(socket, WORK_COMPLETE, [handle], result, grab);
        harness.completed();
      }
    });
    socket.write(Buffer.concat([packet(CAN_DO, cfg.fn), grab]));
  };
  await Promise.all(Array.from({ length: cfg.connections }, connectWorker));
  harness.ready();
}
