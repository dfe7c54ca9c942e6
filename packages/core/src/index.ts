// The declarations name Node.js types (Buffer, Socket, EventEmitter): reference them, so that a
// project whose tsconfig lists no `types` (TypeScript 7's default) still compiles against them.
/// <reference types="node" preserve="true" />
// The shared layer of gearmanode's client and worker: for its own packages, with no semver
// promise of its own (see README.md).
export {
  DEFAULT_SERVER,
  formatAddress,
  parseServer,
  parseServers,
  type ServerAddress,
  type ServerSpec,
} from './address.js';
export { copyBytes } from './bytes.js';
export {
  checkBoolean,
  checkFunction,
  checkInteger,
  checkNumber,
  checkOptions,
  checkPayload,
  checkTimeout,
  describe,
  MAX_DELAY,
} from './checks.js';
export { Connection } from './connection/connection.js';
export {
  type ConnectionEvent,
  type ConnectionOptions,
  type ConnectionState,
  type ConnectionTuning,
  type ReconnectOptions,
  type ReplyHandler,
  type ResolvedConnectionTuning,
  resolveConnectionTuning,
  type TextReplyHandler,
  TUNING_DEFAULTS,
  TUNING_KEYS,
  tuningOf,
} from './connection/options.js';
export type { FrameWriter } from './connection/outbox.js';
export { Deadlines, type Timed } from './deadlines.js';
export {
  anySubscribed,
  byteLength,
  type ClientRetryMessage,
  type ClientSubmitContext,
  type ConnectMessage,
  DIAGNOSTICS_CHANNELS,
  type DisconnectMessage,
  isTraced,
  jobChannel,
  type Mutable,
  publishConnectionEvent,
  type ReconnectingMessage,
  retryChannel,
  type SubmitPriority,
  settleTrace,
  startTrace,
  submitChannel,
  type WorkerJobContext,
  type WorkerJobOutcome,
} from './diagnostics.js';
export { EventChannel } from './event-channel.js';
export { Queue } from './queue.js';
