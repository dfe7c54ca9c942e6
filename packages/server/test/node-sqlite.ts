import { loadNodeSqlite } from '../src/node-sqlite.js';

/**
 * Whether this Node.js has `node:sqlite` unflagged (22.13 or later). The store needs it; tests
 * of the store skip on Node 20 and run `createServer`'s refusal instead.
 */
export const hasNodeSqlite = (await loadNodeSqlite()) !== undefined;
