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
