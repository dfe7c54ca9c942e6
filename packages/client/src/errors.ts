/**
 * The one error hierarchy of gearmanode, re-exported from `@gearmanode/protocol`: classify
 * errors by their stable `code` (see the README's table).
 */
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
  TimeoutError,
} from '@gearmanode/protocol';
