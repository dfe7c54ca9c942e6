// The declarations name Node.js types (Buffer, Socket, EventEmitter): reference them, so that a
// project whose tsconfig lists no `types` (TypeScript 7's default) still compiles against them.
/// <reference types="node" preserve="true" />
export * from './errors.js';
export type { GrabState } from './grab-loop.js';
export type { Job } from './job.js';
export type {
  FunctionSpec,
  GrabMode,
  RegisterOptions,
  WorkerOptions,
} from './options.js';
export {
  type CloseOptions,
  createWorker,
  type JobHandler,
  type JobResult,
  type ProcessOptions,
  type ServerStats,
  type Worker,
  type WorkerEvent,
  type WorkerState,
  type WorkerStats,
} from './worker.js';
