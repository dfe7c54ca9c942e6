import type { ReplyHandler } from '@gearmanode/core';
import { type GearmanError, type Packet, TimeoutError } from '@gearmanode/protocol';

/**
 * The reply handler of one non-job request (GET_STATUS, ECHO_REQ): a promise with an optional
 * timeout and abort signal of its own. A request that gave up still owns its slot in the
 * connection's reply queue, so the late reply is consumed here and dropped.
 */
export class PendingRequest implements ReplyHandler {
  readonly #resolve: (packet: Packet) => void;
  readonly #reject: (error: unknown) => void;
  readonly #signal: AbortSignal | undefined;
  readonly #onSettle: () => void;
  #timer: NodeJS.Timeout | undefined;
  #settled = false;

  constructor(
    what: string,
    resolve: (packet: Packet) => void,
    reject: (error: unknown) => void,
    timeout: number,
    signal: AbortSignal | undefined,
    onSettle: () => void,
  ) {
    this.#resolve = resolve;
    this.#reject = reject;
    this.#signal = signal;
    this.#onSettle = onSettle;
    if (timeout > 0) {
      this.#timer = setTimeout(
        () => this.#finish(new TimeoutError(`${what} timed out after ${timeout} ms`)),
        timeout,
      );
    }
    signal?.addEventListener('abort', this, { once: true });
  }

  onReply(packet: Packet): void {
    if (this.#settled) return;
    this.#cleanup();
    this.#resolve(packet);
  }

  onError(error: GearmanError): void {
    this.#finish(error);
  }

  handleEvent(): void {
    this.#finish(this.#signal?.reason);
  }

  #finish(error: unknown): void {
    if (this.#settled) return;
    this.#cleanup();
    this.#reject(error);
  }

  #cleanup(): void {
    this.#settled = true;
    clearTimeout(this.#timer);
    this.#signal?.removeEventListener('abort', this);
    this.#onSettle();
  }
}
