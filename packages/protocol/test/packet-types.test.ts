import { describe, expect, test } from 'vitest';
import {
  allowsMagic,
  FIELD_KINDS,
  type FieldName,
  PACKET_NAMES,
  PACKET_TYPES,
  type PacketType,
  packetName,
} from '../src/index.js';

const names = Object.keys(PACKET_TYPES) as PacketType[];

describe('PACKET_TYPES', () => {
  test('has the 41 packet types of protocol.md section 3, numbered 1 to 42 without 5', () => {
    expect(names).toHaveLength(41);
    const numbers = names.map((name) => PACKET_TYPES[name].number).sort((a, b) => a - b);
    const expected = Array.from({ length: 42 }, (_, i) => i + 1).filter((n) => n !== 5);
    expect(numbers).toEqual(expected);
  });

  test('gives every field a kind, and only the last field may be data', () => {
    for (const name of names) {
      const fields = PACKET_TYPES[name].fields as readonly FieldName[];
      fields.forEach((field, i) => {
        expect(FIELD_KINDS[field], `${name}.${field}`).toBeDefined();
        if (i < fields.length - 1) expect(FIELD_KINDS[field], `${name}.${field}`).not.toBe('data');
      });
    }
  });

  test('pins the field counts that are easy to get wrong', () => {
    expect(PACKET_TYPES.SUBMIT_REDUCE_JOB.fields).toHaveLength(5); // with the empty aggregator
    expect(PACKET_TYPES.SUBMIT_REDUCE_JOB_BACKGROUND.fields).toHaveLength(5);
    expect(PACKET_TYPES.SUBMIT_JOB_SCHED.fields).toHaveLength(8);
    expect(PACKET_TYPES.STATUS_RES_UNIQUE.fields[0]).toBe('unique'); // not a handle
    expect(PACKET_TYPES.WORK_FAIL.fields).toEqual(['handle']);
  });
});

describe('packetName and PACKET_NAMES', () => {
  test('name every number from 1 to 42 except 5', () => {
    for (let n = 1; n <= 42; n++) {
      const name = packetName(n);
      expect(PACKET_NAMES[n]).toBe(name);
      if (n === 5) {
        expect(name).toBeUndefined();
      } else {
        expect(name, String(n)).toBeDefined();
        expect(PACKET_TYPES[name!].number).toBe(n);
      }
    }
    expect(packetName(7)).toBe('SUBMIT_JOB');
    expect(packetName(19)).toBe('ERROR');
    expect(packetName(42)).toBe('STATUS_RES_UNIQUE');
  });

  test.each([0, 5, 43, -1, 1.5, 2 ** 31, Number.NaN])('has no name for %s', (n) => {
    expect(packetName(n)).toBeUndefined();
  });

  test('PACKET_NAMES has an entry for 0 to 42', () => {
    expect(PACKET_NAMES).toHaveLength(43);
    expect(PACKET_NAMES.filter((name) => name !== undefined)).toHaveLength(41);
  });
});

describe('allowsMagic', () => {
  test('allows both magics for the relayed WORK_* packets only', () => {
    const both = names.filter((name) => allowsMagic(name, 'REQ') && allowsMagic(name, 'RES'));
    expect(both.sort()).toEqual(
      [
        'WORK_COMPLETE',
        'WORK_DATA',
        'WORK_EXCEPTION',
        'WORK_FAIL',
        'WORK_STATUS',
        'WORK_WARNING',
      ].sort(),
    );
    expect(allowsMagic('SUBMIT_JOB', 'REQ')).toBe(true);
    expect(allowsMagic('SUBMIT_JOB', 'RES')).toBe(false);
    expect(allowsMagic('NOOP', 'RES')).toBe(true);
    expect(allowsMagic('NOOP', 'REQ')).toBe(false);
  });
});
