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
