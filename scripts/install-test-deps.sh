#!/usr/bin/env bash
# Installs what the end-to-end tests need on a Debian bookworm machine, as root, without
# questions: nginx-light (has auth_request), caddy, redis-server, chromium (+ fonts), node +
# npm, and the pinned npm packages of tests/idp and tests/browser. Idempotent: when everything is present
# it only checks and returns quickly. Prints what it does. `--check`: install nothing, and
# fail naming what is missing (scripts/test runs it so; scripts/setup installs).
set -euo pipefail
check_only=false
[ "${1:-}" = --check ] && check_only=true

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export DEBIAN_FRONTEND=noninteractive
# Never let an npm package download a browser of its own: the system chromium is used.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1

say() { echo "install-test-deps: $*"; }

missing=()
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

# binary -> Debian package
need() {
  local bin="$1" pkg="$2"
  if command -v "$bin" >/dev/null 2>&1; then
    say "$bin present ($(command -v "$bin"))"
  else
    say "$bin missing -> will install $pkg"
    missing+=("$pkg")
  fi
}

need nginx nginx-light
need caddy caddy
need shellcheck shellcheck
need chromium chromium
need node nodejs
need npm npm
# The Redis session store's tests start their own redis-server (and use redis-cli).
need redis-server redis-server
need redis-cli redis-tools
# TLS Redis tests make their certificates with the openssl command.
need openssl openssl
# The bench smoke run (scripts/bench/smoke.sh): wrk as the load generator, taskset to pin.
need wrk wrk
need taskset util-linux
need python3 python3
if ! have_pkg fonts-liberation; then
  say "fonts-liberation missing -> will install"
  missing+=(fonts-liberation)
fi

# set_escape_uri (as ingress-nginx uses for the rd= parameter) comes from set-misc.
if [ ! -f /usr/lib/nginx/modules/ngx_http_set_misc_module.so ]; then
  say "nginx set-misc module missing -> will install libnginx-mod-http-set-misc"
  missing+=(libnginx-mod-http-set-misc)
fi

if command -v nginx >/dev/null 2>&1 && ! nginx -V 2>&1 | grep -q -- --with-http_auth_request_module; then
  say "installed nginx lacks auth_request -> will install nginx-light"
  missing+=(nginx-light)
fi

if ((${#missing[@]})) && $check_only; then
  say "missing Debian packages: ${missing[*]}; run scripts/setup (as root) first" >&2
  exit 1
fi
if ((${#missing[@]})); then
  if [ "$(id -u)" != 0 ]; then
    say "need root to apt-get install: ${missing[*]}" >&2
    exit 1
  fi
  say "apt-get update"
  apt-get update -qq
  say "apt-get install ${missing[*]}"
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
  # The Debian nginx and redis-server packages start system services on install; the
  # tests run their own.
  for service in nginx redis-server; do
    if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet "$service" 2>/dev/null; then
      systemctl stop "$service" || true
    fi
  done
fi

node_major="$(node -p 'process.versions.node.split(".")[0]')"
if [ "$node_major" -lt 20 ]; then
  say "node $(node --version) is older than 20; oidc-provider 9 needs >= 20" >&2
  exit 1
fi

for dir in tests/idp tests/browser; do
  lock="$ROOT/$dir/package-lock.json"
  stamp="$ROOT/$dir/node_modules/.package-lock.json"
  # npm writes node_modules/.package-lock.json on install; when it is newer than the
  # committed lock file, the tree is already what `npm ci` would produce.
  if [ -f "$stamp" ] && [ "$stamp" -nt "$lock" ]; then
    say "$dir: node_modules up to date"
  elif $check_only; then
    say "$dir: node_modules missing or older than package-lock.json; run scripts/setup first" >&2
    exit 1
  else
    say "$dir: npm ci"
    (cd "$ROOT/$dir" && npm ci --no-audit --no-fund --loglevel=error)
  fi
done

say "nginx: $(nginx -v 2>&1 | sed 's/.*: //'), caddy: $(caddy version | cut -d' ' -f1), chromium: $(chromium --version 2>/dev/null | head -1), node: $(node --version)"
say "done"
