#!/usr/bin/env node
// The `prepack` guard of every publishable package: run from the package's folder, it fails the
// pack (and so the publish) when the tarball would ship no code, stale code, or dependencies
// nobody can install. Without it an unbuilt `pnpm pack` silently makes a tarball with no dist/.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const dir = process.cwd();
const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
const name = manifest.name ?? dir;
const problems = [];

// Every file the package points users at must exist: its exports, types and bins.
const entryPoints = new Set();
const collect = (target) => {
  if (typeof target === 'string') {
    if (!target.includes('*')) entryPoints.add(target);
  } else if (target !== null && typeof target === 'object') {
    for (const value of Object.values(target)) collect(value);
  }
};
collect(manifest.exports);
collect(manifest.bin);
collect(manifest.main);
collect(manifest.types);
for (const file of entryPoints) {
  if (!existsSync(join(dir, file))) problems.push(`${file} is missing`);
}

// dist/ is stale when a source file changed after the last build, which `tsc -b` records in
// dist/.tsbuildinfo (it rewrites the file on every build that finds something to do).
const buildInfo = join(dir, 'dist', '.tsbuildinfo');
if (!existsSync(buildInfo)) {
  problems.push('dist/.tsbuildinfo is missing: dist/ was not built by `tsc -b`');
} else {
  const builtAt = statSync(buildInfo).mtimeMs;
  const newer = sourceFiles(join(dir, 'src')).filter((file) => statSync(file).mtimeMs > builtAt);
  for (const file of newer.slice(0, 5)) {
    problems.push(`${relative(dir, file)} changed after the last build`);
  }
  if (newer.length > 5) problems.push(`and ${newer.length - 5} more source files`);
}

// npm and yarn 1 would ship `workspace:` ranges as they are: only pnpm rewrites them to the
// version it publishes.
const agent = process.env.npm_config_user_agent ?? '';
if (!agent.startsWith('pnpm/')) {
  const workspaceDeps = Object.entries(manifest.dependencies ?? {}).filter(([, range]) =>
    String(range).startsWith('workspace:'),
  );
  if (workspaceDeps.length > 0) {
    problems.push(
      `dependencies ${workspaceDeps.map(([dep]) => dep).join(', ')} use the workspace: protocol, ` +
        'which only `pnpm pack` and `pnpm publish` replace with versions',
    );
  }
}

if (!existsSync(join(dir, 'LICENSE'))) problems.push('LICENSE is missing');

if (problems.length > 0) {
  console.error(`${name}: refusing to pack:`);
  for (const problem of problems) console.error(`  - ${problem}`);
  console.error(
    'Run `pnpm build` at the repository root, then pack with pnpm (see CONTRIBUTING.md).',
  );
  process.exit(1);
}

function sourceFiles(folder) {
  if (!existsSync(folder)) return [];
  return readdirSync(folder, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.ts'))
    .map((entry) => join(entry.parentPath ?? entry.path, entry.name));
}
