/**
 * The 12-byte header every binary packet starts with
 * ([protocol.md section 2](https://github.com/gearmanode/gearmanode/blob/main/docs/protocol.md#2-binary-packet-format)):
 *
 * ```
 *  0        4         8         12                  12 + size
 *  +--------+---------+---------+-------------------+
 *  | magic  | type    | size    | arg\0arg\0...data |   magic "\0REQ" | "\0RES"
 *  +--------+---------+---------+-------------------+   type, size: uint32 big-endian
 * ```
 */
export const HEADER_SIZE = 12;

/** `\0REQ` read as a big-endian uint32. */
export const MAGIC_REQ = 0x00524551;
/** `\0RES` read as a big-endian uint32. */
export const MAGIC_RES = 0x00524553;

/** The default largest body the decoder accepts: 64 MiB. */
export const DEFAULT_MAX_PACKET_SIZE = 64 * 1024 * 1024;

/** The largest body the wire format can describe. */
export const MAX_WIRE_SIZE = 0xffffffff;

/** The bytes of a magic, in order, for checking a header as it trickles in byte by byte. */
export const MAGIC_PREFIX = [0x00, 0x52, 0x45] as const;
export const MAGIC_LAST_REQ = 0x51; // 'Q'
export const MAGIC_LAST_RES = 0x53; // 'S'
