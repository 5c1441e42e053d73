#!/usr/bin/env bash
# Load test of the outpost on the 2-core machine: the outpost pinned to core 0, wrk on
# core 1, everything on 127.0.0.1. Measures /healthz (closest to a null handler), the
# auth subrequest with no cookie (401), with a session cookie, with a bearer token
# (cached, and uncached RS256/ES256 from pools of distinct tokens), and nginx
# auth_request through the outpost vs. through a do-nothing auth server; records the
# outpost's RSS (VmRSS) idle and after every run.
#
# usage: scripts/bench/load.sh            (DURATION=10 CONNECTIONS=64 by default)
#        DURATION=5 scripts/bench/load.sh
#        PERF_SCENARIOS="auth_cookie healthz" scripts/bench/load.sh   (adds perf profiles;
#        PERF_CALLGRAPH=1 records call graphs and reports inclusive percentages)
# Results: a markdown table on stdout and in target/bench/load-results.md; profiles in
# target/bench/perf-SCENARIO.txt.
#
# The session cookie and tokens come from scripts/bench/stub_idp.rs (a cargo example):
# it serves discovery + JWKS and seals a session cookie with the same cookie secret the
# outpost is given, exactly as the outpost's own login would.
# shellcheck disable=SC2154 # work, results_dir, clk_tck, nginx_pid: set by lib.sh (sourced)
set -euo pipefail

DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-64}
POOL=${POOL:-12000} # > the bearer cache's 4096 entries, so round-robin never hits
IDP_PORT=${IDP_PORT:-18090}
OUTPOST_PORT=${OUTPOST_PORT:-18180}
ADMIN_PORT=${ADMIN_PORT:-18190}
NGX_OUTPOST_PORT=${NGX_OUTPOST_PORT:-18280}
NGX_NULL_PORT=${NGX_NULL_PORT:-18281}
NGX_NULLAUTH_PORT=${NGX_NULLAUTH_PORT:-18282}
NGX_APP_PORT=${NGX_APP_PORT:-18283}
# shellcheck disable=SC2034 # read by stub_outpost.sh (sourced below)
SECRET="a-load-test-cookie-secret-of-enough-length"

# shellcheck source=scripts/bench/lib.sh
. "$(dirname "$0")/lib.sh"
results="$results_dir/load-results.md"

ports_free "$IDP_PORT" "$OUTPOST_PORT" "$ADMIN_PORT" "$NGX_OUTPOST_PORT" "$NGX_NULL_PORT" "$NGX_NULLAUTH_PORT" "$NGX_APP_PORT"

# shellcheck source=scripts/bench/stub_outpost.sh
. "$(dirname "$0")/stub_outpost.sh"

rows=()
declare -A RPS
# run NAME WRK_ARGS...: wrk on core 1 for DURATION seconds; records req/s, p99, outpost CPU.
run() {
    local name=$1
    shift
    local t0 t1 out rps p99 non2xx cpu
    perf_start "$name" "$outpost_pid"
    t0=$(cpu_ticks)
    # wrk's output is captured: when it fails, say so (with the outpost's state) before
    # set -e ends the run, or the run would stop without a word.
    local status=0
    out=$(taskset -c 1 wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --latency "$@" 2>&1) || status=$?
    if [ "$status" -ne 0 ] || ! kill -0 "$outpost_pid" 2>/dev/null; then
        echo "scenario $name failed: wrk exited $status; the outpost (pid $outpost_pid) is" \
            "$(kill -0 "$outpost_pid" 2>/dev/null && echo running || echo gone)" >&2
        echo "$out" | tail -n 5 | sed 's/^/  wrk: /' >&2
        tail -n 5 "$work/outpost.log" | sed 's/^/  outpost: /' >&2
        exit 1
    fi
    t1=$(cpu_ticks)
    perf_finish "$name"
    rps=$(awk '/^Requests\/sec:/ {printf "%d", $2}' <<<"$out")
    p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
    non2xx=$(awk '/Non-2xx or 3xx responses:/ {print $5}' <<<"$out")
    cpu=$(awk -v d="$((t1 - t0))" -v hz="$clk_tck" -v s="$DURATION" 'BEGIN {printf "%d", 100 * d / hz / s}')
    # The decision log goes to a file, as a container's stdout would; keep /tmp small.
    : >"$work/outpost.log"
    RPS[$name]=$rps
    # CPU per request survives a starved wrk (a busy neighbour on core 1) better than req/s.
    local us
    us=$(awk -v d="$((t1 - t0))" -v hz="$clk_tck" -v n="$rps" -v s="$DURATION" \
        'BEGIN { if (n > 0) printf "%.1f", 1e6 * d / hz / (n * s); else print "n/a" }')
    rows+=("| $name | $rps | $p99 | ${non2xx:-0} | $cpu% | $us | $(rss_kb) |")
    echo "$name: $rps req/s, p99 $p99, non-2xx ${non2xx:-0}, outpost CPU $cpu%, RSS $(rss_kb) kB" >&2
}

pool_script "$work/pool_rs256.txt" >"$work/pool_rs256.lua"
pool_script "$work/pool_es256.txt" >"$work/pool_es256.lua"

start_outpost info
sleep 1
rss_idle=$(rss_kb)
echo "outpost ready, idle RSS ${rss_idle} kB" >&2

expect_status 200 "http://127.0.0.1:$ADMIN_PORT/healthz"
expect_status 401 -H "$orig" "$auth_url"
expect_status 200 -H "$orig" -H "Cookie: $cookie" "$auth_url"
expect_status 200 -H "$orig" -H "Authorization: Bearer $bearer_rs" "$auth_url"
expect_status 200 -H "$orig" -H "Authorization: Bearer $(head -1 "$work/pool_es256.txt")" "$auth_url"

run healthz "http://127.0.0.1:$ADMIN_PORT/healthz"
# The same null handler with the auth request's headers (a 1.45 kB cookie): what parsing
# a realistic request costs before any auth work.
run healthz_with_cookie_headers -H "$orig" -H "Cookie: $cookie" "http://127.0.0.1:$ADMIN_PORT/healthz"
run auth_no_cookie_401 -H "$orig" "$auth_url"
run auth_cookie -H "$orig" -H "Cookie: $cookie" "$auth_url"
run auth_bearer_cached -H "$orig" -H "Authorization: Bearer $bearer_rs" "$auth_url"
run auth_bearer_uncached_rs256 -s "$work/pool_rs256.lua" "$auth_url"
run auth_bearer_uncached_es256 -s "$work/pool_es256.lua" "$auth_url"

# --- nginx auth_request (ingress-nginx shaped, keep-alive to the auth server) ---
mkdir -p "$work/nullauth" "$work/front"
null_auth_conf "$work/nullauth" "$NGX_NULLAUTH_PORT" >"$work/nullauth/nginx.conf"
# The ingress: one server per auth backend, and the app.
nginx_conf "$work/front" "
    upstream outpost { server 127.0.0.1:$OUTPOST_PORT; keepalive 64; }
    upstream nullauth { server 127.0.0.1:$NGX_NULLAUTH_PORT; keepalive 64; }
    upstream app { server 127.0.0.1:$NGX_APP_PORT; keepalive 64; }
    server {
        listen 127.0.0.1:$NGX_OUTPOST_PORT;
$(auth_location outpost)
    }
    server {
        listen 127.0.0.1:$NGX_NULL_PORT;
$(auth_location nullauth)
    }
    server {
        listen 127.0.0.1:$NGX_APP_PORT;
        location / { return 200 \"ok\\n\"; }
    }" >"$work/front/nginx.conf"

start_nginx 0 "$work/nullauth"
wait_for curl -fsS "http://127.0.0.1:$NGX_NULLAUTH_PORT/"
front=(-H "Host: app.localhost" -H "Cookie: $cookie")
# Two layouts: the ingress shares core 0 with the auth server (the outpost or the null
# one), or the ingress shares core 1 with wrk and the auth server has core 0 alone.
for layout in shared split; do
    core=0
    [ "$layout" = split ] && core=1
    start_nginx "$core" "$work/front"
    wait_for curl -fsS "http://127.0.0.1:$NGX_APP_PORT/"
    expect_status 200 "${front[@]}" "http://127.0.0.1:$NGX_OUTPOST_PORT/"
    expect_status 401 -H "Host: app.localhost" "http://127.0.0.1:$NGX_OUTPOST_PORT/"
    expect_status 200 "${front[@]}" "http://127.0.0.1:$NGX_NULL_PORT/"
    run "nginx_${layout}_null_auth" "${front[@]}" "http://127.0.0.1:$NGX_NULL_PORT/"
    run "nginx_${layout}_outpost_cookie" "${front[@]}" "http://127.0.0.1:$NGX_OUTPOST_PORT/"
    kill "$nginx_pid"
    wait "$nginx_pid" 2>/dev/null || true
    wait_for bash -c "! (exec 3<>/dev/tcp/127.0.0.1/$NGX_APP_PORT)"
done
rss_after=$(rss_kb)

# --- the decision log's share: the same cookie check with the log line filtered out ---
stop_outpost
start_outpost warn
expect_status 200 -H "$orig" -H "Cookie: $cookie" "$auth_url"
run auth_cookie_no_decision_log -H "$orig" -H "Cookie: $cookie" "$auth_url"
run healthz_no_decision_log "http://127.0.0.1:$ADMIN_PORT/healthz"

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
{
    echo "## Load test $(date -u +%Y-%m-%dT%H:%MZ)"
    echo
    echo "Machine: $(nproc) cores, $(awk -F: '/model name/ {print $2; exit}' /proc/cpuinfo | sed 's/^ *//'), kernel $(uname -r)."
    echo "wrk -t1 -c$CONNECTIONS -d${DURATION}s on core 1; the outpost and the null auth server on core 0;"
    echo "the ingress nginx on core 0 (shared) or core 1 with wrk (split)."
    echo
    echo "| scenario | req/s | p99 | non-2xx | outpost CPU | outpost CPU µs/req | outpost RSS kB after |"
    echo "|---|---|---|---|---|---|---|"
    printf '%s\n' "${rows[@]}"
    echo
    echo "Outpost RSS: idle ${rss_idle} kB, after the info-level runs ${rss_after} kB."
    echo
    echo "| ratio | measured | budget |"
    echo "|---|---|---|"
    echo "| healthz req/s | ${RPS[healthz]} | >= 80000 |"
    echo "| cookie / healthz | $(ratio "${RPS[auth_cookie]}" "${RPS[healthz]}") | >= 0.85 |"
    echo "| cookie / healthz with the same headers | $(ratio "${RPS[auth_cookie]}" "${RPS[healthz_with_cookie_headers]}") | (diagnostic) |"
    echo "| cached bearer / cookie | $(ratio "${RPS[auth_bearer_cached]}" "${RPS[auth_cookie]}") | >= 0.9 |"
    echo "| uncached RS256 / cookie | $(ratio "${RPS[auth_bearer_uncached_rs256]}" "${RPS[auth_cookie]}") | >= 0.45 |"
    echo "| uncached ES256 / cookie | $(ratio "${RPS[auth_bearer_uncached_es256]}" "${RPS[auth_cookie]}") | >= 0.25 |"
    for layout in shared split; do
        echo "| nginx via outpost / via null auth ($layout) | $(ratio "${RPS[nginx_${layout}_outpost_cookie]}" "${RPS[nginx_${layout}_null_auth]}") | >= 0.95 |"
    done
    echo "| cookie without decision log / cookie | $(ratio "${RPS[auth_cookie_no_decision_log]}" "${RPS[auth_cookie]}") | (diagnostic) |"
} | tee "$results"
