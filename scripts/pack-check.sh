#!/usr/bin/env bash
# Checks the packages as an npm user gets them: builds the workspace, packs every publishable
# package with pnpm (through each one's prepack guard), lints each tarball with publint and
# @arethetypeswrong/cli, installs the tarballs with npm into a new project outside the
# workspace, and there runs the README's plain-JavaScript tour (embedded server, worker, client),
# typechecks a TypeScript consumer under `nodenext` and `bundler` with the TypeScript npm
# installs by default, and runs the installed CLI (`--help`, then a work/submit round trip).
# Needs the npm registry. Set PACK_CHECK_KEEP=1 to keep the temporary folder.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root="$PWD"
fixtures="$root/scripts/pack-check"

tmp="$(mktemp -d "${TMPDIR:-/tmp}/gearmanode-pack-check.XXXXXX")"
server_pid=''
worker_pid=''
cleanup() {
  [ -n "$worker_pid" ] && kill "$worker_pid" 2>/dev/null || true
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
  if [ "${PACK_CHECK_KEEP:-}" = 1 ]; then
    echo "kept $tmp"
  else
    rm -rf "$tmp"
  fi
}
trap cleanup EXIT

say() { printf -- '--- %s\n' "$*"; }
fail() {
  echo "pack-check: $*" >&2
  exit 1
}

say 'build (from clean: an incremental build keeps files an earlier build configuration wrote)'
rm -rf packages/*/dist
pnpm --silent build

say 'pack (pnpm, with the prepack guard)'
mkdir -p "$tmp/tarballs"
pnpm --silent --filter './packages/*' pack --pack-destination "$tmp/tarballs" >/dev/null
mapfile -t tarballs < <(find "$tmp/tarballs" -name '*.tgz' | sort)
expected="$(node -e '
  const fs = require("node:fs");
  const dirs = fs.readdirSync("packages").filter((d) => fs.existsSync(`packages/${d}/package.json`));
  console.log(dirs.filter((d) => !require(`./packages/${d}/package.json`).private).length);
')"
[ "${#tarballs[@]}" -eq "$expected" ] || fail "expected $expected tarballs, got ${#tarballs[@]}"

say 'tarball contents'
for tarball in "${tarballs[@]}"; do
  listing="$(tar tzf "$tarball")"
  name="$(basename "$tarball")"
  grep -qx 'package/LICENSE' <<<"$listing" || fail "$name has no LICENSE"
  ! grep -q 'tsbuildinfo' <<<"$listing" || fail "$name ships a .tsbuildinfo"
  ! grep -q '\.map$' <<<"$listing" || fail "$name ships source maps without their sources"
  # grep -c reads to the end: with -q, tar could die of SIGPIPE and pipefail would hide a match.
  if tar xzOf "$tarball" --wildcards 'package/dist/*' | grep -c 'sourceMappingURL' >/dev/null; then
    fail "$name points at source maps it does not ship"
  fi
  manifest="$(tar xzOf "$tarball" package/package.json)"
  ! grep -q '"workspace:' <<<"$manifest" || fail "$name has workspace: dependencies"
  case "$name" in
    gearmanode-cli-*) ! grep -q '\.d\.ts$' <<<"$listing" || fail "$name ships .d.ts files" ;;
  esac
done

say 'publint and attw --profile esm-only'
for tarball in "${tarballs[@]}"; do
  pnpm --silent exec publint --strict "$tarball" >"$tmp/publint.log" 2>&1 ||
    { cat "$tmp/publint.log"; fail "publint: $(basename "$tarball")"; }
  pnpm --silent exec attw --profile esm-only --format ascii "$tarball" >"$tmp/attw.log" 2>&1 ||
    { cat "$tmp/attw.log"; fail "attw: $(basename "$tarball")"; }
done

say 'npm install of the tarballs into a new project'
app="$tmp/app"
mkdir -p "$app"
cp "$fixtures/consumer.ts" "$fixtures"/tsconfig.*.json "$app/"
cat >"$app/package.json" <<'EOF'
{ "name": "pack-check-app", "private": true, "type": "module" }
EOF
(
  cd "$app"
  npm install --no-audit --no-fund --loglevel=error "${tarballs[@]}"
  # What `npm i -D typescript @types/node` gives a user today: no version pinned.
  npm install --no-audit --no-fund --loglevel=error --save-dev typescript @types/node
)

# The ESM consumer is the README's plain-JavaScript tour, run as the README says.
say "the README's JavaScript tour on Node $(node --version)"
node -e '
  const readme = require("node:fs").readFileSync(process.argv[1], "utf8");
  const block = /^```js\n([\s\S]*?)^```/m.exec(readme);
  if (!block) throw new Error("README.md has no ```js block");
  process.stdout.write(block[1]);
' "$root/README.md" >"$app/tour.mjs"
output="$(cd "$app" && node tour.mjs)"
[ "$output" = '!dlrow olleh' ] || fail "tour.mjs printed '$output'"

typescript="$(cd "$app" && node -p 'require("typescript/package.json").version')"
for config in nodenext bundler; do
  say "tsc --noEmit, $config, TypeScript $typescript"
  (cd "$app" && npx --no-install tsc -p "tsconfig.$config.json") || fail "tsc ($config)"
done

say 'installed CLI'
bin="$app/node_modules/.bin"
"$bin/gearmanode" --help >"$tmp/help.txt" || fail 'gearmanode --help'
grep -q 'Usage: gearmanode' "$tmp/help.txt" || fail 'gearmanode --help printed no usage'
"$bin/gearmanode-server" --help >/dev/null || fail 'gearmanode-server --help'
"$bin/gearmanode" --version >/dev/null || fail 'gearmanode --version'

"$bin/gearmanode" server --port 0 --json >"$tmp/server.json" 2>"$tmp/server.log" &
server_pid=$!
for _ in $(seq 1 100); do
  [ -s "$tmp/server.json" ] && node -e 'JSON.parse(require("fs").readFileSync(process.argv[1]))' \
    "$tmp/server.json" 2>/dev/null && break
  sleep 0.1
done
address="$(node -p 'JSON.parse(require("fs").readFileSync(process.argv[1])).address' "$tmp/server.json")" ||
  { cat "$tmp/server.log" >&2; fail 'gearmanode server did not start'; }
"$bin/gearmanode" work --servers "$address" --max-jobs 1 upper -- tr a-z A-Z 2>"$tmp/worker.log" &
worker_pid=$!
result="$("$bin/gearmanode" submit --servers "$address" --timeout 30s upper 'hello cli')" ||
  { cat "$tmp/worker.log" >&2; fail 'gearmanode submit'; }
[ "$result" = 'HELLO CLI' ] || fail "gearmanode submit printed '$result'"
wait "$worker_pid" || fail 'gearmanode work did not exit 0 after --max-jobs 1'
worker_pid=''
kill -TERM "$server_pid"
wait "$server_pid" || fail 'gearmanode server did not exit 0 on SIGTERM'
server_pid=''

echo 'pack-check: ok'
