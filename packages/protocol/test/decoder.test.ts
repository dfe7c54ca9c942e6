import { afterEach, describe, expect, test, vi } from 'vitest';
import {
  DEFAULT_MAX_PACKET_SIZE,
  type DecoderOptions,
  encodePacket,
  InvalidArgumentError,
  type Packet,
  PacketDecoder,
  ProtocolError,
  type ProtocolErrorReason,
  parseBody,
  parseDecimal,
} from '../src/index.js';
import { hex } from './fixtures.js';
import { decodeAll, decodeChunks, everyByte, thrown } from './helpers.js';

const REQ = '00524551';
const RES = '00524553';

/** A header for `type` announcing `size` body bytes. */
function header(type: number, size: number, magic = RES): Buffer {
  const buf = hex(`${magic}0000000000000000`);
  buf.writeUInt32BE(type, 4);
  buf.writeUInt32BE(size, 8);
  return buf;
}

/** A packet with a raw body, whatever its type expects. */
function raw(type: number, body: string | Buffer, magic = RES): Buffer {
  const bytes = typeof body === 'string' ? Buffer.from(body, 'latin1') : body;
  return Buffer.concat([header(type, bytes.length, magic), bytes]);
}

/** What `push` threw, checked to be a ProtocolError with `reason`. */
function rejects(
  decoder: PacketDecoder,
  chunk: Buffer,
  reason: ProtocolErrorReason,
): ProtocolError {
  const error = thrown(() => decoder.push(chunk));
  expect(error).toBeInstanceOf(ProtocolError);
  const protocolError = error as ProtocolError;
  expect(protocolError.code).toBe('ERR_PROTOCOL');
  expect(protocolError.name).toBe('ProtocolError');
  expect(protocolError.reason).toBe(reason);
  return protocolError;
}

function collecting(options?: ConstructorParameters<typeof PacketDecoder>[1]) {
  const packets: Packet[] = [];
  const lines: string[] = [];
  const decoder = new PacketDecoder((packet) => packets.push(packet), {
    ...options,
    ...(options?.onText === undefined ? {} : { onText: (line: string) => lines.push(line) }),
  });
  return { decoder, packets, lines };
}

const noop = raw(6, '');
const created = raw(8, 'H:box:42');

afterEach(() => {
  vi.restoreAllMocks();
});

describe('bodyDecoders', () => {
  test('a type’s own decoder gets the body’s bounds; the other types decode as usual', () => {
    const seen: [number, number][] = [];
    const packets: Packet[] = [];
    const decoder = new PacketDecoder((packet) => packets.push(packet), {
      bodyDecoders: {
        JOB_ASSIGN: (_buf, start, end) => {
          seen.push([start, end]);
          return { type: 'NOOP' };
        },
      },
    });
    const assign = encodePacket({
      type: 'JOB_ASSIGN',
      handle: 'H:1',
      functionName: 'f',
      payload: 'xy',
    });
    const created = encodePacket({ type: 'JOB_CREATED', handle: 'H:2' });
    decoder.push(Buffer.concat([created, assign]));
    expect(packets).toEqual([{ type: 'JOB_CREATED', handle: 'H:2' }, { type: 'NOOP' }]);
    expect(seen).toEqual([[created.length + 12, created.length + assign.length]]);
  });

  test('an unknown type or a decoder that is not a function is refused', () => {
    for (const bodyDecoders of [{ NOPE: () => ({ type: 'NOOP' }) }, { NOOP: 5 }]) {
      expect(
        () => new PacketDecoder(() => {}, { bodyDecoders } as unknown as DecoderOptions),
      ).toThrow(InvalidArgumentError);
    }
  });
});

describe('zero copy', () => {
  test('a payload inside one chunk shares the chunk’s ArrayBuffer', () => {
    const chunk = Buffer.concat([
      noop,
      encodePacket({ type: 'WORK_COMPLETE', handle: 'H:1', payload: 'result' }, { magic: 'RES' }),
      encodePacket({ type: 'ECHO_RES', payload: 'pong' }),
    ]);
    const [, complete, echo] = decodeChunks([chunk]);
    if (complete?.type !== 'WORK_COMPLETE' || echo?.type !== 'ECHO_RES') {
      throw new Error('unexpected packets');
    }
    expect(complete.payload.buffer).toBe(chunk.buffer);
    expect(complete.payload.byteOffset).toBe(chunk.byteOffset + 12 + 12 + 4);
    expect(echo.payload.buffer).toBe(chunk.buffer);
    // A view, so writes to the chunk show through: that is what "no copy" means.
    chunk[12 + 12 + 4] = 0x52;
    expect(complete.payload.toString()).toBe('Result');
  });

  test('with `end`, decodes only the chunk’s first `end` bytes, as a view of the chunk', () => {
    const stream = Buffer.concat([
      encodePacket({ type: 'WORK_COMPLETE', handle: 'H:1', payload: 'result' }, { magic: 'RES' }),
      encodePacket({ type: 'ECHO_RES', payload: 'pong' }),
      noop,
    ]);
    // Every split point, each part pushed as the head of a read buffer longer than its data,
    // the rest of it garbage that must never be read.
    for (let cut = 0; cut <= stream.length; cut++) {
      const packets: Packet[] = [];
      const decoder = new PacketDecoder((packet) => packets.push(packet));
      for (const part of [stream.subarray(0, cut), stream.subarray(cut)]) {
        const read = Buffer.alloc(part.length + 40, 0xff);
        part.copy(read);
        decoder.push(read, part.length);
      }
      expect(packets).toEqual([
        { type: 'WORK_COMPLETE', handle: 'H:1', payload: Buffer.from('result') },
        { type: 'ECHO_RES', payload: Buffer.from('pong') },
        { type: 'NOOP' },
      ]);
      expect(decoder.bufferedBytes).toBe(0);
    }
    // A packet wholly inside the bound stays a view of the pushed buffer.
    const read = Buffer.alloc(stream.length + 8, 0xff);
    stream.copy(read);
    const packets: Packet[] = [];
    new PacketDecoder((packet) => packets.push(packet)).push(read, stream.length);
    const first = packets[0];
    if (first?.type !== 'WORK_COMPLETE') throw new Error('unexpected packet');
    expect(first.payload.buffer).toBe(read.buffer);
  });

  test('joins a packet split over several chunks once, when its last byte arrives', () => {
    const packet = encodePacket({ type: 'ECHO_RES', payload: 'x'.repeat(100) });
    const concat = vi.spyOn(Buffer, 'concat');
    const { decoder, packets } = collecting();
    decoder.push(packet.subarray(0, 5));
    decoder.push(packet.subarray(5, 30));
    decoder.push(packet.subarray(30, 60));
    expect(decoder.bufferedBytes).toBe(60);
    expect(packets).toEqual([]);
    expect(concat).not.toHaveBeenCalled();
    decoder.push(packet.subarray(60));
    expect(concat).toHaveBeenCalledTimes(1);
    expect(packets).toEqual([{ type: 'ECHO_RES', payload: Buffer.from('x'.repeat(100)) }]);
    expect(decoder.bufferedBytes).toBe(0);
  });

  test('a packet whose body lies in one later chunk is not copied when nothing else is held', () => {
    const packet = encodePacket({ type: 'ECHO_RES', payload: 'abcdef' });
    const rest = Buffer.from(packet.subarray(5)); // a separate chunk, as from a socket
    const { decoder, packets } = collecting();
    decoder.push(packet.subarray(0, 5));
    decoder.push(rest);
    const [echo] = packets;
    expect(echo?.type === 'ECHO_RES' && echo.payload.buffer).toBe(rest.buffer);
  });
});

describe('reading in place (readTarget)', () => {
  const payload = Buffer.alloc(200_000, 'abcdefgh');
  const packet = encodePacket({ type: 'ECHO_RES', payload });

  test('offers no target between packets, in a header, or for a small remainder', () => {
    const { decoder } = collecting();
    expect(decoder.readTarget(1)).toBeUndefined();
    decoder.push(packet.subarray(0, 5));
    expect(decoder.readTarget(1)).toBeUndefined();
    decoder.push(packet.subarray(5, packet.length - 100));
    expect(decoder.readTarget(101)).toBeUndefined();
    expect(decoder.readTarget(100)?.length).toBe(100);
  });

  test('reads the rest of a body into the packet’s own buffer, without concat', () => {
    const concat = vi.spyOn(Buffer, 'concat');
    const { decoder, packets } = collecting();
    decoder.push(packet.subarray(0, 1000));
    decoder.push(packet.subarray(1000, 5000));
    const target = decoder.readTarget(64 * 1024) as Buffer;
    expect(target.length).toBe(packet.length - 5000);
    let at = 5000;
    for (let step = 70_000; at < packet.length; ) {
      const into = (decoder.readTarget(1) ?? expect.fail('no target')) as Buffer;
      const n = Math.min(step, packet.length - at);
      packet.copy(into, 0, at, at + n); // what a socket read does
      decoder.push(into.subarray(0, n));
      at += n;
      step = 50_000;
    }
    expect(concat).not.toHaveBeenCalled();
    expect(packets).toHaveLength(1);
    const [echo] = packets;
    expect(echo?.type === 'ECHO_RES' && echo.payload.equals(payload)).toBe(true);
    expect(echo?.type === 'ECHO_RES' && echo.payload.buffer).toBe(target.buffer);
    expect(decoder.bufferedBytes).toBe(0);
    expect(decoder.readTarget(1)).toBeUndefined();
  });

  test('copies in a chunk pushed from elsewhere, and goes on with the next packet', () => {
    const { decoder, packets } = collecting();
    decoder.push(packet.subarray(0, 100));
    expect(decoder.readTarget(1)).toBeDefined();
    const next = encodePacket({ type: 'NOOP' });
    decoder.push(Buffer.concat([packet.subarray(100), next]));
    expect(packets.map((p) => p.type)).toEqual(['ECHO_RES', 'NOOP']);
    const [echo] = packets;
    expect(echo?.type === 'ECHO_RES' && echo.payload.equals(payload)).toBe(true);
  });

  test('reset() drops a body being read in place', () => {
    const { decoder, packets } = collecting();
    decoder.push(packet.subarray(0, 100));
    decoder.readTarget(1);
    decoder.reset();
    expect(decoder.readTarget(1)).toBeUndefined();
    decoder.push(encodePacket({ type: 'NOOP' }));
    expect(packets).toEqual([{ type: 'NOOP' }]);
  });
});

describe('the body as received', () => {
  test('is handed over with each packet, whether it came in one chunk or in several', () => {
    const frames = [
      encodePacket({ type: 'WORK_COMPLETE', handle: 'H:x:1', payload: 'done\0' }),
      encodePacket({ type: 'NOOP' }),
      encodePacket({ type: 'WORK_DATA', handle: 'H:x:2', payload: Buffer.alloc(100_000, 'z') }),
    ];
    const stream = Buffer.concat(frames);
    const expected = frames.map((frame) => frame.subarray(12));
    for (const cut of [0, 5, 20, 30, 1000, stream.length - 1]) {
      const bodies: Buffer[] = [];
      const decoder = new PacketDecoder((_packet, _magic, source, start, end) => {
        bodies.push(Buffer.from(source.subarray(start, end)));
      });
      decoder.push(stream.subarray(0, cut));
      decoder.push(stream.subarray(cut));
      expect(bodies).toEqual(expected);
    }
  });
});

describe('bodies', () => {
  test('cuts a WORK_FAIL handle at the first NUL', () => {
    expect(decodeChunks([raw(14, 'H:box:42\0')])).toEqual([
      { type: 'WORK_FAIL', handle: 'H:box:42' },
    ]);
    expect(decodeChunks([raw(14, 'H:box:42\0junk\0more', REQ)])).toEqual([
      { type: 'WORK_FAIL', handle: 'H:box:42' },
    ]);
    expect(decodeChunks([raw(14, '\0')])).toEqual([{ type: 'WORK_FAIL', handle: '' }]);
  });

  test('reads STATUS_RES numbers and booleans', () => {
    expect(decodeChunks([raw(20, 'H:1\x001\x000\x0017\x004294967295')])).toEqual([
      {
        type: 'STATUS_RES',
        handle: 'H:1',
        known: true,
        running: false,
        numerator: 17,
        denominator: 4294967295,
      },
    ]);
    // Empty text counts as 0 and false.
    expect(decodeChunks([raw(20, 'H:1\0\0\0\0')])).toEqual([
      {
        type: 'STATUS_RES',
        handle: 'H:1',
        known: false,
        running: false,
        numerator: 0,
        denominator: 0,
      },
    ]);
  });

  test('reads STATUS_RES_UNIQUE with its waiting-clients count', () => {
    expect(decodeChunks([raw(42, 'job-1\x001\x001\x002\x005\x0012')])).toEqual([
      {
        type: 'STATUS_RES_UNIQUE',
        unique: 'job-1',
        known: true,
        running: true,
        numerator: 2,
        denominator: 5,
        waitingClients: 12,
      },
    ]);
  });

  test('reads WORK_STATUS text forwarded verbatim the way strtol does', () => {
    // protocol.md section 11, item 13: workers may send any text, e.g. "-5".
    expect(decodeChunks([raw(12, 'H:1\0-5\x0012abc')])).toEqual([
      { type: 'WORK_STATUS', handle: 'H:1', numerator: -5, denominator: 12 },
    ]);
    expect(decodeChunks([raw(12, 'H:1\0x\0+7')])).toEqual([
      { type: 'WORK_STATUS', handle: 'H:1', numerator: 0, denominator: 7 },
    ]);
  });

  test('parseDecimal reads a sign, leading digits, and 0 for no digits', () => {
    const cases: [string, number][] = [
      ['0', 0],
      ['42', 42],
      ['-0', 0],
      ['+7', 7],
      ['-12x3', -12],
      ['', 0],
      ['-', 0],
      ['abc', 0],
      ['9007199254740991', Number.MAX_SAFE_INTEGER],
    ];
    for (const [text, value] of cases) {
      const buf = Buffer.from(`[${text}]`);
      expect(parseDecimal(buf, 1, buf.length - 1), text).toBe(value);
    }
    expect(Object.is(parseDecimal(Buffer.from('-0'), 0, 2), 0)).toBe(true);
  });

  test('ignores a body on a field-less type and keeps reading after it', () => {
    expect(decodeChunks([Buffer.concat([raw(6, 'abc\0def'), created])])).toEqual([
      { type: 'NOOP' },
      { type: 'JOB_CREATED', handle: 'H:box:42' },
    ]);
    expect(decodeChunks(everyByte(Buffer.concat([raw(10, 'xyz'), noop])))).toEqual([
      { type: 'NO_JOB' },
      { type: 'NOOP' },
    ]);
  });

  test('keeps NULs in the last field and a NUL-only body', () => {
    expect(decodeChunks([raw(13, 'H:1\0\0\0')])).toEqual([
      { type: 'WORK_COMPLETE', handle: 'H:1', payload: hex('00 00') },
    ]);
  });

  test('refuses a body with too few fields', () => {
    const { decoder } = collecting();
    const error = rejects(decoder, raw(7, 'resize\0img1', REQ), 'TOO_FEW_FIELDS');
    expect(error.message).toBe('SUBMIT_JOB needs 2 NUL separators in its 11-byte body, found 1');
    rejects(new PacketDecoder(() => {}), raw(19, 'QUEUE_ERROR'), 'TOO_FEW_FIELDS');
    rejects(new PacketDecoder(() => {}), raw(11, ''), 'TOO_FEW_FIELDS');
  });

  test('never looks past the body for a separator, even when the next packet has NULs', () => {
    // protocol.md section 2.1; gearmand 1.1.20 reads into the next packet (section 11, item 6).
    const stream = Buffer.concat([raw(31, 'H:1\0fn\0uniq'), created]);
    rejects(new PacketDecoder(() => {}), stream, 'TOO_FEW_FIELDS');
    const split = new PacketDecoder(() => {});
    split.push(stream.subarray(0, 14));
    rejects(split, stream.subarray(14), 'TOO_FEW_FIELDS');
  });

  test('parseBody reads only the given range of a buffer', () => {
    const buf = Buffer.from('xxH:1\0dataYY\0');
    expect(parseBody('WORK_DATA', buf, 2, 10)).toEqual({
      type: 'WORK_DATA',
      handle: 'H:1',
      payload: Buffer.from('data'),
    });
  });
});

describe('header checks', () => {
  test('refuses a bad magic at the first wrong byte, before 12 bytes arrive', () => {
    const cases: [string, number][] = [
      ['01', 0], // not a zero byte: not a packet
      ['0053', 1],
      ['005246', 2],
      ['00524552', 3], // "\0RER"
      ['00524554', 3],
    ];
    for (const [bytes, wrongAt] of cases) {
      const chunks = everyByte(hex(bytes));
      const decoder = new PacketDecoder(() => {});
      for (let i = 0; i < wrongAt; i++) decoder.push(chunks[i]!);
      expect(decoder.bufferedBytes).toBe(wrongAt);
      const error = rejects(decoder, chunks[wrongAt]!, 'BAD_MAGIC');
      expect(error.message).toContain(`at offset ${wrongAt}`);
    }
  });

  test('refuses a bad magic in a whole header', () => {
    rejects(
      new PacketDecoder(() => {}),
      hex('00524553 00000006 00000000 00525251 00000006 00000000'),
      'BAD_MAGIC',
    );
    const { decoder, packets } = collecting();
    const error = rejects(
      decoder,
      Buffer.concat([noop, hex('52455300 00000006 00000000')]),
      'BAD_MAGIC',
    );
    expect(error.message).toBe('bad magic 0x52455300');
    expect(packets).toEqual([{ type: 'NOOP' }]); // the packet before it still came out
  });

  test.each([0, 5, 43, 2 ** 31, 0xffffffff])('refuses unknown type %i', (type) => {
    const error = rejects(new PacketDecoder(() => {}), header(type, 0), 'UNKNOWN_TYPE');
    expect(error.message).toBe(`unknown packet type ${type}`);
    const bytewise = new PacketDecoder(() => {});
    const chunks = everyByte(header(type, 0));
    for (const chunk of chunks.slice(0, 11)) bytewise.push(chunk);
    rejects(bytewise, chunks[11]!, 'UNKNOWN_TYPE');
  });

  test('refuses a size over maxPacketSize as soon as the header is in', () => {
    const decoder = new PacketDecoder(() => {}, { maxPacketSize: 100 });
    const chunks = everyByte(header(17, 101));
    for (const chunk of chunks.slice(0, 11)) {
      decoder.push(chunk);
      expect(decoder.bufferedBytes).toBeLessThanOrEqual(12);
    }
    const error = rejects(decoder, chunks[11]!, 'TOO_LARGE');
    expect(error.message).toBe('packet size 101 exceeds maxPacketSize 100');
    expect(decoder.bufferedBytes).toBeLessThanOrEqual(12);

    const whole = new PacketDecoder(() => {}, { maxPacketSize: 100 });
    rejects(whole, Buffer.concat([header(17, 101), Buffer.alloc(101)]), 'TOO_LARGE');
    expect(whole.bufferedBytes).toBeLessThanOrEqual(12);
  });

  test('accepts a body of exactly maxPacketSize', () => {
    const body = Buffer.alloc(100, 0x61);
    expect(decodeChunks([raw(17, body)], { maxPacketSize: 100 })).toEqual([
      { type: 'ECHO_RES', payload: body },
    ]);
    expect(decodeChunks([noop], { maxPacketSize: 0 })).toEqual([{ type: 'NOOP' }]);
  });

  test('defaults maxPacketSize to 64 MiB', () => {
    expect(DEFAULT_MAX_PACKET_SIZE).toBe(64 * 1024 * 1024);
    rejects(new PacketDecoder(() => {}), header(17, DEFAULT_MAX_PACKET_SIZE + 1), 'TOO_LARGE');
    const decoder = new PacketDecoder(() => {});
    decoder.push(header(17, DEFAULT_MAX_PACKET_SIZE));
    expect(decoder.bufferedBytes).toBe(12);
  });

  test('refuses a 4 GiB size field without allocating', () => {
    global.gc?.();
    const before = process.memoryUsage();
    const decoder = new PacketDecoder(() => {});
    const error = rejects(
      decoder,
      Buffer.concat([header(17, 0xffffffff), Buffer.alloc(20)]),
      'TOO_LARGE',
    );
    expect(error.message).toBe('packet size 4294967295 exceeds maxPacketSize 67108864');
    expect(decoder.bufferedBytes).toBe(0);

    // Even when the limit allows it, the decoder holds only what arrived, never what was promised.
    const open = new PacketDecoder(() => {}, { maxPacketSize: 0xffffffff });
    open.push(header(17, 0xffffffff));
    open.push(Buffer.alloc(1000));
    expect(open.bufferedBytes).toBe(12 + 1000);
    const after = process.memoryUsage();
    expect(after.arrayBuffers - before.arrayBuffers).toBeLessThan(16 * 1024 * 1024);
    expect(after.rss - before.rss).toBeLessThan(256 * 1024 * 1024);
  });

  test('refuses a maxPacketSize the header cannot express', () => {
    for (const maxPacketSize of [2 ** 32, -1, 1.5, Number.NaN]) {
      const error = thrown(() => new PacketDecoder(() => {}, { maxPacketSize }));
      expect(error).toBeInstanceOf(InvalidArgumentError);
      expect((error as InvalidArgumentError).code).toBe('ERR_INVALID_ARGUMENT');
      expect((error as InvalidArgumentError).field).toBe('maxPacketSize');
    }
    expect(() => new PacketDecoder(() => {}, { maxPacketSize: 2 ** 32 - 1 })).not.toThrow();
  });
});

describe('after a failure', () => {
  test('every push throws the same error, and reset() recovers', () => {
    const { decoder, packets } = collecting();
    const error = rejects(decoder, hex('00524554'), 'BAD_MAGIC');
    expect(thrown(() => decoder.push(noop))).toBe(error);
    expect(thrown(() => decoder.push(Buffer.alloc(0)))).toBe(error);
    expect(packets).toEqual([]);
    expect(decoder.bufferedBytes).toBe(0);

    decoder.reset();
    decoder.push(Buffer.concat([noop, created]));
    expect(packets).toEqual([{ type: 'NOOP' }, { type: 'JOB_CREATED', handle: 'H:box:42' }]);
  });

  test('reset() drops a partial packet', () => {
    const { decoder, packets } = collecting();
    decoder.push(created.subarray(0, 15));
    expect(decoder.bufferedBytes).toBe(15);
    decoder.reset();
    expect(decoder.bufferedBytes).toBe(0);
    decoder.push(noop);
    expect(packets).toEqual([{ type: 'NOOP' }]);
  });

  test('a throw from onPacket ends the decoder the same way', () => {
    const boom = new Error('handler failed');
    let calls = 0;
    const decoder = new PacketDecoder(() => {
      calls++;
      throw boom;
    });
    expect(thrown(() => decoder.push(Buffer.concat([noop, noop])))).toBe(boom);
    expect(thrown(() => decoder.push(noop))).toBe(boom);
    expect(calls).toBe(1);
  });
});

describe('text lines (onText)', () => {
  const withText = (maxLineLength?: number) => {
    const events: string[] = [];
    const decoder = new PacketDecoder((packet) => events.push(`packet ${packet.type}`), {
      onText: (line) => events.push(`line ${line}`),
      ...(maxLineLength === undefined ? {} : { maxLineLength }),
    });
    return { decoder, events };
  };
  const stream = Buffer.concat([
    Buffer.from('status\r\n'),
    noop,
    Buffer.from('workers\n'),
    Buffer.from('\r\n'),
    created,
    Buffer.from('version\r\n'),
  ]);
  const expected = [
    'line status',
    'packet NOOP',
    'line workers',
    'line ',
    'packet JOB_CREATED',
    'line version',
  ];

  test('passes admin lines between packets, without CRLF or LF', () => {
    const { decoder, events } = withText();
    decoder.push(stream);
    expect(events).toEqual(expected);
    expect(decoder.bufferedBytes).toBe(0);
  });

  test('joins lines and packets split at every byte and every point', () => {
    const bytewise = withText();
    for (const chunk of everyByte(stream)) bytewise.decoder.push(chunk);
    expect(bytewise.events).toEqual(expected);
    for (let i = 1; i < stream.length; i++) {
      const split = withText();
      split.decoder.push(stream.subarray(0, i));
      split.decoder.push(stream.subarray(i));
      expect(split.events, `split at ${i}`).toEqual(expected);
    }
  });

  test('counts a partial line in bufferedBytes', () => {
    const { decoder, events } = withText();
    decoder.push(Buffer.from('show jo'));
    expect(decoder.bufferedBytes).toBe(7);
    decoder.push(Buffer.from('bs\r'));
    expect(events).toEqual([]);
    decoder.push(Buffer.from('\n'));
    expect(events).toEqual(['line show jobs']);
    expect(decoder.bufferedBytes).toBe(0);
  });

  test('decodes UTF-8 in lines', () => {
    const { decoder, events } = withText();
    for (const chunk of everyByte(Buffer.from('create function résumé\r\n'))) decoder.push(chunk);
    expect(events).toEqual(['line create function résumé']);
  });

  test('refuses a line over maxLineLength, whole or in pieces', () => {
    const ok = withText(10);
    ok.decoder.push(Buffer.from('0123456789\n'));
    expect(ok.events).toEqual(['line 0123456789']);

    const error = rejects(withText(10).decoder, Buffer.from('0123456789A\n'), 'LINE_TOO_LONG');
    expect(error.message).toBe('text line of 11 bytes exceeds maxLineLength 10');

    const pieces = withText(10);
    pieces.decoder.push(Buffer.from('012345'));
    rejects(pieces.decoder, Buffer.from('6789AB'), 'LINE_TOO_LONG');

    // Refused before the newline arrives, so an endless line cannot grow the buffer.
    const endless = withText(10);
    endless.decoder.push(Buffer.from('0123456789'));
    rejects(endless.decoder, Buffer.from('A'), 'LINE_TOO_LONG');
    expect(endless.decoder.bufferedBytes).toBe(0);
  });

  test('defaults maxLineLength to 8192 bytes', () => {
    const { decoder } = withText();
    decoder.push(Buffer.alloc(8192, 0x61));
    rejects(decoder, Buffer.from('a'), 'LINE_TOO_LONG');
  });

  test('without onText, a first byte other than zero is a bad magic', () => {
    rejects(new PacketDecoder(() => {}), Buffer.from('status\r\n'), 'BAD_MAGIC');
    const afterPacket = collecting();
    rejects(afterPacket.decoder, Buffer.concat([noop, Buffer.from('s')]), 'BAD_MAGIC');
    expect(afterPacket.packets).toEqual([{ type: 'NOOP' }]);
  });

  test('with onText, a unit starting with a zero byte is still checked as a packet', () => {
    rejects(withText().decoder, hex('00 52 45 54'), 'BAD_MAGIC');
  });
});

describe('magic', () => {
  test('reports the magic each packet arrived under', () => {
    const stream = Buffer.concat([raw(13, 'H:1\0a', REQ), raw(13, 'H:1\0b', RES)]);
    expect(decodeAll([stream]).map((decoded) => decoded.magic)).toEqual(['REQ', 'RES']);
  });
});
