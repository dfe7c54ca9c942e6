#!/usr/bin/env bash
# Lint, typecheck and run every test against a real gearmand, installing what is missing first.
# Works on a fresh Debian 12 with Node 20+ and npm (as root, or with sudo); a no-op install
# when everything is already there. The last line is the totals: `N passed, M failed`.
#
# With --all-node, or CI=true, the test suite runs once under each Node version the packages
# support (NODE_VERSIONS, default "20 22 24"; lint and typecheck run once), and the last line
# sums all the runs. Versions other than the current one come from the npm registry's `node`
# package, cached in NODE_CACHE_DIR (default ~/.cache/gearmanode/node/<major>).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

all_node=false
case "${CI:-}" in true | 1) all_node=true ;; esac
for arg in "$@"; do
  case "$arg" in
    --all-node) all_node=true ;;
    *)
      echo "usage: $0 [--all-node]" >&2
      exit 2
      ;;
  esac
done
node_versions="${NODE_VERSIONS:-20 22 24}"
node_cache="${NODE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/gearmanode/node}"
started_at=$SECONDS

step() { printf '\n==> %s\n' "$*"; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    echo "need root to run: $*" >&2
    exit 1
  fi
}

# Corepack is not used: Node 20's corepack rejects the signatures of pnpm 12.
pnpm_version="$(node -p "require('./package.json').packageManager.replace(/^pnpm@/, '').split('+')[0]")"
if [ "$(pnpm --version 2>/dev/null || true)" != "$pnpm_version" ]; then
  step "installing pnpm@$pnpm_version"
  npm install --global "pnpm@$pnpm_version"
  hash -r
fi

# gearmand, the C library's tools, and the PHP and Perl Gearman libraries the interop tests
# (test/interop) run against ours. Debian installs gearmand in /usr/sbin, which is not always in
# PATH; a `gearmand` elsewhere may be Perl's Gearman::Server (Debian's gearman-server), so the C
# one is recognised by its --version line. `php -m | grep -q` could fail under pipefail when grep
# exits first, so ask PHP directly.
c_gearmand() {
  local candidate
  for candidate in /usr/sbin/gearmand "$(command -v gearmand || true)"; do
    [ -x "$candidate" ] && "$candidate" --version 2>/dev/null | grep -c '^gearmand [0-9]' >/dev/null &&
      return 0
  done
  return 1
}
apt_packages=()
if ! c_gearmand ||
  ! command -v gearadmin >/dev/null 2>&1 || ! command -v gearman >/dev/null 2>&1; then
  apt_packages+=(gearman-job-server gearman-tools)
fi
if ! php -r 'exit(extension_loaded("gearman") ? 0 : 1);' >/dev/null 2>&1; then
  apt_packages+=(php-cli php-gearman)
fi
if ! perl -MGearman::Client -MGearman::Worker -e1 >/dev/null 2>&1; then
  apt_packages+=(libgearman-client-perl)
fi
# Perl's Gearman::Server, the interop suite's second job server (test/gearman-server.ts), needs
# these Perl libraries; the server itself is unpacked below rather than installed.
if ! perl -MDanga::Socket -e1 >/dev/null 2>&1; then
  apt_packages+=(libdanga-socket-perl)
fi
# The TLS tests make their certificates with the openssl command, which slim images lack.
if ! command -v openssl >/dev/null 2>&1; then
  apt_packages+=(openssl)
fi
# The dashboard test drives the page in a headless Chromium (test/chromium.ts).
if ! [ -x /usr/bin/chromium ]; then
  apt_packages+=(chromium)
fi
if [ "${#apt_packages[@]}" -gt 0 ]; then
  step "installing ${apt_packages[*]}"
  as_root apt-get update
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y "${apt_packages[@]}"
fi

# Debian's gearman-server installs the Perl server as /usr/bin/gearmand, which would shadow the
# C gearmand (in /usr/sbin) for anything that searches PATH, and run_vitest below puts node's
# directory, often /usr/bin, first. So the package is unpacked into the repository's
# .cache/gearman-server (where test/gearman-server.ts looks) instead of being installed. The
# harness also checks `gearmand --version`, so a machine that has the package installed anyway
# still runs the C gearmand.
gearman_server_dir=.cache/gearman-server
if ! [ -f "$gearman_server_dir/usr/bin/gearmand" ]; then
  step "unpacking gearman-server into $gearman_server_dir"
  download_dir="$(mktemp -d)"
  (cd "$download_dir" && apt-get download gearman-server) ||
    { as_root apt-get update && (cd "$download_dir" && apt-get download gearman-server); }
  mkdir -p "$gearman_server_dir"
  dpkg-deb -x "$download_dir"/gearman-server_*.deb "$gearman_server_dir"
  rm -rf "$download_dir"
fi

step 'pnpm install'
pnpm install --frozen-lockfile

# Every step runs even when an earlier one fails, so one run reports every problem.
failed=()

step 'lint (biome ci)'
pnpm lint:ci || failed+=(lint)

step 'typecheck (tsc -b)'
pnpm typecheck || failed+=(typecheck)

# The tarballs as an npm user gets them (needs the npm registry): see scripts/pack-check.sh.
step 'pack check (pack, install with npm, use)'
bash scripts/pack-check.sh || failed+=(pack-check)

step 'API reference (typedoc, warnings are errors)'
pnpm run docs || failed+=(docs)

# Prints the path of a working node binary of major version $1: the current node if it is that
# version, else one installed from the npm registry's `node` package (kept between runs).
node_binary() {
  local major="$1" dir bin
  if [ "$(node -p 'process.versions.node.split(".")[0]')" = "$major" ]; then
    command -v node
    return
  fi
  dir="$node_cache/$major"
  bin="$dir/node_modules/.bin/node"
  if ! "$bin" --version >/dev/null 2>&1; then
    echo "installing node@$major from the npm registry into $dir" >&2
    mkdir -p "$dir"
    npm install --prefix "$dir" --no-audit --no-fund --loglevel=error "node@$major" >&2
  fi
  "$bin" --version >/dev/null
  echo "$bin"
}

# Runs every vitest project under the node binary $1, writing the JSON report to $2. The
# binary's directory goes first in PATH, so that tests spawning `node` get the same version.
run_vitest() {
  local bin="$1" report="$2"
  rm -f "$report"
  PATH="$(dirname "$bin"):$PATH" "$bin" node_modules/vitest/vitest.mjs run \
    --reporter=default --reporter=json --outputFile.json="$report"
}

# Sums the JSON reports given after $1: with $1 = totals, `N passed, M failed[, K skipped]`;
# with $1 = summary, `passed N, failed M, skipped K` (a per-run line unlike the totals line).
totals_of() {
  node -e '
    const fs = require("node:fs");
    let passed = 0, failed = 0, skipped = 0;
    for (const file of process.argv.slice(2)) {
      if (!fs.existsSync(file)) continue;
      const r = JSON.parse(fs.readFileSync(file, "utf8"));
      passed += r.numPassedTests;
      failed += r.numFailedTests;
      skipped += r.numPendingTests + r.numTodoTests;
    }
    if (process.argv[1] === "summary") {
      console.log(`passed ${passed}, failed ${failed}, skipped ${skipped}`);
    } else {
      const line = `${passed} passed, ${failed} failed`;
      console.log(skipped > 0 ? `${line}, ${skipped} skipped` : line);
    }
  ' "$@"
}

reports=()
summaries=()
if [ "$all_node" = true ]; then
  for major in $node_versions; do
    step "tests (vitest, all projects) on Node $major"
    if ! bin="$(node_binary "$major")"; then
      failed+=("node $major install")
      continue
    fi
    report=".vitest-results/report-node$major.json"
    reports+=("$report")
    run_started=$SECONDS
    run_vitest "$bin" "$report" || failed+=("tests on node $major")
    summaries+=("node $("$bin" --version): $(totals_of summary "$report"), $((SECONDS - run_started)) s")
  done
else
  step 'tests (vitest, all projects)'
  report=.vitest-results/report.json
  reports+=("$report")
  run_vitest "$(command -v node)" "$report" || failed+=(tests)
fi

totals="$(totals_of totals "${reports[@]}")"
case "$totals" in
  '0 passed, 0 failed'*) failed+=('no tests ran') ;;
esac

echo
for summary in "${summaries[@]}"; do echo "$summary"; done
echo "wall time: $((SECONDS - started_at)) s"
if [ "${#failed[@]}" -gt 0 ]; then
  echo "failed: ${failed[*]}" >&2
fi
echo "$totals"
[ "${#failed[@]}" -eq 0 ]
