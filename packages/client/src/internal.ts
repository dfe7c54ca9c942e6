/**
 * For gearmanode's own packages (the worker, the CLI), not for users: this entry is not covered
 * by semver and may change in any release.
 */
export {
  Connection,
  type ConnectionEvent,
  type ConnectionOptions,
  type ConnectionState,
  formatAddress,
  type ReconnectOptions,
  type ReplyHandler,
  type ServerAddress,
  type TextReplyHandler,
} from './connection.js';
export { Queue } from './queue.js';
export {
  DEFAULT_PORT,
  DEFAULT_SERVER,
  parseServer,
  parseServers,
  type ServerSpec,
} from './servers.js';
