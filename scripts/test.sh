#!/usr/bin/env bash
# Lint, typecheck and run every test against a real gearmand, installing what is missing first.
# Works on a fresh Debian 12 with Node 20+ and npm (as root, or with sudo); a no-op install
# when everything is already there. The last line is the totals: `N passed, M failed`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

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
# PATH. `php -m | grep -q` could fail under pipefail when grep exits first, so ask PHP directly.
apt_packages=()
if ! { command -v gearmand || [ -x /usr/sbin/gearmand ]; } >/dev/null 2>&1 ||
  ! command -v gearadmin >/dev/null 2>&1 || ! command -v gearman >/dev/null 2>&1; then
  apt_packages+=(gearman-job-server gearman-tools)
fi
if ! php -r 'exit(extension_loaded("gearman") ? 0 : 1);' >/dev/null 2>&1; then
  apt_packages+=(php-cli php-gearman)
fi
if ! perl -MGearman::Client -MGearman::Worker -e1 >/dev/null 2>&1; then
  apt_packages+=(libgearman-client-perl)
fi
# The TLS tests make their certificates with the openssl command, which slim images lack.
if ! command -v openssl >/dev/null 2>&1; then
  apt_packages+=(openssl)
fi
if [ "${#apt_packages[@]}" -gt 0 ]; then
  step "installing ${apt_packages[*]}"
  as_root apt-get update
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y "${apt_packages[@]}"
fi

step 'pnpm install'
pnpm install --frozen-lockfile

# Every step runs even when an earlier one fails, so one run reports every problem.
failed=()

step 'lint (biome ci)'
pnpm lint:ci || failed+=(lint)

step 'typecheck (tsc -b)'
pnpm typecheck || failed+=(typecheck)

step 'tests (vitest, all projects)'
report=.vitest-results/report.json
rm -f "$report"
pnpm exec vitest run --reporter=default --reporter=json --outputFile.json="$report" ||
  failed+=(tests)

totals="$(
  node -e '
    const fs = require("node:fs");
    const file = process.argv[1];
    if (!fs.existsSync(file)) { console.log("0 passed, 0 failed"); process.exit(); }
    const r = JSON.parse(fs.readFileSync(file, "utf8"));
    const skipped = r.numPendingTests + r.numTodoTests;
    const line = `${r.numPassedTests} passed, ${r.numFailedTests} failed`;
    console.log(skipped > 0 ? `${line}, ${skipped} skipped` : line);
  ' "$report"
)"
case "$totals" in
  '0 passed, 0 failed'*) failed+=('no tests ran') ;;
esac

echo
if [ "${#failed[@]}" -gt 0 ]; then
  echo "failed: ${failed[*]}" >&2
fi
echo "$totals"
[ "${#failed[@]}" -eq 0 ]
