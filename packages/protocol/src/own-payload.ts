import { Buffer } from 'node:buffer';

/**
 * The decoder hands out payloads as views into its read buffers (no copy). A payload kept
 * longer than the packet, such as a job's or a result, would pin a whole read buffer for a few
 * bytes: this copies such a view when the buffer behind it is much larger, and returns
 * anything else as it is.
 */
export function ownPayload(view: Buffer): Buffer {
  const extra = view.buffer.byteLength - view.byteLength;
  return extra > 4096 && extra > view.byteLength ? Buffer.from(view) : view;
}
