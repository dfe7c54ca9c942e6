#!/usr/bin/env node
// Turns every "protocol.md section N" in the doc comments of packages/*/src into a link to that
// section of docs/protocol.md on the repository's site, since the comments end up in the
// published .d.ts files (and in the API reference), where a bare file name resolves nowhere.
// `--check` changes nothing and fails when a reference is not a link yet (CI runs it).
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const DOC_URL = 'https://github.com/gearmanode/gearmanode/blob/main/docs/protocol.md';
const WIDTH = 100;
const root = fileURLToPath(new URL('..', import.meta.url));
const check = process.argv.includes('--check');

// GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens.
const anchors = new Map();
const doc = readFileSync(join(root, 'docs', 'protocol.md'), 'utf8');
for (const [, hashes, number, title] of doc.matchAll(/^(#{2,3}) (\d+(?:\.\d+)?)\.? (.*)$/gm)) {
  const heading = `${number}${hashes.length === 2 ? '.' : ''} ${title}`;
  anchors.set(
    number,
    heading
      .toLowerCase()
      .replace(/[^\w\- ]/g, '')
      .replaceAll(' ', '-'),
  );
}

const REFERENCE = /(?<!\[)protocol\.md(?: sections?)? (\d+(?:\.\d+)?)(?:–\d+(?:\.\d+)?)?/g;
const linked = (match, number) => {
  const anchor = anchors.get(number) ?? anchors.get(number.split('.')[0]);
  if (anchor === undefined) throw new Error(`no section ${number} in docs/protocol.md: ${match}`);
  return `[${match}](${DOC_URL}#${anchor})`;
};

// Re-wraps one doc-comment paragraph from line i on, keeping each link in one piece.
function reflow(lines, i, prefix) {
  let end = i;
  while (end + 1 < lines.length) {
    const next = lines[end + 1];
    if (!next.startsWith(prefix)) break;
    const body = next.slice(prefix.length);
    if (body.trim() === '' || body.startsWith(' ') || /^(-|@|```|\d+\.|\*\/)/.test(body)) break;
    end++;
  }
  const text = lines
    .slice(i, end + 1)
    .map((line, k) => (k === 0 ? line.slice(prefix.length) : line.slice(prefix.length).trim()))
    .join(' ')
    .replace(/\[[^\]]*\]\([^)]*\)/g, (link) => link.replaceAll(' ', '\0'));
  const out = [];
  let current = '';
  for (const word of text.split(' ')) {
    const candidate = current === '' ? word : `${current} ${word}`;
    if (current === '' || prefix.length + candidate.length <= WIDTH) current = candidate;
    else {
      out.push(current);
      current = word;
    }
  }
  out.push(current);
  lines.splice(i, end - i + 1, ...out.map((line) => prefix + line.replaceAll('\0', ' ')));
}

function rewrite(source) {
  const lines = source.split('\n');
  let inDoc = false;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const opens = line.trimStart().startsWith('/**');
    if (opens) inDoc = true;
    if (inDoc && line.includes('protocol.md')) {
      const next = line.replace(REFERENCE, linked);
      if (next !== line) {
        const single = /^(\s*)\/\*\* (.*) \*\/$/.exec(next);
        if (next.length > WIDTH && single) {
          // A one-line comment that no longer fits becomes a block.
          const [, indent, text] = single;
          lines.splice(i, 1, `${indent}/**`, `${indent} * ${text}`, `${indent} */`);
          reflow(lines, i + 1, `${indent} * `);
          i += 2;
          inDoc = false;
          continue;
        }
        lines[i] = next;
        const prefix = /^(\s*\* )/.exec(next)?.[1];
        if (next.length > WIDTH && prefix) reflow(lines, i, prefix);
      }
    }
    if (inDoc && line.includes('*/')) inDoc = false;
  }
  return lines.join('\n');
}

function sources(dir) {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.ts'))
    .map((entry) => join(entry.parentPath ?? entry.path, entry.name));
}

const stale = [];
for (const pkg of readdirSync(join(root, 'packages'))) {
  for (const file of sources(join(root, 'packages', pkg, 'src'))) {
    const source = readFileSync(file, 'utf8');
    const next = rewrite(source);
    if (next === source) continue;
    stale.push(relative(root, file));
    if (!check) writeFileSync(file, next);
  }
}
if (check && stale.length > 0) {
  console.error(
    'protocol.md references that are not links (run node scripts/link-protocol-refs.mjs):',
  );
  for (const file of stale) console.error(`  ${file}`);
  process.exit(1);
}
if (!check) for (const file of stale) console.log(`linked ${file}`);
