// Typechecked (not run) against the installed tarballs, under `nodenext` and `bundler`, with
// tsconfigs that set no `types`: the packages' declarations must bring Node's types themselves.
import { type Client, createClient } from '@gearmanode/client';
import { encodePacket, PacketDecoder } from '@gearmanode/protocol';
import { createServer } from '@gearmanode/server';
import { createWorker, type Job } from '@gearmanode/worker';

export async function roundTrip(payload: string): Promise<string> {
  await using server = await createServer({ port: 0 });
  const servers = `${server.address.host}:${server.address.port}`;
  await using worker = await createWorker({ servers, functions: ['reverse'] });
  void worker.process((job: Job) => [...job.text()].reverse().join(''));
  await using client: Client = await createClient({ servers });
  return client.submit('reverse', payload, { encoding: 'utf8' });
}

export function frames(bytes: Buffer): number {
  let count = 0;
  const decoder = new PacketDecoder(() => {
    count++;
  });
  decoder.push(bytes);
  return count;
}

export const echo = encodePacket;
