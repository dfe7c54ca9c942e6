import {
  encodePacket,
  type Magic,
  type Packet,
  PacketDecoder,
  type PacketInit,
} from '@gearmanode/protocol';
import { type RawConnection, rawConnect } from '../../../test/helpers.js';

/** Where a job server listens. */
export interface Endpoint {
  host: string;
  port: number;
}

/**
 * A raw protocol connection for conformance tests: writes packets through the codec (or raw
 * bytes), reads binary packets and admin lines back in order.
 */
export class Wire implements AsyncDisposable {
  readonly raw: RawConnection;
  /** The magic of the packet `packet()` returned last. */
  lastMagic: Magic | undefined;

  private constructor(raw: RawConnection) {
    this.raw = raw;
  }

  static async open(endpoint: Endpoint): Promise<Wire> {
    return new Wire(await rawConnect(endpoint.host, endpoint.port));
  }

  /** Writes packets (or raw bytes, or admin text) in one write. */
  send(...items: (PacketInit | Uint8Array | string)[]): Promise<void> {
    const chunks = items.map((item) =>
      typeof item === 'string'
        ? Buffer.from(item)
        : item instanceof Uint8Array
          ? Buffer.from(item)
          : encodePacket(item),
    );
    return this.raw.write(Buffer.concat(chunks));
  }

  /** Reads the next binary packet. */
  async packet(timeout = 5000): Promise<Packet> {
    const header = await this.raw.read(12, timeout);
    const body = await this.raw.read(header.readUInt32BE(8), timeout);
    let decoded: Packet | undefined;
    new PacketDecoder((packet, magic) => {
      decoded = packet;
      this.lastMagic = magic;
    }).push(Buffer.concat([header, body]));
    if (decoded === undefined) throw new Error('no packet decoded');
    return decoded;
  }

  /** Reads the next binary packet's header and raw body, undecoded. */
  async rawPacket(timeout = 5000): Promise<{ type: number; body: Buffer }> {
    const header = await this.raw.read(12, timeout);
    return {
      type: header.readUInt32BE(4),
      body: await this.raw.read(header.readUInt32BE(8), timeout),
    };
  }

  /** Reads `count` binary packets. */
  async packets(count: number, timeout = 5000): Promise<Packet[]> {
    const packets: Packet[] = [];
    for (let i = 0; i < count; i++) packets.push(await this.packet(timeout));
    return packets;
  }

  /** Reads one admin line, without its line ending. */
  line(timeout = 5000): Promise<string> {
    return this.raw.readLine(timeout);
  }

  /** Sends an admin command and reads one line. */
  async command(line: string): Promise<string> {
    await this.send(`${line}\r\n`);
    return this.line();
  }

  /** Sends an admin command and reads a list response up to its `.` (or one `ERR` line). */
  async list(line: string): Promise<string[]> {
    await this.send(`${line}\r\n`);
    const lines: string[] = [];
    for (;;) {
      const next = await this.line();
      if (next === '.') return lines;
      if (lines.length === 0 && next.startsWith('ERR ')) return [next];
      lines.push(next);
    }
  }

  /** Resolves if nothing arrives for `ms`; rejects with what did arrive, or if the socket closed. */
  async silence(ms = 250): Promise<void> {
    let received: Buffer;
    try {
      received = await this.raw.readUntil((buffer) => buffer.length > 0, ms);
    } catch (error) {
      if (error instanceof Error && error.message.includes('timed out')) return;
      throw error;
    }
    throw new Error(`expected silence, received ${received.toString('hex')}`);
  }

  /** Whether the server closes the connection within `ms`. */
  async closesWithin(ms: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), ms);
    });
    const closed = await Promise.race([this.raw.closed.then(() => true as const), timeout]);
    clearTimeout(timer);
    return closed;
  }

  close(): Promise<void> {
    return this.raw.close();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
