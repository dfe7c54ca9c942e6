import { performance } from 'node:perf_hooks';
import type { EventChannel } from '@gearmanode/core';
import type { GearmanError, Packet } from '@gearmanode/protocol';
import { RawAssignment } from './assignment.js';
import type { Counter } from './counters.js';
import { type Assignment, jobPayload, reducerOf, uniqueOf } from './grab-replies.js';
import type { HeldJobs } from './held-jobs.js';
import { JobImpl } from './job.js';
import type { GrabPacket, ServerLink } from './server-link.js';
import type { WorkerEvent } from './worker-types.js';

/**
 * The job that `packet`, a link's JOB_ASSIGN*, assigns: a job of function `name` (the packet's,
 * read once by the caller) with the time limit `timeout`, held by `jobs`.
 */
export function assignedJob(
  jobs: HeldJobs,
  link: ServerLink,
  name: string,
  timeout: number,
  packet: Assignment,
): JobImpl {
  // Mostly a RawAssignment (assignment.ts): its handle and unique stay bytes (the job makes
  // the strings on first read), and its payload is copied already.
  const raw = packet instanceof RawAssignment ? packet : undefined;
  return new JobImpl(
    jobs,
    link,
    link.server,
    link.connection.generation,
    timeout,
    name,
    raw === undefined ? packet.handle : undefined,
    raw === undefined ? uniqueOf(packet) : undefined,
    raw === undefined ? reducerOf(packet) : '',
    raw === undefined ? jobPayload(packet.payload) : raw.payload,
    raw,
  );
}

/**
 * Takes a packet outside the grab cycle that a link received (NOOP, or an ERROR answering a
 * report); returns whether the worker should send GRABs now.
 */
export function takeLinkPacket(
  link: ServerLink,
  packet: Packet,
  counters: Record<Counter, number>,
  events: EventChannel<WorkerEvent>,
): boolean {
  if (packet.type === 'NOOP') return link.loop.noop(performance.now());
  if (packet.type === 'ERROR') {
    // Only ERRORs that answer a report arrive here (the connection matches the rest to their
    // requests). JOB_NOT_FOUND answers a report for a job the server took back (a server-side
    // timeout, or a CANT_DO). Expected and harmless: the job runs elsewhere (protocol.md
    // section 12).
    if (packet.code === 'JOB_NOT_FOUND') {
      counters.jobNotFound++;
      return false;
    }
    // Any other refusal (Gearman::Server: `server_error` for WORK_DATA and WORK_WARNING, which
    // it does not know; `not_worker` for a report of a job this socket does not hold) costs
    // that report only: the job and the socket go on.
    counters.reportRefused++;
    events.push({
      type: 'report-refused',
      server: link.server,
      code: packet.code,
      message: packet.message,
    });
  }
  // Anything else (WORK_* relayed to clients) cannot be meant for a connection that submits
  // nothing; ignore it.
  return false;
}

/**
 * Takes the failure of a link's GRAB of type `packet`; returns whether the worker should send
 * GRABs now.
 */
export function takeGrabError(
  link: ServerLink,
  error: GearmanError,
  packet: GrabPacket,
  events: EventChannel<WorkerEvent>,
): boolean {
  const now = performance.now();
  if (error.code !== 'ERR_SERVER') {
    // The socket went away; the disconnect event follows and resets the loop.
    link.loop.grabFailed(now);
    return false;
  }
  // The server does not know this GRAB: grab again at once with a simpler one if there is
  // one, else treat the refusal as NO_JOB, so that the loop sleeps and polls, not spins.
  const fallback = link.refused(packet);
  events.push({ type: 'grab-refused', server: link.server, packet, fallback, error });
  if (fallback === undefined) {
    link.noJob();
    return false;
  }
  link.loop.grabFailed(now);
  return true;
}
