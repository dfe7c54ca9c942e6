import type { Magic } from './packet-types.js';

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

/**
 * Writes a header into `target` at `at`: `magic`, the type's number and the body's `size`, for
 * frames built by hand around bytes one already has (a job server's JOB_ASSIGN from the
 * submission's body, say). Byte stores, not `writeUInt32BE`, which checks its arguments on
 * every call. Nothing is checked: `type` is a packet type's number, `size` the body's length.
 */
export function writeHeader(
  target: Uint8Array,
  at: number,
  magic: Magic,
  type: number,
  size: number,
): void {
  target[at] = 0;
  target[at + 1] = 0x52; // R
  target[at + 2] = 0x45; // E
  target[at + 3] = magic === 'REQ' ? MAGIC_LAST_REQ : MAGIC_LAST_RES;
  target[at + 4] = type >>> 24;
  target[at + 5] = (type >>> 16) & 0xff;
  target[at + 6] = (type >>> 8) & 0xff;
  target[at + 7] = type & 0xff;
  target[at + 8] = size >>> 24;
  target[at + 9] = (size >>> 16) & 0xff;
  target[at + 10] = (size >>> 8) & 0xff;
  target[at + 11] = size & 0xff;
}
