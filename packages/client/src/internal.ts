/**
 * For gearmanode's own packages (the worker, the CLI), not for users: this entry is not covered
 * by semver and may change in any release.
 */
export {
  Connection,
  type ConnectionEvent,
  type ConnectionOptions,
  type ConnectionState,
  type ConnectionTuning,
  formatAddress,
  type ReconnectOptions,
  type ReplyHandler,
  type ServerAddress,
  type TextReplyHandler,
} from './connection.js';
export { DeadlineHeap } from './deadlines.js';
export { EventChannel } from './event-channel.js';
export {
  checkFunctionName,
  integer,
  MAX_DELAY,
  type ResolvedConnectionTuning,
  resolveConnectionTuning,
  tuningOf,
} from './options.js';
export { fnv1a, ServerPool, weight } from './pool.js';
export { Queue } from './queue.js';
export {
  DEFAULT_PORT,
  DEFAULT_SERVER,
  parseServer,
  parseServers,
  type ServerSpec,
} from './servers.js';

import { DEBUG_STATE } from './client.js';
import type { Client, ClientDebugState } from './client-types.js';

export type { ClientDebugState };

/**
 * The client's internal bookkeeping, for tests: every count is 0 once the client is idle and
 * every job has settled (ghosts leave with their job's terminal packet).
 */
export function debugState(client: Client): ClientDebugState {
  return (client as unknown as { [DEBUG_STATE](): ClientDebugState })[DEBUG_STATE]();
}
