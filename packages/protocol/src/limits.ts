/**
 * Sizes the SDK keeps to
 * ([protocol.md section 10](https://github.com/gearmanode/gearmanode/blob/main/docs/protocol.md#10-limits)).
 * gearmand 1.1.20 accepts a 64-byte unique but stores it cut to 63 and then mishandles the job
 * (section 11, item 16), so 63 is the limit.
 */
export const MAX_UNIQUE_SIZE = 63;
/** gearmand checks reducers against 64 bytes; keep one below, as for uniques. */
export const MAX_REDUCER_SIZE = 63;
/** gearmand's handles fit 63 bytes; longer ones from a server are suspect. */
export const MAX_HANDLE_SIZE = 63;
/** WORK_STATUS numbers are stored as uint32 by gearmand. */
export const MAX_STATUS_NUMBER = 0xffffffff;
/** Payloads at least this large are written as a separate chunk instead of being copied. */
export const COPY_THRESHOLD = 64 * 1024;
/** The port IANA assigned to Gearman. */
export const DEFAULT_PORT = 4730;
/**
 * gearmand keeps the first 127 bytes of a SET_CLIENT_ID
 * ([protocol.md section 10](https://github.com/gearmanode/gearmanode/blob/main/docs/protocol.md#10-limits)).
 */
export const MAX_CLIENT_ID_SIZE = 127;
/**
 * libgearman's longest function name
 * ([protocol.md section 10](https://github.com/gearmanode/gearmanode/blob/main/docs/protocol.md#10-limits)).
 */
export const MAX_FUNCTION_NAME_SIZE = 512;
