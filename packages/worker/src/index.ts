// The declarations name Node.js types (Buffer, Socket, EventEmitter): reference them, so that a
// project whose tsconfig lists no `types` (TypeScript 7's default) still compiles against them.
/// <reference types="node" preserve="true" />
export {
  type ConnectMessage,
  DIAGNOSTICS_CHANNELS,
  type DisconnectMessage,
  type ReconnectingMessage,
  type WorkerJobContext,
  type WorkerJobOutcome,
} from '@gearmanode/core';
export * from './errors.js';
export type { GrabState } from './grab-loop.js';
export type { Job } from './job.js';
export type {
  FunctionSpec,
  GrabMode,
  WorkerOptions,
} from './options.js';
export { createWorker } from './worker.js';
export type {
  CloseOptions,
  JobHandler,
  JobResult,
  ProcessOptions,
  RegisterOptions,
  ServerStats,
  Worker,
  WorkerEvent,
  WorkerState,
  WorkerStats,
} from './worker-types.js';
