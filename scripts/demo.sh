#!/usr/bin/env bash
# The main job: install the workspace and run the reverse example (examples/reverse), a worker
# that reverses strings and a client that submits "hello world!" and prints "!dlrow olleh".
#
# Needs nothing but Node.js 20.4+ and npm: without GEARMAN_SERVERS the example starts the
# embedded job server (@gearmanode/server) in its own process on a free port, so gearmand need
# not be installed. With GEARMAN_SERVERS=host:port[,host:port] it uses those servers instead.
# Installs pnpm (the version pinned in package.json) if it is missing, as scripts/test.sh does,
# then the workspace's dependencies; both are no-ops when already done.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

step() { printf '\n==> %s\n' "$*" >&2; }

if ! command -v node >/dev/null 2>&1; then
  echo 'demo: Node.js 20.4 or later is needed (https://nodejs.org)' >&2
  exit 1
fi
if ! node -e '
  const [major, minor] = process.versions.node.split(".").map(Number);
  process.exit(major > 20 || (major === 20 && minor >= 4) ? 0 : 1);
'; then
  echo "demo: Node.js 20.4 or later is needed; this is $(node --version)" >&2
  exit 1
fi

# Corepack is not used: Node 20's corepack rejects the signatures of pnpm 12. A global npm
# install needs a writable global prefix; without one, npm runs the pinned pnpm through `npm exec`.
pnpm_version="$(node -p "require('./package.json').packageManager.replace(/^pnpm@/, '').split('+')[0]")"
pnpm=(pnpm)
if [ "$(pnpm --version 2>/dev/null || true)" != "$pnpm_version" ]; then
  step "installing pnpm@$pnpm_version"
  if npm install --global "pnpm@$pnpm_version"; then
    hash -r
  else
    echo "demo: could not install pnpm globally; using npm exec pnpm@$pnpm_version instead" >&2
    pnpm=(npm exec --yes "--package=pnpm@$pnpm_version" -- pnpm)
  fi
fi

step 'pnpm install'
"${pnpm[@]}" install --frozen-lockfile >&2

if [ -n "${GEARMAN_SERVERS:-}" ]; then
  step "reverse example, on GEARMAN_SERVERS=$GEARMAN_SERVERS"
else
  step 'reverse example, on an embedded job server (set GEARMAN_SERVERS=host:port to use yours)'
fi
exec "${pnpm[@]}" --silent demo
