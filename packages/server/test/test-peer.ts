import {
  encodePacket,
  type Magic,
  type Packet,
  PacketDecoder,
  type PacketInit,
} from '@gearmanode/protocol';
import { Dispatcher, type DispatcherOptions } from '../src/dispatcher.js';
import { Peer } from '../src/model.js';

let nextId = 1;

/**
 * A dispatcher as the unit tests use it (handles `H:t:N`, no retries, no queue limit), and a
 * maker of peers attached to it.
 */
export function testDispatcher(options: Partial<DispatcherOptions> = {}) {
  const dispatcher = new Dispatcher({
    handlePrefix: 'H:t',
    jobRetries: 0,
    maxQueue: 0,
    logger: undefined,
    onShutdown: () => {},
    ...options,
  });
  const peer = () => {
    const p = new TestPeer();
    dispatcher.attach(p);
    return p;
  };
  return { dispatcher, peer };
}

/** A peer without a socket: records what the dispatcher sends it. */
export class TestPeer extends Peer {
  frames: Buffer[] = [];
  isCongested = false;
  pausedFor: Peer[] = [];

  constructor(remoteAddress = '127.0.0.1') {
    super(nextId++, remoteAddress);
  }

  protected write(frame: Buffer): void {
    this.frames.push(frame);
  }

  get congested(): boolean {
    return this.isCongested;
  }

  pauseUntilDrained(other: Peer): void {
    this.pausedFor.push(other);
  }

  /** Decodes and forgets everything sent so far (binary packets only). */
  take(): Packet[] {
    const packets: Packet[] = [];
    new PacketDecoder((packet) => packets.push(packet)).push(Buffer.concat(this.frames));
    this.frames = [];
    return packets;
  }

  /** Everything sent so far as text (admin responses), forgotten afterwards. */
  text(): string {
    const text = Buffer.concat(this.frames).toString('utf8');
    this.frames = [];
    return text;
  }
}

/** Encodes and decodes `init`, so that the dispatcher gets exactly what the codec produces. */
export function packet(init: PacketInit, magic: Magic = 'REQ'): Packet {
  const bytes = encodePacket(init);
  if (magic === 'RES') bytes[3] = 0x53; // 'S': the same packet under the other magic
  let decoded: Packet | undefined;
  new PacketDecoder((p) => {
    decoded = p;
  }).push(bytes);
  if (decoded === undefined) throw new Error(`${init.type} did not decode`);
  return decoded;
}

/**
 * Decodes raw bytes and hands the packets from `peer` to `dispatcher`, with their bodies as
 * received, as a connection does.
 */
export function deliver(dispatcher: Dispatcher, peer: Peer, bytes: Buffer): void {
  new PacketDecoder((p, magic, body, start, end) =>
    dispatcher.handlePacket(peer, p, magic, body, start, end),
  ).push(bytes);
}

/** Sends packets from `peer` to `dispatcher`. */
export function from(dispatcher: Dispatcher, peer: Peer, ...inits: PacketInit[]): void {
  for (const init of inits) dispatcher.handlePacket(peer, packet(init), 'REQ');
}
