// The declarations name Node.js types (Buffer, Socket, EventEmitter): reference them, so that a
// project whose tsconfig lists no `types` (TypeScript 7's default) still compiles against them.
/// <reference types="node" preserve="true" />
export {
  type ClientRetryMessage,
  type ClientSubmitContext,
  type ConnectionTuning,
  type ConnectMessage,
  DIAGNOSTICS_CHANNELS,
  type DisconnectMessage,
  type ReconnectingMessage,
  type ReconnectOptions,
  type ServerAddress,
  type ServerSpec,
  type SubmitPriority,
} from '@gearmanode/core';
export type {
  FunctionPriorityStatus,
  FunctionStatus,
  JobInfo,
  MaxQueueLimits,
  ServerVersion,
  WorkerInfo,
} from '@gearmanode/protocol';
export { type Admin, type AdminCallOptions, type AdminOptions, createAdmin } from './admin.js';
export { createClient } from './client.js';
export type {
  Client,
  ClientEvent,
  ClientState,
  ClientStats,
  JobStatus,
  ServerStats,
  UniqueJobStatus,
} from './client-types.js';
export * from './errors.js';
export type { JobEvent, JobRun } from './job-run.js';
export type {
  BackgroundOptions,
  ClientOptions,
  CloseOptions,
  JobOptions,
  Payload,
  Priority,
  RequestOptions,
  RetryOptions,
  Strategy,
  SubmitOptions,
} from './options.js';
