import { Buffer } from 'node:buffer';
import { inspect } from 'node:util';
import {
  encodePacket,
  HEADER_SIZE,
  type Packet,
  type PacketInit,
  parseBody,
} from '@gearmanode/protocol';
import { describe, expect, test } from 'vitest';
import {
  ASSIGNMENT_DECODERS,
  CompleteWriter,
  completeSize,
  RawAssignment,
} from '../src/assignment.js';
import { type JobHost, JobImpl } from '../src/job.js';

type AssignType = 'JOB_ASSIGN' | 'JOB_ASSIGN_UNIQ';

/** A body of `type` from raw field bytes, inside a larger buffer as the socket reader has it. */
function body(fields: (string | Buffer)[]): { buf: Buffer; start: number; end: number } {
  const parts: Buffer[] = [];
  fields.forEach((field, i) => {
    parts.push(typeof field === 'string' ? Buffer.from(field) : field);
    if (i < fields.length - 1) parts.push(Buffer.from([0]));
  });
  const buf = Buffer.concat([Buffer.alloc(5, 0x7a), ...parts, Buffer.alloc(3, 0x7a)]);
  return { buf, start: 5, end: buf.length - 3 };
}

function decode(type: AssignType, fields: (string | Buffer)[]): { raw: Packet; eager: Packet } {
  const { buf, start, end } = body(fields);
  const decoder = ASSIGNMENT_DECODERS[type];
  if (decoder === undefined) throw new Error(`no decoder for ${type}`);
  return { raw: decoder(buf, start, end), eager: parseBody(type, buf, start, end) };
}

/** The fields of an assignment as read through its properties (getters included). */
function fieldsOf(packet: Packet): Record<string, unknown> {
  const { type } = packet;
  const record = packet as unknown as Record<string, unknown>;
  const names =
    type === 'JOB_ASSIGN' ? ['handle', 'functionName'] : ['handle', 'functionName', 'unique'];
  const fields: Record<string, unknown> = { type, payload: Buffer.from(record.payload as Buffer) };
  for (const name of names) fields[name] = record[name];
  return fields;
}

const invalidUtf8 = Buffer.from([0x48, 0x3a, 0xc3, 0x28, 0xff, 0x31]);

describe('the worker’s JOB_ASSIGN decoders', () => {
  test.each([
    ['ASCII', 'H:host:42', 'u-1'],
    ['non-ASCII', 'H:hôte:42', 'clé→ü'],
    ['invalid UTF-8', invalidUtf8, Buffer.from([0xfe, 0x41])],
    ['empty', '', ''],
  ] as const)(
    'keep a %s handle and unique as bytes, read back as the protocol decodes them',
    (_, handle, unique) => {
      for (const payload of [
        Buffer.from('payload\0with NUL'),
        Buffer.alloc(0),
        Buffer.alloc(5000, 1),
      ]) {
        const uniq = decode('JOB_ASSIGN_UNIQ', [handle, 'fn', unique, payload]);
        expect(uniq.raw).toBeInstanceOf(RawAssignment);
        expect(fieldsOf(uniq.raw)).toEqual(fieldsOf(uniq.eager));
        const plain = decode('JOB_ASSIGN', [handle, 'fn', payload]);
        expect(plain.raw).toBeInstanceOf(RawAssignment);
        expect(fieldsOf(plain.raw)).toEqual(fieldsOf(plain.eager));
        expect((plain.raw as unknown as RawAssignment).unique).toBe('');
      }
    },
  );

  test('tell the last function name from names that share its bytes or its length', () => {
    // Each decoded after the one before it, which it resembles: the same name again, a prefix
    // of it, a longer name starting with it, one of the same length, the empty name, and
    // non-ASCII bytes.
    const names = [
      'resize',
      'resize',
      'resiz',
      'resize',
      'resize-big',
      'resize',
      'rEsize',
      '',
      '',
      'ü',
      'resize',
    ];
    for (const type of ['JOB_ASSIGN', 'JOB_ASSIGN_UNIQ'] as const) {
      for (const name of names) {
        const fields = type === 'JOB_ASSIGN' ? ['H:1', name, 'p'] : ['H:1', name, 'u', 'p'];
        const { raw, eager } = decode(type, fields);
        expect(raw).toBeInstanceOf(RawAssignment);
        expect(fieldsOf(raw)).toEqual(fieldsOf(eager));
      }
    }
    // The last name's bytes at the very end of a body, with no NUL after them: the protocol's
    // error, as for any assignment short of a field.
    decode('JOB_ASSIGN', ['H:1', 'resize', 'p']);
    const { buf, start } = body(['H:1', 'resize', 'p']);
    const cut = start + 'H:1\0resize'.length;
    expect(() => ASSIGNMENT_DECODERS.JOB_ASSIGN?.(buf, start, cut)).toThrow(
      expect.objectContaining({ name: 'ProtocolError' }),
    );
  });

  test('copy the payload out of the buffer read into', () => {
    const { buf, start, end } = body(['H:1', 'fn', 'u', 'abc']);
    const raw = ASSIGNMENT_DECODERS.JOB_ASSIGN_UNIQ?.(buf, start, end) as unknown as RawAssignment;
    buf.fill(0);
    expect(raw.payload.toString()).toBe('abc');
    expect([raw.handle, raw.unique, raw.functionName]).toEqual(['H:1', 'u', 'fn']);
  });

  test('many jobs keep their own handles across pools', () => {
    const raws: RawAssignment[] = [];
    for (let i = 0; i < 2000; i++) {
      const { buf, start, end } = body([`H:host:${i}`, 'fn', `unique-${i}`, 'p']);
      raws.push(ASSIGNMENT_DECODERS.JOB_ASSIGN_UNIQ?.(buf, start, end) as unknown as RawAssignment);
    }
    expect(raws.map((raw) => raw.handle)).toEqual(raws.map((_, i) => `H:host:${i}`));
    expect(raws.map((raw) => raw.unique)).toEqual(raws.map((_, i) => `unique-${i}`));
    expect(new Set(raws.map((raw) => raw.bytes)).size).toBeGreaterThan(1);
  });

  test('a long field gives the protocol’s packet, and a missing one its error', () => {
    const long = decode('JOB_ASSIGN_UNIQ', [`H:${'x'.repeat(300)}`, 'fn', 'u', 'p']);
    expect(long.raw).not.toBeInstanceOf(RawAssignment);
    expect(long.raw).toEqual(long.eager);
    for (const type of ['JOB_ASSIGN', 'JOB_ASSIGN_UNIQ'] as const) {
      const { buf, start, end } = body(['H:1']);
      const expected = (() => {
        try {
          parseBody(type, buf, start, end);
        } catch (error) {
          return error;
        }
        return undefined;
      })();
      expect(expected).toBeInstanceOf(Error);
      expect(() => ASSIGNMENT_DECODERS[type]?.(buf, start, end)).toThrow(expected as Error);
    }
  });
});

describe('CompleteWriter', () => {
  test.each([
    ['ASCII', 'H:host:42'],
    ['non-ASCII', 'H:hôte:42'],
  ])('writes the bytes the encoder makes for a %s handle', (_, handle) => {
    const { buf, start, end } = body([handle, 'fn', '', 'x']);
    const raw = ASSIGNMENT_DECODERS.JOB_ASSIGN_UNIQ?.(buf, start, end) as unknown as RawAssignment;
    for (const result of [Buffer.from('result'), new Uint8Array(0), new Uint8Array([0, 1, 2])]) {
      const expected = encodePacket({ type: 'WORK_COMPLETE', handle, payload: result });
      expect(completeSize(raw, result)).toBe(expected.length);
      const target = Buffer.alloc(expected.length + 10, 0xee);
      const writer = new CompleteWriter();
      writer.raw = raw;
      writer.result = result;
      writer.writeFrame(target, 4);
      expect(target.subarray(4, 4 + expected.length)).toEqual(expected);
      expect(target[4 + expected.length]).toBe(0xee);
      expect(expected.length).toBeGreaterThan(HEADER_SIZE);
    }
  });
});

describe('a job from a RawAssignment', () => {
  class Host implements JobHost {
    readonly sent: PacketInit[] = [];
    readonly raws: string[] = [];
    send(_job: JobImpl, packet: PacketInit): Promise<void> {
      this.sent.push(packet);
      return Promise.resolve();
    }
    sendComplete(_job: JobImpl, raw: RawAssignment): Promise<void> {
      this.raws.push(raw.handle);
      return Promise.resolve();
    }
    settled(): void {}
    dropped(): void {}
  }

  function newJob(): { job: JobImpl; host: Host } {
    const { buf, start, end } = body(['H:hôte:7', 'fn', 'ü', 'p']);
    const raw = ASSIGNMENT_DECODERS.JOB_ASSIGN_UNIQ?.(buf, start, end) as unknown as RawAssignment;
    const host = new Host();
    const job = new JobImpl(
      host,
      undefined,
      's:1',
      1,
      0,
      'fn',
      undefined,
      undefined,
      '',
      raw.payload,
      raw,
    );
    return { job, host };
  }

  test('has the handle and unique the server sent, made on first read', () => {
    const { job } = newJob();
    expect([job.handle, job.unique, job.handle]).toEqual(['H:hôte:7', 'ü', 'H:hôte:7']);
  });

  test('completes from the handle bytes with bytes, through the packet otherwise', async () => {
    const bytes = newJob();
    await bytes.job.complete(Buffer.from('r'));
    expect([bytes.host.raws, bytes.host.sent]).toEqual([['H:hôte:7'], []]);
    const text = newJob();
    await text.job.complete('r');
    expect(text.host.raws).toEqual([]);
    expect(text.host.sent).toEqual([{ type: 'WORK_COMPLETE', handle: 'H:hôte:7', payload: 'r' }]);
    const read = newJob();
    expect(read.job.handle).toBe('H:hôte:7');
    await read.job.complete(Buffer.from('r'));
    expect(read.host.raws).toEqual([]);
    expect(read.host.sent).toHaveLength(1);
  });

  test('shows its fields in JSON and util.inspect as before', () => {
    const { job } = newJob();
    expect(JSON.parse(JSON.stringify(job))).toEqual({
      name: 'fn',
      handle: 'H:hôte:7',
      unique: 'ü',
      reducer: '',
      server: 's:1',
      payload: { type: 'Buffer', data: [0x70] },
    });
    expect(inspect(job)).toContain("handle: 'H:hôte:7'");
    expect(inspect(job)).toMatch(/^JobImpl \{/);
  });
});
