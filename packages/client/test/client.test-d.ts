import {
  type Admin,
  type Client,
  type ClientEvent,
  createAdmin,
  createClient,
  type FunctionStatus,
  type JobEvent,
  type JobRun,
  type JobStatus,
  type UniqueJobStatus,
} from '@gearmanode/client';
import { expectTypeOf, test } from 'vitest';

test('public signatures', () => {
  expectTypeOf(createClient).returns.resolves.toEqualTypeOf<Client>();
  expectTypeOf(createAdmin).returns.resolves.toEqualTypeOf<Admin>();
  const client = {} as Client;
  expectTypeOf(client.submit('f', 'x')).resolves.toEqualTypeOf<Buffer>();
  expectTypeOf(client.submit('f', new Uint8Array(1), { encoding: 'utf8' })).resolves.toBeString();
  expectTypeOf(client.start('f', 'x')).toEqualTypeOf<JobRun<Buffer>>();
  expectTypeOf(client.start('f', 'x', { encoding: 'utf8' })).toEqualTypeOf<JobRun<string>>();
  expectTypeOf(client.submitBackground('f', 'x', { at: new Date() })).resolves.toBeString();
  expectTypeOf(client.getStatus('H:x')).resolves.toEqualTypeOf<JobStatus>();
  expectTypeOf(client.getStatus({ unique: 'u' })).resolves.toEqualTypeOf<UniqueJobStatus>();
  expectTypeOf(client.status()).toEqualTypeOf<AsyncIterableIterator<ClientEvent>>();
  expectTypeOf<JobEvent<string>>().extract<{ type: 'data' }>().toHaveProperty('data').toBeString();
  const admin = {} as Admin;
  expectTypeOf(admin.status()).resolves.toEqualTypeOf<FunctionStatus[]>();
  // @ts-expect-error foreground jobs cannot be scheduled
  void client.submit('f', 'x', { at: new Date() });
});
