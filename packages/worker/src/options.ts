import {
  type ConnectionTuning,
  checkFunction,
  checkInteger,
  checkTimeout,
  MAX_DELAY,
  type ResolvedConnectionTuning,
  resolveConnectionTuning,
  type ServerSpec,
} from '@gearmanode/core';
import { checkClientId, checkFunctionName, InvalidArgumentError } from '@gearmanode/protocol';
import type { JobHandler, RegisterOptions } from './worker-types.js';

/** How to ask for jobs: GRAB_JOB_UNIQ, or GRAB_JOB_ALL to also learn the reducer. */
export type GrabMode = 'uniq' | 'all';

/** A function to register, with its time limit. */
export interface FunctionSpec {
  name: string;
  /** Time limit per job in ms; 0 for none. @default the worker's `timeout` */
  timeout?: number;
}

/** Options of `createWorker()`. */
export interface WorkerOptions extends ConnectionTuning {
  /**
   * Job servers: `'host:port'`, `{ host, port }` or `{ path }`, or `'host:port,host:port'`. The
   * worker connects to all of them and takes jobs from any.
   * @default ['127.0.0.1:4730']
   */
  servers?: readonly ServerSpec[] | string;
  /** The most jobs held at once (yielded and not yet settled). @default 1 */
  concurrency?: number;
  /** Functions to register at once; more with `register()`. @default [] */
  functions?: readonly (string | FunctionSpec)[];
  /**
   * Names this worker in the server's `workers` listing (SET_CLIENT_ID): at most 127 bytes, no
   * spaces or control characters. @default none
   */
  clientId?: string;
  /**
   * `'uniq'` sends GRAB_JOB_UNIQ; `'all'` sends GRAB_JOB_ALL, whose replies also carry a reduce
   * job's reducer (`job.reducer`). @default 'uniq'
   */
  grabMode?: GrabMode;
  /**
   * While a server has no work, grab again after this many ms even without a NOOP: gearmand
   * sends none when an epoch job falls due
   * ([protocol.md section 11](https://github.com/gearmanode/gearmanode/blob/main/docs/protocol.md#11-gearmand-1120-as-observed),
   * item 26). Also the longest delay of the spin backoff. @default 1000
   */
  pollInterval?: number;
  /** Default time limit per job in ms for functions registered without one; 0 for none. @default 0 */
  timeout?: number;
  /**
   * Also register functions that have a time limit with CAN_DO_TIMEOUT, so that the server takes
   * the job back at the deadline. **Hazardous on gearmand 1.1.20**: its timer outlives the job
   * and has re-delivered finished jobs, corrupted counters and hung the server
   * ([protocol.md section 11](https://github.com/gearmanode/gearmanode/blob/main/docs/protocol.md#11-gearmand-1120-as-observed),
   * item 25). The worker enforces time limits itself either way. @default false
   */
  serverTimeout?: boolean;
}

/** `WorkerOptions` with defaults applied and values checked. */
export interface ResolvedWorkerOptions extends ResolvedConnectionTuning {
  servers: readonly ServerSpec[] | string | undefined;
  concurrency: number;
  functions: { name: string; timeout: number }[];
  clientId: string | undefined;
  grabMode: GrabMode;
  pollInterval: number;
  timeout: number;
  serverTimeout: boolean;
}

/**
 * The time limit and the handler of a `register(name, options?, handler?)` call.
 * @throws InvalidArgumentError for a bad name, options or handler.
 */
export function registerArgs(
  name: string,
  optionsOrHandler: RegisterOptions | JobHandler | undefined,
  handler: JobHandler | undefined,
  defaultTimeout: number,
): { timeout: number; run: JobHandler | undefined } {
  const options = typeof optionsOrHandler === 'function' ? {} : (optionsOrHandler ?? {});
  const run = typeof optionsOrHandler === 'function' ? optionsOrHandler : handler;
  checkFunctionName(name);
  if (typeof options !== 'object' || options === null) {
    throw new InvalidArgumentError('options', 'must be register options or a handler function');
  }
  const timeout = checkTimeout(options.timeout, 'timeout', defaultTimeout);
  if (run !== undefined) checkFunction<JobHandler>(run, 'handler');
  return { timeout, run };
}

/**
 * Applies the defaults and checks every option.
 * @throws InvalidArgumentError naming the option at fault.
 */
export function resolveOptions(options: WorkerOptions = {}): ResolvedWorkerOptions {
  if (options === null || typeof options !== 'object') {
    throw new InvalidArgumentError('options', 'must be an object');
  }
  const concurrency = checkInteger(options.concurrency, 'concurrency', 1, 1, 1_000_000);
  const pollInterval = checkInteger(options.pollInterval, 'pollInterval', 1000, 10, MAX_DELAY);
  const timeout = checkTimeout(options.timeout, 'timeout', 0);
  const grabMode = options.grabMode ?? 'uniq';
  if (grabMode !== 'uniq' && grabMode !== 'all') {
    throw new InvalidArgumentError('grabMode', `must be 'uniq' or 'all', got ${String(grabMode)}`);
  }
  const clientId = options.clientId;
  if (clientId !== undefined) checkClientId(clientId, 'clientId');
  const list = options.functions ?? [];
  if (!Array.isArray(list)) throw new InvalidArgumentError('functions', 'must be an array');
  const functions = list.map((spec, i) => {
    const field = `functions[${i}]`;
    if (typeof spec === 'string') return { name: checkFunctionName(spec, field), timeout };
    if (spec === null || typeof spec !== 'object') {
      throw new InvalidArgumentError(field, 'must be a name or { name, timeout }');
    }
    return {
      name: checkFunctionName(spec.name, `${field}.name`),
      timeout: checkTimeout(spec.timeout, `${field}.timeout`, timeout),
    };
  });
  const tuning = resolveConnectionTuning(options);
  return {
    servers: options.servers,
    concurrency,
    functions,
    clientId,
    grabMode,
    pollInterval,
    timeout,
    serverTimeout: options.serverTimeout === true,
    ...tuning,
  };
}
