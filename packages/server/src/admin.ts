import type { FunctionEntry, Job, QueueLimits } from './jobs.js';
import type { Peer } from './peer.js';

/**
 * The admin text protocol, server side (protocol.md section 9): parsing command lines and
 * formatting the answers exactly as gearmand 1.1.20 does, plus `shutdown [graceful]`, which
 * gearmand dropped in 1.1.15.
 */

/** A parsed admin line. `error` carries the complete response; `disconnect` drops the peer. */
export type AdminCommand =
  | { name: 'status' }
  | { name: 'prioritystatus' }
  | { name: 'workers' }
  | { name: 'show jobs' }
  | { name: 'show unique jobs' }
  | { name: 'cancel job'; handle: string }
  | { name: 'create function'; functionName: string }
  | { name: 'drop function'; functionName: string }
  | { name: 'maxqueue'; functionName: string; limits: QueueLimits }
  | { name: 'getpid' }
  | { name: 'version' }
  | { name: 'verbose' }
  | { name: 'shutdown'; graceful: boolean }
  | { name: 'error'; response: string }
  | { name: 'disconnect' };

// gearmand drops the connection on a line of six words or more (protocol.md 9.1).
const MAX_WORDS = 5;

const OK = 'OK\r\n';

function unknownCommand(word: string): AdminCommand {
  // PROTOCOL 9.2: no separator between the message and the word.
  return { name: 'error', response: `ERR UNKNOWN_COMMAND Unknown+server+command${word}\r\n` };
}

function incomplete(word: string): AdminCommand {
  return {
    name: 'error',
    response: `ERR INVALID_ARGUMENTS An+incomplete+set+of+arguments+was+sent+to+this+command+${word}\r\n`,
  };
}

/**
 * Splits an admin line (without its line ending) as gearmand does: on spaces, runs of spaces
 * counting as one except before the first word, so ` status` has an empty command word.
 */
export function splitAdminLine(line: string): string[] {
  const parts = line.split(' ');
  const words = [parts[0] as string];
  for (let i = 1; i < parts.length; i++) if (parts[i] !== '') words.push(parts[i] as string);
  return words;
}

/** A maxqueue number: leading digits as gearmand's atoi reads them; negative or none is 0. */
function parseLimit(word: string): number {
  const value = Number.parseInt(word, 10);
  return Number.isSafeInteger(value) && value > 0 ? value : 0;
}

/** Parses one admin line into a command, or into the error response gearmand would give. */
export function parseAdminLine(line: string): AdminCommand {
  const words = splitAdminLine(line);
  if (words.length > MAX_WORDS) return { name: 'disconnect' };
  const word = words[0] as string;
  const count = words.length;
  switch (word.toLowerCase()) {
    case 'status':
      return { name: 'status' };
    case 'prioritystatus':
      return { name: 'prioritystatus' };
    case 'workers':
      return { name: 'workers' };
    case 'getpid':
      return { name: 'getpid' };
    case 'version':
      return { name: 'version' };
    case 'verbose':
      return { name: 'verbose' };
    case 'show': {
      if (count === 1) return unknownCommand(word);
      const what = words.slice(1).join(' ').toLowerCase();
      if (what === 'jobs') return { name: 'show jobs' };
      if (what === 'unique jobs') return { name: 'show unique jobs' };
      return { name: 'error', response: 'ERR UNKNOWN_SHOW_ARGUMENTS\r\n' };
    }
    case 'cancel':
      if (count < 3) return unknownCommand(word);
      if (count > 3 || words[1]?.toLowerCase() !== 'job') {
        return { name: 'error', response: 'ERR UNKNOWN_ERROR\r\n' };
      }
      return { name: 'cancel job', handle: words[2] as string };
    case 'create':
    case 'drop':
      if (count !== 3 || words[1]?.toLowerCase() !== 'function') return incomplete(word);
      return {
        name: word.toLowerCase() === 'create' ? 'create function' : 'drop function',
        functionName: words[2] as string,
      };
    case 'maxqueue': {
      if (count < 2) return incomplete(word);
      const functionName = words[1] as string;
      const numbers = words.slice(2).map(parseLimit);
      let limits: QueueLimits;
      if (numbers.length === 0) limits = [0, 0, 0];
      else if (numbers.length === 1) limits = [numbers[0] ?? 0, numbers[0] ?? 0, numbers[0] ?? 0];
      else limits = [numbers[0] ?? 0, numbers[1] ?? 0, numbers[2] ?? 0];
      return { name: 'maxqueue', functionName, limits };
    }
    case 'shutdown':
      if (count === 1) return { name: 'shutdown', graceful: false };
      if (count === 2 && words[1]?.toLowerCase() === 'graceful') {
        return { name: 'shutdown', graceful: true };
      }
      // The answer gearmand gave before it removed the command.
      return {
        name: 'error',
        response: 'ERR UNKNOWN_ARGS Unknown+arguments+to+server+command\r\n',
      };
    default:
      return unknownCommand(word);
  }
}

/** `status`: `function\ttotal\trunning\tworkers` lines, then `.`. */
export function formatStatus(functions: Iterable<FunctionEntry>): string {
  let out = '';
  for (const fn of functions) {
    out += `${fn.name}\t${fn.total}\t${fn.running}\t${fn.registrations}\n`;
  }
  return `${out}.\n`;
}

/** `prioritystatus`: queued jobs per priority; pending epoch jobs count as normal. */
export function formatPriorityStatus(functions: Iterable<FunctionEntry>): string {
  let out = '';
  for (const fn of functions) {
    const [high, normal, low] = fn.queues;
    out += `${fn.name}\t${high.length}\t${normal.length + fn.delayed}\t${low.length}\t${fn.registrations}\n`;
  }
  return `${out}.\n`;
}

/** `workers`: `id address client-id : functions…`, functions newest first, one line per peer. */
export function formatWorkers(peers: Iterable<Peer>): string {
  let out = '';
  for (const peer of peers) {
    let line = `${peer.id} ${peer.remoteAddress} ${peer.clientId} :`;
    const registrations = peer.registrations;
    for (let i = registrations.length - 1; i >= 0; i--) line += ` ${registrations[i]?.fn.name}`;
    out += `${line}\n`;
  }
  return `${out}.\n`;
}

/** `show jobs`: `handle\tretries\tignored\tpersisted`; background jobs count as persisted. */
export function formatJobs(jobs: Iterable<Job>): string {
  let out = '';
  for (const job of jobs) {
    out += `${job.handle}\t${job.retries}\t${job.abandoned ? 1 : 0}\t${job.background ? 1 : 0}\n`;
  }
  return `${out}.\n`;
}

/** `show unique jobs`: every job's unique, an empty line for an empty one. */
export function formatUniqueJobs(jobs: Iterable<Job>): string {
  let out = '';
  for (const job of jobs) out += `${job.unique}\n`;
  return `${out}.\n`;
}

/** What the admin commands need from the server. */
export interface AdminContext {
  functions(): Iterable<FunctionEntry>;
  /** Every connection, newest first. */
  peers(): Iterable<Peer>;
  jobs(): Iterable<Job>;
  /** Cancels a job; false when there is no such job. */
  cancelJob(handle: string): boolean;
  createFunction(name: string): void;
  dropFunction(name: string): 'dropped' | 'busy' | 'missing';
  setMaxQueue(name: string, limits: QueueLimits): void;
  /** Starts a shutdown after the reply has been queued. */
  shutdown(graceful: boolean): void;
  readonly pid: number;
  readonly version: string;
  readonly verbose: string;
}

/** Runs a command; returns the response text, or undefined to drop the connection. */
export function executeAdmin(command: AdminCommand, context: AdminContext): string | undefined {
  switch (command.name) {
    case 'status':
      return formatStatus(context.functions());
    case 'prioritystatus':
      return formatPriorityStatus(context.functions());
    case 'workers':
      return formatWorkers(context.peers());
    case 'show jobs':
      return formatJobs(context.jobs());
    case 'show unique jobs':
      return formatUniqueJobs(context.jobs());
    case 'cancel job':
      return context.cancelJob(command.handle) ? OK : 'ERR UNKNOWN_JOB\r\n';
    case 'create function':
      context.createFunction(command.functionName);
      return OK;
    case 'drop function':
      switch (context.dropFunction(command.functionName)) {
        case 'dropped':
          return OK;
        case 'busy':
          return 'ERR there are still connected workers or executing clients\r\n';
        case 'missing':
          return 'ERR function not found\r\n';
      }
      break;
    case 'maxqueue':
      context.setMaxQueue(command.functionName, command.limits);
      return OK;
    case 'getpid':
      return `OK ${context.pid}\n`;
    case 'version':
      return `OK ${context.version}\n`;
    case 'verbose':
      return `OK ${context.verbose}\n`;
    case 'shutdown':
      context.shutdown(command.graceful);
      return OK;
    case 'error':
      return command.response;
    case 'disconnect':
      return undefined;
  }
}
