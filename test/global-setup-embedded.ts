import { createServer } from '@gearmanode/server';
import type { TestProject } from 'vitest/node';

/**
 * Starts our embedded job server on a free port for the `integration-embedded` project, so the
 * suites written for gearmand also hold against it. It runs in vitest's main process, apart
 * from the test workers, like gearmand runs apart from them.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const server = await createServer({ port: 0 });
  const { host, port } = server.address;
  project.provide('gearman', { host, port, kind: 'embedded' });
  return () => server.close();
}
