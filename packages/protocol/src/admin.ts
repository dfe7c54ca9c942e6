/**
 * The admin text protocol
 * ([protocol.md section 9](https://github.com/gearmanode/gearmanode/blob/main/docs/protocol.md#9-admin-text-protocol)):
 * commands as data, their encoding, and an incremental parser of the replies for clients; request
 * parsing and reply encoding for servers. Like the binary codec it does no I/O.
 */
export {
  ADMIN_REPLY_SHAPES,
  type AdminCommand,
  type AdminCommandName,
  type AdminCommandOf,
  type AdminReplyShape,
  encodeAdminCommand,
  MAX_ADMIN_LINE_BYTES,
  MAX_QUEUE_LIMIT,
  type MaxQueueLimits,
} from './admin/commands.js';
export { ADMIN_SENTENCE_CODES } from './admin/err-line.js';
export {
  type AdminParserOptions,
  type AdminReply,
  type AdminReplyHandler,
  AdminResponseParser,
  DEFAULT_MAX_ADMIN_LINE_LENGTH,
  DEFAULT_MAX_ADMIN_LIST_BYTES,
} from './admin/parser.js';
export type {
  AdminResultMap,
  FunctionPriorityStatus,
  FunctionStatus,
  JobInfo,
  ServerVersion,
  WorkerInfo,
} from './admin/results.js';
export {
  type AdminRequest,
  encodeAdminError,
  encodeAdminReply,
  MAX_ADMIN_WORDS,
  parseAdminRequest,
} from './admin/server.js';
