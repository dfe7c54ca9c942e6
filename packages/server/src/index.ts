// The declarations name Node.js types (Buffer, Socket, EventEmitter): reference them, so that a
// project whose tsconfig lists no `types` (TypeScript 7's default) still compiles against them.
/// <reference types="node" preserve="true" />
export * from './errors.js';
export {
  DEFAULT_HOST,
  DEFAULT_PORT,
  type ServerLogger,
  type ServerOptions,
  type ServerTlsOptions,
} from './options.js';
export {
  type CloseOptions,
  createServer,
  type GearmanServer,
  type ServerAddress,
  type ServerState,
} from './server.js';
export { VERSION } from './version.js';
