import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';

/*
 * style.md section 7: every snippet of a README also exists under examples/, where `tsc -b`
 * typechecks it (examples/snippets holds the fragments, the other examples run in
 * test/examples.int.test.ts). This checks that they stay the same, and that every example is
 * the private, typechecked workspace package it should be.
 */

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const EXAMPLES = join(ROOT, 'examples');
const examples = readdirSync(EXAMPLES).filter((name) =>
  statSync(join(EXAMPLES, name)).isDirectory(),
);

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'node_modules' ? [] : sources(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

// Whitespace is left out of the comparison, so that indentation and line breaks may differ.
const squash = (text: string) => text.replace(/\s+/g, '');
const exampleCode = examples.flatMap((name) =>
  sources(join(EXAMPLES, name, 'src')).map((path) => ({
    path: path.slice(ROOT.length),
    code: squash(readFileSync(path, 'utf8')),
  })),
);

const readmes = [
  'README.md',
  ...readdirSync(join(ROOT, 'packages')).map((name) => `packages/${name}/README.md`),
  ...examples.map((name) => `examples/${name}/README.md`),
  ...readdirSync(join(ROOT, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .map((name) => `docs/${name}`),
];

describe('every TypeScript snippet of a README is in an example', () => {
  for (const readme of readmes) {
    const markdown = readFileSync(join(ROOT, readme), 'utf8');
    const blocks = [...markdown.matchAll(/^```ts\n([\s\S]*?)^```/gm)].map((match) => match[1]!);
    blocks.forEach((block, i) => {
      const first = block.split('\n').find((line) => line.trim() !== '') ?? '';
      test(`${readme}, snippet ${i + 1}: ${first.trim()}`, () => {
        const found = exampleCode.filter(({ code }) => code.includes(squash(block)));
        expect(
          found.map(({ path }) => path),
          `add it to examples/snippets:\n${block}`,
        ).not.toEqual([]);
      });
    });
  }
});

describe('every example is a private, typechecked workspace package', () => {
  const references = JSON.parse(readFileSync(join(ROOT, 'tsconfig.json'), 'utf8')).references;

  test.each(examples)('examples/%s', (name) => {
    const dir = join(EXAMPLES, name);
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    expect(pkg).toMatchObject({
      name: `@gearmanode/example-${name}`,
      private: true,
      type: 'module',
    });
    for (const [dependency, range] of Object.entries(pkg.dependencies ?? {})) {
      if (dependency.startsWith('@gearmanode/')) expect(range, dependency).toBe('workspace:*');
    }
    const tsconfig = JSON.parse(readFileSync(join(dir, 'tsconfig.json'), 'utf8'));
    expect(tsconfig.extends).toBe('../../tsconfig.base.json');
    expect(references, 'listed in the root tsconfig.json').toContainEqual({
      path: `examples/${name}`,
    });
    const readme = readFileSync(join(dir, 'README.md'), 'utf8');
    if (name !== 'snippets') expect(readme).toContain('GEARMAN_SERVERS');
  });
});
