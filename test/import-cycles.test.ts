import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, test } from 'vitest';

// The layering says each package's modules form a tree of imports with no way back: a cycle,
// even a type-only one, means two files hold one concept between them. This reads the relative
// imports of every packages/*/src file (as text: `from './x.js'`) and looks for cycles.

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const IMPORT = /(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+'(\.{1,2}\/[^']+)'/g;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') ? [path] : [];
  });
}

function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  const packages = join(root, 'packages');
  for (const name of readdirSync(packages)) {
    const src = join(packages, name, 'src');
    let files: string[];
    try {
      files = sourceFiles(src);
    } catch {
      continue; // a package without src/
    }
    for (const file of files) {
      const text = readFileSync(file, 'utf8');
      const targets = [...text.matchAll(IMPORT)].map((match) =>
        resolve(dirname(file), (match[1] as string).replace(/\.js$/, '.ts')),
      );
      graph.set(file, targets);
    }
  }
  return graph;
}

/** Every cycle found by a depth-first walk, each as the files in order, relative to the root. */
function cycles(graph: Map<string, string[]>): string[][] {
  const found: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (file: string): void => {
    state.set(file, 'open');
    stack.push(file);
    for (const next of graph.get(file) ?? []) {
      if (!graph.has(next)) continue;
      if (state.get(next) === 'open') {
        found.push(stack.slice(stack.indexOf(next)).map((path) => relative(root, path)));
      } else if (state.get(next) === undefined) {
        visit(next);
      }
    }
    stack.pop();
    state.set(file, 'done');
  };
  for (const file of graph.keys()) if (state.get(file) === undefined) visit(file);
  return found;
}

test('the graph is read: core imports its own connection modules', () => {
  const graph = importGraph();
  const connection = join(root, 'packages/core/src/connection/connection.ts');
  expect(graph.get(connection)).toContain(join(root, 'packages/core/src/connection/session.ts'));
});

test('no package source file imports, directly or not, a file that imports it', () => {
  expect(cycles(importGraph())).toEqual([]);
});

test('a cycle is found when there is one', () => {
  const graph = new Map([
    ['/a.ts', ['/b.ts']],
    ['/b.ts', ['/c.ts']],
    ['/c.ts', ['/a.ts']],
  ]);
  expect(cycles(graph)).toHaveLength(1);
});
