import { encodePacket, type Magic, type Packet, PacketDecoder } from '@gearmanode/protocol';
import { describe, expect, inject, test } from 'vitest';
import { type RawConnection, rawConnect } from '../../../test/helpers.js';

const { host, port } = inject('gearman');

/** Reads one binary packet: its 12-byte header, then the body size the header announces. */
async function readPacket(connection: RawConnection): Promise<{ packet: Packet; magic: Magic }> {
  const header = await connection.read(12);
  const body = await connection.read(header.readUInt32BE(8));
  const decoded: { packet: Packet; magic: Magic }[] = [];
  new PacketDecoder((packet, magic) => decoded.push({ packet, magic })).push(
    Buffer.concat([header, body]),
  );
  expect(decoded).toHaveLength(1);
  return decoded[0]!;
}

describe('codec against gearmand', () => {
  test('ECHO_REQ is answered by ECHO_RES with the same payload', async () => {
    await using connection = await rawConnect(host, port);
    await connection.write(encodePacket({ type: 'ECHO_REQ', payload: 'hello' }));
    const { packet, magic } = await readPacket(connection);
    expect(magic).toBe('RES');
    expect(packet).toEqual({ type: 'ECHO_RES', payload: Buffer.from('hello') });
  });

  test('ECHO_RES carries NUL and high bytes unchanged', async () => {
    const payload = Buffer.from([0, 1, 0, 0xff, 0x52, 0x45, 0x53, 0]);
    await using connection = await rawConnect(host, port);
    await connection.write(encodePacket({ type: 'ECHO_REQ', payload }));
    const { packet } = await readPacket(connection);
    expect(packet).toEqual({ type: 'ECHO_RES', payload });
  });

  test('the admin line version is answered with OK and a dotted version number', async () => {
    await using connection = await rawConnect(host, port);
    await connection.write('version\r\n');
    expect(await connection.readLine()).toMatch(/^OK \d+\.\d+/);
  });

  test('binary packets and admin lines on one connection are answered in order', async () => {
    await using connection = await rawConnect(host, port);
    await connection.write(
      Buffer.concat([
        encodePacket({ type: 'ECHO_REQ', payload: 'first' }),
        Buffer.from('version\r\n'),
        encodePacket({ type: 'ECHO_REQ', payload: 'second' }),
      ]),
    );
    expect((await readPacket(connection)).packet).toEqual({
      type: 'ECHO_RES',
      payload: Buffer.from('first'),
    });
    expect(await connection.readLine()).toMatch(/^OK \d+\.\d+/);
    expect((await readPacket(connection)).packet).toEqual({
      type: 'ECHO_RES',
      payload: Buffer.from('second'),
    });
  });
});
