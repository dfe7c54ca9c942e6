/**
 * The gearmanode error hierarchy, re-exported from `@gearmanode/protocol` so that errors can be
 * classified by `code` whichever package threw them. The server itself only throws
 * `InvalidArgumentError` (`ERR_INVALID_ARGUMENT`) for bad options and `StoreError`
 * (`ERR_STORE`) for a store it cannot use; protocol errors of peers
 * (`ProtocolError`, `ERR_PROTOCOL`) disconnect that peer and go to the logger.
 */
export {
  GearmanError,
  type GearmanErrorCode,
  InvalidArgumentError,
  isGearmanError,
  ProtocolError,
  type ProtocolErrorReason,
  StoreError,
  type StoreErrorReason,
} from '@gearmanode/protocol';
