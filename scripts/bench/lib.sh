# Shared by scripts/bench/load.sh and scripts/bench/compare.sh (sourced, not run):
# installing what a run needs, bounded waits, cleanup of what a run started, process CPU
# and RSS from /proc, the optional perf profile, and the nginx configurations
# (ingress-nginx's auth-url location with a keep-alive upstream).
# shellcheck shell=bash

# The repository root (the working directory from here on) and the results folder.
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root" || exit 1
results_dir="$root/target/bench"
mkdir -p "$results_dir"

# need CMD PACKAGE: apt-get install PACKAGE when CMD is missing.
need() {
    command -v "$1" >/dev/null 2>&1 && return 0
    echo "installing $2 (for $1)" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$2" >/dev/null
}

need wrk wrk
need nginx nginx
need taskset util-linux
need curl curl

# ports_free PORT...: exits when one of them is already listening.
ports_free() {
    local port
    for port in "$@"; do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "port $port is in use; set the *_PORT variables" >&2
            exit 1
        fi
    done
}

# Everything started goes in $pids; an EXIT trap stops it and removes $work.
work=$(mktemp -d /tmp/portcullis-bench.XXXXXX)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${pids[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$work"
}
trap cleanup EXIT

# wait_for CMD...: retry for at most 60 s.
wait_for() {
    for _ in $(seq 1 600); do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    echo "timed out waiting for: $*" >&2
    return 1
}

# expect_status STATUS CURL_ARGS...: each scenario answers what it should before it is measured.
expect_status() {
    local want=$1
    shift
    local got
    got=$(curl -s -o /dev/null -w '%{http_code}' "$@")
    if [ "$got" != "$want" ]; then
        echo "expected $want, got $got for: $*" >&2
        exit 1
    fi
}

# json_string TEXT: TEXT as a JSON string literal, quotes included (a label may hold a
# path or any other character).
json_string() { python3 -c 'import json, sys; print(json.dumps(sys.argv[1]))' "$1"; }

# shellcheck disable=SC2034 # used by the scripts that source this
clk_tck=$(getconf CLK_TCK)
rss_of() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }   # kB
ticks_of() { awk '{print $14 + $15}' "/proc/$1/stat"; }       # user + system, in clock ticks

# perf_start NAME PID: when NAME is in $PERF_SCENARIOS, profile PID (perf on core 1) for
# $DURATION seconds; PERF_CALLGRAPH=1 records call graphs. perf_finish NAME writes the
# report to $results_dir/perf-NAME.txt. perf's own messages go to $work/perf-NAME.log; a
# profile perf could not record or report is said loudly on stderr, with perf's words
# and exit status, and in perf-NAME.txt, and the run goes on without it. The report is
# bounded by PERF_REPORT_TIMEOUT seconds (default 900) and skips inlined frames
# (--no-inline): resolving them took perf 6.1 75-88 s per uncached-bearer scenario of
# 10 s with call graphs, against 0.2 s without, for the same percentages (glibc's inner
# aliases aside); PERF_INLINE=1 keeps them. Minutes of silence after the uncached RS256
# line are what made a PERF_CALLGRAPH=1 run look stopped there.
perf_pid=
if [ -n "${PERF_CALLGRAPH:-}" ] && [ -z "${PERF_SCENARIOS:-}" ]; then
    echo "WARNING: PERF_CALLGRAPH=1 without PERF_SCENARIOS profiles nothing; name the scenarios," \
        "e.g. PERF_SCENARIOS=\"auth_cookie auth_bearer_uncached_rs256\"" >&2
fi
perf_start() {
    perf_pid=
    [[ " ${PERF_SCENARIOS:-} " == *" $1 "* ]] || return 0
    if ! command -v perf >/dev/null 2>&1; then
        perf_failed "$1" "perf is not installed (sudo apt-get install -y linux-perf)" /dev/null
        return 0
    fi
    local graph=()
    # shellcheck disable=SC2054 # "dwarf,16384" is one argument of perf
    [ -n "${PERF_CALLGRAPH:-}" ] && graph=(--call-graph dwarf,16384)
    rm -f "${results_dir:?}/perf-$1.data" "$results_dir/perf-$1.txt"
    taskset -c 1 perf record -q -F 499 "${graph[@]}" -p "$2" -o "$results_dir/perf-$1.data" \
        -- sleep "$DURATION" >"$work/perf-$1.log" 2>&1 &
    perf_pid=$!
}
perf_finish() {
    [ -n "$perf_pid" ] || return 0
    local name=$1 data="$results_dir/perf-$1.data" status=0 started
    wait "$perf_pid" || status=$?
    perf_pid=
    if [ "$status" -ne 0 ] || [ ! -s "$data" ]; then
        perf_failed "$name" "perf record exited $status$(perf_paranoid_hint)" "$work/perf-$name.log"
        return 0
    fi
    local mode=--no-children
    [ -n "${PERF_CALLGRAPH:-}" ] && mode="--children -g none"
    [ -n "${PERF_INLINE:-}" ] || mode="$mode --no-inline"
    started=$(date +%s)
    echo "perf report of $name ($(du -h "$data" | cut -f1) of samples)..." >&2
    # shellcheck disable=SC2086 # $mode is two words on purpose
    timeout "${PERF_REPORT_TIMEOUT:-900}" perf report -i "$data" --stdio $mode --sort symbol \
        >"$work/perf-$name.report" 2>>"$work/perf-$name.log" || status=$?
    case $status in
        0) ;;
        124) perf_failed "$name" "perf report timed out after ${PERF_REPORT_TIMEOUT:-900} s (PERF_REPORT_TIMEOUT)" "$work/perf-$name.log"; return 0 ;;
        137) perf_failed "$name" "perf report was killed (SIGKILL: out of memory? see dmesg)" "$work/perf-$name.log"; return 0 ;;
        *) perf_failed "$name" "perf report exited $status" "$work/perf-$name.log"; return 0 ;;
    esac
    grep -v '^#' "$work/perf-$name.report" | grep -v '^$' | sed 's/ *$//' | head -120 \
        >"$results_dir/perf-$name.txt" || true
    if [ ! -s "$results_dir/perf-$name.txt" ]; then
        perf_failed "$name" "perf report found no samples" "$work/perf-$name.log"
        return 0
    fi
    echo "perf report of $name: $(($(date +%s) - started)) s, $results_dir/perf-$name.txt" >&2
}
# perf_failed NAME WHY LOG: says on stderr (and in perf-NAME.txt) that NAME has no
# profile, why, and the last lines perf wrote.
perf_failed() {
    {
        echo "WARNING: no perf profile for $1: $2"
        tail -n 5 "$3" 2>/dev/null | sed 's/^/  perf: /'
    } | tee "$results_dir/perf-$1.txt" >&2
}
# perf_paranoid_hint: why perf may not attach to another process here.
perf_paranoid_hint() {
    local level
    level=$(cat /proc/sys/kernel/perf_event_paranoid 2>/dev/null || echo '?')
    if [ "$level" != '?' ] && [ "$level" -gt 1 ] && [ "$(id -u)" != 0 ]; then
        echo "; kernel.perf_event_paranoid is $level (sudo sysctl kernel.perf_event_paranoid=1)"
    fi
}

# auth_location UPSTREAM: ingress-nginx's auth-url location (keep-alive to the auth
# server) and a protected `location /` copying the four identity headers to the app.
auth_location() {
    cat <<NGX
        location = /_oauth2_auth {
            internal;
            proxy_pass_request_body     off;
            proxy_set_header            Content-Length          "";
            proxy_set_header            Host                    \$http_host;
            proxy_set_header            X-Original-URL          \$scheme://\$http_host\$request_uri;
            proxy_set_header            X-Original-Method       \$request_method;
            proxy_set_header            X-Forwarded-Host        \$http_host;
            proxy_set_header            X-Forwarded-Proto       \$scheme;
            proxy_set_header            X-Forwarded-Uri         \$request_uri;
            proxy_set_header            X-Real-IP               \$remote_addr;
            proxy_set_header            X-Forwarded-For         \$remote_addr;
            proxy_http_version          1.1;
            proxy_set_header            Connection              "";
            proxy_pass                  http://$1/oauth2/auth;
        }
        location / {
            auth_request        /_oauth2_auth;
            auth_request_set    \$user \$upstream_http_x_auth_request_user;
            auth_request_set    \$email \$upstream_http_x_auth_request_email;
            auth_request_set    \$groups \$upstream_http_x_auth_request_groups;
            auth_request_set    \$pun \$upstream_http_x_auth_request_preferred_username;
            proxy_set_header    X-Auth-Request-User \$user;
            proxy_set_header    X-Auth-Request-Email \$email;
            proxy_set_header    X-Auth-Request-Groups \$groups;
            proxy_set_header    X-Auth-Request-Preferred-Username \$pun;
            proxy_set_header    Host \$http_host;
            proxy_http_version  1.1;
            proxy_set_header    Connection "";
            proxy_pass          http://app;
        }
NGX
}

# nginx_conf DIR SERVERS: a single-process nginx (no forked workers: one pid to pin).
nginx_conf() {
    mkdir -p "$1/tmp"
    cat <<NGX
daemon off;
master_process off;
worker_processes 1;
pid $1/nginx.pid;
error_log $1/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $1/tmp/body;
    proxy_temp_path $1/tmp/proxy;
    fastcgi_temp_path $1/tmp/fastcgi;
    uwsgi_temp_path $1/tmp/uwsgi;
    scgi_temp_path $1/tmp/scgi;
$2
}
NGX
}

# null_auth_conf DIR PORT: the do-nothing auth server, its own process (it stands where
# the outpost stands): 200 and the same identity headers, no work.
null_auth_conf() {
    nginx_conf "$1" "
    server {
        listen 127.0.0.1:$2;
        location / {
            add_header X-Auth-Request-User jane;
            add_header X-Auth-Request-Email jane@example.com;
            add_header X-Auth-Request-Groups admins,developers,staff;
            add_header X-Auth-Request-Preferred-Username jane;
            return 200;
        }
    }"
}

# start_nginx CORE DIR: sets nginx_pid.
start_nginx() {
    mkdir -p "$2"
    taskset -c "$1" nginx -p "$2" -c "$2/nginx.conf" -e "$2/error.log" &
    nginx_pid=$!
    pids+=("$nginx_pid")
}
