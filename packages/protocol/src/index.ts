// The declarations name Node.js types (Buffer, Socket, EventEmitter): reference them, so that a
// project whose tsconfig lists no `types` (TypeScript 7's default) still compiles against them.
/// <reference types="node" preserve="true" />
export * from './admin.js';
export { parseDecimal } from './body.js';
export { type BodyDecoder, decodeFunctionName, parseBody } from './body-decoders.js';
export {
  checkClientId,
  checkFunctionName,
  checkInteger,
  checkUnique,
  describeValue,
} from './checks.js';
export {
  type DecoderOptions,
  PacketDecoder,
  type PacketHandler,
} from './decoder.js';
export {
  type EncodeOptions,
  encodePacket,
  encodePacketInto,
  encodePacketParts,
} from './encoder.js';
export {
  AdminError,
  ClosedError,
  ConnectionError,
  GearmanError,
  type GearmanErrorCode,
  InvalidArgumentError,
  isGearmanError,
  JobExceptionError,
  JobFailedError,
  JobSettledError,
  ProtocolError,
  type ProtocolErrorReason,
  ServerError,
  StoreError,
  type StoreErrorReason,
  TimeoutError,
} from './errors.js';
export {
  DEFAULT_MAX_PACKET_SIZE,
  HEADER_SIZE,
  MAGIC_REQ,
  MAGIC_RES,
  writeHeader,
} from './header.js';
export {
  COPY_THRESHOLD,
  DEFAULT_PORT,
  MAX_CLIENT_ID_SIZE,
  MAX_FUNCTION_NAME_SIZE,
  MAX_HANDLE_SIZE,
  MAX_REDUCER_SIZE,
  MAX_STATUS_NUMBER,
  MAX_UNIQUE_SIZE,
} from './limits.js';
export { ownPayload } from './own-payload.js';
export {
  allowsMagic,
  FIELD_KINDS,
  type FieldName,
  type Magic,
  PACKET_NAMES,
  PACKET_TYPES,
  type Packet,
  type PacketInit,
  type PacketInitOf,
  type PacketOf,
  type PacketType,
  packetName,
} from './packet-types.js';
export type { PayloadPartsHandler } from './payload-parts.js';
export {
  isSubmitType,
  REPLY_TYPES,
  SUBMIT_TYPES,
  type SubmitKind,
  type SubmitType,
  submitTypeFor,
  UNSOLICITED_TYPES,
} from './requests.js';
