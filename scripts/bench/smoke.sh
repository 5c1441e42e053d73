#!/usr/bin/env bash
# The benchmark harness still works: scripts/bench/compare.sh for about a second per
# scenario, one round, no latency phase, 20 routes instead of 10,000, the debug build
# the tests already made; then the report's shape is checked (report.py check). Timings
# are never asserted: they mean nothing on a shared machine and less in a debug build.
#
# usage: scripts/bench/smoke.sh        (BASE_PORT=18500 by default; ~1 min once the
#                                       oauth2-proxy tool set is cached by tools/build)
set -euo pipefail
cd "$(dirname "$0")/../.."

scenarios="portcullis_healthz portcullis_cookie_log portcullis_nocookie_log
portcullis_bearer_quiet portcullis10k_cookie_log oauth2proxy_cookie_log nullauth
nginx_return204 nginx_nullauth nginx_portcullis_cookie_log"
# shellcheck disable=SC2086 # one scenario name per word
SCENARIOS=$(echo $scenarios) DURATION=1 ROUNDS=1 RATE_ROUNDS=0 ROUTES=20 CONNECTIONS=8 \
    BENCH_PROFILE=debug BASE_PORT=${BASE_PORT:-18500} bash scripts/bench/compare.sh >/dev/null
# shellcheck disable=SC2086
python3 scripts/bench/report.py check target/bench/compare.json target/bench/compare.md $scenarios
echo "bench smoke: the harness ran every scenario and wrote a well-formed report"
