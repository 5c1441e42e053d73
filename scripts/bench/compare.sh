#!/usr/bin/env bash
# Portcullis and oauth2-proxy side by side, in one run, on the 2-core machine (issue 11).
# Both log in through the same IdP (tests/idp/idp.mjs, oidc-provider) as the same user,
# by script (scripts/bench/login.py), and answer nginx-style auth subrequests:
#
#   - each server alone: session cookie, no cookie (401), bearer JWT (the ID token; both
#     accept it: Portcullis with bearer enabled on the route, oauth2-proxy with
#     --skip-jwt-bearer-tokens); each with its default logging and with request logging off;
#   - through one single-process nginx (ingress-nginx's auth-url location, keep-alive
#     upstream), the same configuration for every auth server;
#   - floors: the do-nothing auth server (nginx, 200 + identity headers), alone and through
#     the ingress; the ingress's own `return 204`; Portcullis's /healthz (its null handler);
#   - Portcullis with 10,000 routes loaded (the bench route last).
#
# The auth servers and the ingress sit on core 0; wrk, vegeta, the IdP and this script on
# core 1. Phase 1, throughput at saturation: wrk -t1 -c$CONNECTIONS for $DURATION s per
# scenario, every scenario once per round, in a random order, $ROUNDS rounds; the auth
# server's (and ingress's) CPU time per request from /proc/PID/stat; RSS after each run.
# Phase 2, latency at fixed rates: vegeta at 25/50/75% of the slower server's median
# cookie-check throughput (alone, and through nginx), random order, $ROUNDS rounds;
# p50/p99/p99.9 from every response's latency.
#
# usage: scripts/bench/compare.sh                     (DURATION=10 ROUNDS=3 CONNECTIONS=64)
#        DURATION=2 ROUNDS=1 scripts/bench/compare.sh  (a quick check of the harness)
#        PERF_SCENARIOS="portcullis_cookie_log" PERF_CALLGRAPH=1 scripts/bench/compare.sh
#        SCENARIOS="portcullis_healthz portcullis_cookie_log" RATE_ROUNDS=0 scripts/bench/compare.sh
#        PORTCULLIS_BIN=/tmp/portcullis-before scripts/bench/compare.sh  (measure another build)
#          (only the named phase-1 scenarios; RATE_ROUNDS=0 skips phase 2, which also needs
#          both servers' cookie scenarios)
# Results: target/bench/compare.md (the table) and target/bench/compare.json (medians,
# min and max of every measure, the rates, RSS, versions); raw runs in compare-raw.jsonl.
# shellcheck disable=SC2154 # work, results_dir, clk_tck, nginx_pid: set by lib.sh (sourced)
set -euo pipefail
shopt -s inherit_errexit

DURATION=${DURATION:-10}
RATE_DURATION=${RATE_DURATION:-$DURATION}
ROUNDS=${ROUNDS:-3}
RATE_ROUNDS=${RATE_ROUNDS:-$ROUNDS}
SCENARIOS=${SCENARIOS:-}
CONNECTIONS=${CONNECTIONS:-64}
ROUTES=${ROUTES:-10000}
BASE_PORT=${BASE_PORT:-18400} # uses BASE_PORT .. BASE_PORT+19

LOAD_AT_START=$(cut -d' ' -f1-3 /proc/loadavg)
# shellcheck source=scripts/bench/lib.sh
. "$(dirname "$0")/lib.sh"
raw="$results_dir/compare-raw.jsonl"
need node nodejs
need python3 python3

p=$BASE_PORT
IDP_PORT=$p
declare -A PORT=(
    [portcullis_log]=$((p + 1)) [portcullis_quiet]=$((p + 2)) [portcullis10k_log]=$((p + 3))
    [oauth2proxy_log]=$((p + 4)) [oauth2proxy_quiet]=$((p + 5)) [nullauth]=$((p + 6))
)
declare -A ADMIN=([portcullis_log]=$((p + 7)) [portcullis_quiet]=$((p + 8)) [portcullis10k_log]=$((p + 9)))
declare -A FRONT=(
    [portcullis_log]=$((p + 10)) [portcullis_quiet]=$((p + 11)) [oauth2proxy_log]=$((p + 12))
    [oauth2proxy_quiet]=$((p + 13)) [nullauth]=$((p + 14)) [return204]=$((p + 15))
)
APP_PORT=$((p + 16))
ports_free "$IDP_PORT" "${PORT[@]}" "${ADMIN[@]}" "${FRONT[@]}" "$APP_PORT"

echo "building (release) and the benchmark tools..." >&2
# BENCH_PROFILE=debug: the debug build (the smoke test's; its numbers mean nothing).
# PORTCULLIS_BIN: another build to measure (e.g. a copy of the previous commit's).
BENCH_PROFILE=${BENCH_PROFILE:-release}
# The report names what ran: a build made here by the commit it was built from (taken
# now, not when the run ends: the checkout may move meanwhile); PORTCULLIS_BIN by its own
# `--version` (its release and the commit it was built from), its path and digest, since
# the commit does not say whether the tree was dirty (PORTCULLIS_LABEL, e.g. "before",
# says more of which build it is).
if [ -z "${PORTCULLIS_BIN:-}" ]; then
    if [ "$BENCH_PROFILE" = release ]; then
        cargo build --release --quiet --bin portcullis
    else
        cargo build --quiet --bin portcullis
    fi
    PORTCULLIS_BIN=target/$BENCH_PROFILE/portcullis
    portcullis_label="$(git describe --always --dirty) ($("$PORTCULLIS_BIN" --version), built here)"
else
    if [ ! -x "$PORTCULLIS_BIN" ]; then
        echo "PORTCULLIS_BIN=$PORTCULLIS_BIN is not an executable file" >&2
        exit 1
    fi
    portcullis_label="${PORTCULLIS_LABEL:+$PORTCULLIS_LABEL, }$("$PORTCULLIS_BIN" --version), \
PORTCULLIS_BIN=$PORTCULLIS_BIN sha256:$(sha256sum "$PORTCULLIS_BIN" | cut -c1-12)"
fi
echo "measuring portcullis: $portcullis_label" >&2
oauth2_proxy="$(tools/build oauth2-proxy)/oauth2-proxy"
vegeta="$(tools/build vegeta)/vegeta"
[ -d tests/idp/node_modules ] || (cd tests/idp && npm ci --silent)

# --- the IdP (core 1: only used to log in, before anything is measured) ---
USERNAME=jane
PASSWORD=bench-password
CLIENT_ID=bench
CLIENT_SECRET=bench-client-secret
APP=http://app.localhost
DAY=86400
taskset -c 1 env DEBUG= node tests/idp/idp.mjs "$(
    cat <<JSON
{"host": "127.0.0.1", "port": $IDP_PORT,
 "clients": [{"client_id": "$CLIENT_ID", "client_secret": "$CLIENT_SECRET",
              "redirect_uris": ["$APP/oauth2/callback"]}],
 "accounts": [{"username": "$USERNAME", "password": "$PASSWORD",
               "claims": {"sub": "sub-$USERNAME", "preferred_username": "$USERNAME",
                          "email": "$USERNAME@example.com", "email_verified": true,
                          "name": "Jane Bench", "groups": ["admins", "developers", "staff"]}}],
 "ttl": {"AccessToken": $DAY, "IdToken": $DAY, "RefreshToken": $DAY, "Session": $DAY, "Grant": $DAY}}
JSON
)" >"$work/idp.log" 2>&1 &
pids+=($!)
wait_for grep -q READY "$work/idp.log"
issuer="http://127.0.0.1:$IDP_PORT"

# --- Portcullis (core 0), file mode: default logging (info, JSON), and RUST_LOG=warn ---
printf '%s' "a-compare-cookie-secret-of-enough-length" >"$work/p-secret"
route() { # ID HOST
    cat <<YAML
  - id: $1
    hosts: ["$2"]
    paths: [/]
    provider: bench/idp
    authURL: http://$2
    redirectURI: http://$2/oauth2/callback
    policy:
      groups: [staff]
    bearer:
      enabled: true
YAML
}
outpost_yaml() { # EXTRA_ROUTES
    cat <<YAML
providers:
  bench/idp:
    issuerURL: "$issuer"
    clientID: $CLIENT_ID
    clientSecret: { value: $CLIENT_SECRET }
    scopes: [openid, profile, email, groups]
    claims: { username: [preferred_username, email], email: email, groups: groups, permissions: permissions }
    clockSkewSeconds: 30
routes:
YAML
    for i in $(seq 1 "$1"); do route "bench/app-$i" "app-$i.localhost"; done
    route bench/app app.localhost
}
outpost_yaml 0 >"$work/outpost.yaml"
outpost_yaml "$((ROUTES - 1))" >"$work/outpost-10k.yaml"

declare -A PID
start_portcullis() { # NAME RUST_LOG CONFIG
    env ${2:+RUST_LOG=$2} taskset -c 0 "$PORTCULLIS_BIN" outpost --config "$3" \
        --listen "127.0.0.1:${PORT[$1]}" --admin-listen "127.0.0.1:${ADMIN[$1]}" \
        --cookie-secret-file "$work/p-secret" --trusted-proxy 127.0.0.1/32 \
        --allow-http-loopback >>"$work/$1.log" 2>&1 &
    PID[$1]=$!
    pids+=("${PID[$1]}")
}
# --- oauth2-proxy (core 0), as its docs set it up for nginx auth_request ---
printf %s "$(head -c 24 /dev/urandom | base64)" >"$work/o-secret" # 32 characters: an AES-256 key
start_oauth2_proxy() { # NAME EXTRA_FLAGS...
    local name=$1
    shift
    taskset -c 0 "$oauth2_proxy" --http-address="127.0.0.1:${PORT[$name]}" \
        --provider=oidc --oidc-issuer-url="$issuer" --client-id="$CLIENT_ID" \
        --client-secret="$CLIENT_SECRET" --redirect-url="$APP/oauth2/callback" \
        --scope="openid profile email groups" --email-domain='*' --allowed-group=staff \
        --cookie-secret-file="$work/o-secret" --cookie-secure=false --session-store-type=cookie \
        --reverse-proxy --trusted-proxy-ip=127.0.0.1/32 --set-xauthrequest \
        --skip-jwt-bearer-tokens --upstream=static://202 --skip-provider-button \
        --code-challenge-method=S256 "$@" \
        >>"$work/$name.log" 2>&1 &
    PID[$name]=$!
    pids+=("${PID[$name]}")
}
start_portcullis portcullis_log "" "$work/outpost.yaml"
start_portcullis portcullis_quiet warn "$work/outpost.yaml"
start_oauth2_proxy oauth2proxy_log
start_oauth2_proxy oauth2proxy_quiet --request-logging=false --auth-logging=false
for name in portcullis_log portcullis_quiet; do
    wait_for curl -fsS "http://127.0.0.1:${ADMIN[$name]}/readyz" || {
        tail -20 "$work/$name.log" >&2
        exit 1
    }
done
for name in oauth2proxy_log oauth2proxy_quiet; do
    wait_for curl -fsS "http://127.0.0.1:${PORT[$name]}/ready" || {
        tail -20 "$work/$name.log" >&2
        exit 1
    }
done
sleep 1
declare -A RSS_IDLE
for name in portcullis_log portcullis_quiet oauth2proxy_log oauth2proxy_quiet; do
    RSS_IDLE[$name]=$(rss_of "${PID[$name]}")
done

# --- log in by script, the same user through the same IdP, once per server ---
login() { python3 scripts/bench/login.py "$@" --username "$USERNAME" --password "$PASSWORD"; }
declare -A COOKIE
COOKIE[portcullis]=$(login session --app-origin "$APP" --server "127.0.0.1:${PORT[portcullis_log]}")
COOKIE[oauth2proxy]=$(login session --app-origin "$APP" --server "127.0.0.1:${PORT[oauth2proxy_log]}")
bearer=$(login id-token --issuer "$issuer" --client-id "$CLIENT_ID" --client-secret "$CLIENT_SECRET" \
    --redirect-uri "$APP/oauth2/callback")
for s in portcullis oauth2proxy; do
    echo "$s session: a ${#COOKIE[$s]}-byte Cookie header" >&2
done
echo "bearer: a ${#bearer}-byte ID token" >&2

# The 10,000-route Portcullis starts now (after the login, with the same cookie secret).
start_portcullis portcullis10k_log "" "$work/outpost-10k.yaml"
wait_for curl -fsS "http://127.0.0.1:${ADMIN[portcullis10k_log]}/readyz"
sleep 1
RSS_IDLE[portcullis10k_log]=$(rss_of "${PID[portcullis10k_log]}")

# --- nginx: the do-nothing auth server and the ingress, both on core 0 ---
null_auth_conf "$work/nullauth" "${PORT[nullauth]}" >"$work/nullauth.conf"
mkdir -p "$work/nullauth" "$work/front"
mv "$work/nullauth.conf" "$work/nullauth/nginx.conf"
start_nginx 0 "$work/nullauth"
PID[nullauth]=$nginx_pid
front_servers=""
for name in portcullis_log portcullis_quiet oauth2proxy_log oauth2proxy_quiet nullauth; do
    front_servers+="
    upstream $name { server 127.0.0.1:${PORT[$name]}; keepalive 64; }
    server {
        listen 127.0.0.1:${FRONT[$name]};
$(auth_location "$name")
    }"
done
nginx_conf "$work/front" "$front_servers
    upstream app { server 127.0.0.1:$APP_PORT; keepalive 64; }
    server {
        listen 127.0.0.1:${FRONT[return204]};
        location / { return 204; }
    }
    server {
        listen 127.0.0.1:$APP_PORT;
        location / { return 200 \"ok\\n\"; }
    }" >"$work/front/nginx.conf"
start_nginx 0 "$work/front"
PID[front]=$nginx_pid
wait_for curl -fsS "http://127.0.0.1:$APP_PORT/"

# --- the scenarios ---
# target NAME: sets T_URL, T_HEADERS, T_AUTH (the auth server's key in PID, or empty) and
# T_FRONT (1 when the request goes through the ingress), T_STATUS (the expected answer).
target() {
    local name=$1 server path
    T_HEADERS=()
    T_FRONT=0
    T_STATUS=200
    case $name in
    nginx_return204)
        T_URL="http://127.0.0.1:${FRONT[return204]}/" T_AUTH="" T_FRONT=1 T_STATUS=204
        return
        ;;
    portcullis_healthz)
        T_URL="http://127.0.0.1:${ADMIN[portcullis_log]}/healthz" T_AUTH=portcullis_log
        return
        ;;
    nginx_*)
        T_FRONT=1
        name=${name#nginx_}
        ;;
    esac
    if [ "$name" = nullauth ]; then
        T_AUTH=nullauth
        T_HEADERS+=("Cookie: ${COOKIE[portcullis]}")
    else
        # server_path_log, e.g. oauth2proxy_cookie_quiet
        server=${name%%_*}
        path=${name#*_}
        path=${path%_*}
        T_AUTH="${server}_${name##*_}"
        [ "$server" = oauth2proxy ] && T_STATUS=202
        case $path in
        cookie) T_HEADERS+=("Cookie: ${COOKIE[${server%10k}]}") ;;
        nocookie) T_STATUS=401 ;;
        bearer) T_HEADERS+=("Authorization: Bearer $bearer") ;;
        esac
    fi
    if [ "$T_FRONT" = 1 ]; then
        T_URL="http://127.0.0.1:${FRONT[$T_AUTH]}/"
        T_HEADERS+=("Host: app.localhost")
        T_STATUS=200
    else
        T_URL="http://127.0.0.1:${PORT[$T_AUTH]}/oauth2/auth"
        T_HEADERS+=("X-Original-URL: $APP/")
    fi
}
curl_args() { # the target as curl arguments
    local h
    for h in "${T_HEADERS[@]}"; do printf '%s\0%s\0' -H "$h"; done
    printf '%s\0' "$T_URL"
}

scenarios=(portcullis_healthz nullauth nginx_return204 nginx_nullauth portcullis10k_cookie_log)
for s in portcullis oauth2proxy; do
    for log in log quiet; do
        for path in cookie nocookie bearer; do scenarios+=("${s}_${path}_$log"); done
        scenarios+=("nginx_${s}_cookie_$log")
    done
done
if [ -n "$SCENARIOS" ]; then
    wanted=()
    for name in $SCENARIOS; do
        # Not `printf | grep -q`: grep quits at the first match, printf then dies of
        # SIGPIPE, and with pipefail a known name reads as unknown now and then.
        [[ " ${scenarios[*]} " == *" $name "* ]] || {
            echo "unknown scenario $name; known: ${scenarios[*]}" >&2
            exit 1
        }
        wanted+=("$name")
    done
    scenarios=("${wanted[@]}")
fi
for name in "${scenarios[@]}"; do
    target "$name"
    mapfile -d '' args < <(curl_args)
    expect_status "$T_STATUS" "${args[@]}"
done
echo "every scenario answers as expected (${#scenarios[@]} scenarios)" >&2

: >"$raw"
cpu_of() { [ -n "$1" ] && ticks_of "$1" || echo 0; }
us_per_req() { # TICKS REQUESTS
    awk -v d="$1" -v hz="$clk_tck" -v n="$2" 'BEGIN { printf "%.2f", (n > 0 ? 1e6 * d / hz / n : 0) }'
}
# record PHASE NAME ROUND T0_AUTH T1_AUTH T0_FRONT T1_FRONT REQUESTS JSON_FIELDS
record() {
    local us_auth us_front rss=0
    us_auth=$(us_per_req "$(($5 - $4))" "$8")
    us_front=$(us_per_req "$(($7 - $6))" "$8")
    [ -n "$T_AUTH" ] && rss=$(rss_of "${PID[$T_AUTH]}")
    printf '{"phase":"%s","scenario":"%s","round":%d,"auth":"%s","requests":%d,"auth_cpu_us_per_req":%s,"ingress_cpu_us_per_req":%s,"auth_rss_kb":%d,%s}\n' \
        "$1" "$2" "$3" "$T_AUTH" "$8" "$us_auth" "$us_front" "$rss" "$9" >>"$raw"
    # The request logs go to files, as a container's stdout would; keep /tmp small.
    local f
    for f in "$work"/*_log.log; do : >"$f"; done
}

# saturate NAME ROUND: wrk on core 1.
saturate() {
    local name=$1 h out a0 a1 f0 f1 n
    target "$name"
    local wrk_args=()
    for h in "${T_HEADERS[@]}"; do wrk_args+=(-H "$h"); done
    local apid=${T_AUTH:+${PID[$T_AUTH]}} fpid=
    [ "$T_FRONT" = 1 ] && fpid=${PID[front]}
    perf_start "$name" "${apid:-${PID[front]}}"
    a0=$(cpu_of "$apid") f0=$(cpu_of "$fpid")
    out=$(taskset -c 1 wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --latency "${wrk_args[@]}" "$T_URL" 2>&1)
    a1=$(cpu_of "$apid") f1=$(cpu_of "$fpid")
    perf_finish "$name"
    n=$(awk '/ requests in / {print $1}' <<<"$out")
    local rps p50 p99 errors
    rps=$(awk '/^Requests\/sec:/ {printf "%.0f", $2}' <<<"$out")
    p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
    p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
    errors=$(awk '/Socket errors/ {e = 1} END {print e + 0}' <<<"$out")
    # non-2xx are expected on the 401 path only
    local bad
    bad=$(awk '/Non-2xx or 3xx responses:/ {print $5}' <<<"$out")
    record saturation "$name" "$2" "$a0" "$a1" "$f0" "$f1" "${n:-0}" \
        "\"rps\":${rps:-0},\"wrk_p50\":\"$p50\",\"wrk_p99\":\"$p99\",\"non_2xx\":${bad:-0},\"socket_errors\":$errors"
    echo "round $2 $name: $rps req/s, $(tail -1 "$raw" | python3 -c 'import json,sys; r=json.load(sys.stdin); print(r["auth_cpu_us_per_req"], "µs/req auth,", r["auth_rss_kb"], "kB")')" >&2
}

# hold NAME ROUND RATE LABEL: vegeta on core 1 at RATE req/s for RATE_DURATION s.
hold() {
    local name=$1 rate=$3 a0 a1 f0 f1 h
    target "$name"
    {
        echo "GET $T_URL"
        for h in "${T_HEADERS[@]}"; do echo "$h"; done
    } >"$work/targets.txt"
    local apid=${T_AUTH:+${PID[$T_AUTH]}} fpid=
    [ "$T_FRONT" = 1 ] && fpid=${PID[front]}
    a0=$(cpu_of "$apid") f0=$(cpu_of "$fpid")
    taskset -c 1 "$vegeta" attack -targets "$work/targets.txt" -rate "$rate/s" -duration "${RATE_DURATION}s" \
        -workers 32 -timeout 10s >"$work/results.bin"
    a1=$(cpu_of "$apid") f1=$(cpu_of "$fpid")
    # timestamp,code,latency(ns),...: percentiles of every response, and the failures.
    local stats
    stats=$("$vegeta" encode --to csv <"$work/results.bin" | awk -F, -v want="$T_STATUS" \
        '{print $3; if ($2 != want) bad++} END {print "bad " bad + 0 >"/dev/stderr"}' 2>"$work/bad.txt" |
        sort -n | awk '{v[NR] = $1} END {
            q = "0.50 0.99 0.999"; split(q, qs, " ");
            for (i = 1; i <= 3; i++) { k = int(qs[i] * NR + 0.999999); if (k < 1) k = 1; printf "%.1f ", v[k] / 1000 }
            print NR }')
    read -r p50 p99 p999 n <<<"$stats"
    record latency "$name" "$2" "$a0" "$a1" "$f0" "$f1" "$n" \
        "\"rate_label\":\"$4\",\"rate\":$rate,\"p50_us\":$p50,\"p99_us\":$p99,\"p999_us\":$p999,\"failed\":$(awk '{print $2}' "$work/bad.txt")"
    echo "round $2 $name at $rate/s ($4): p50 $p50 µs, p99 $p99 µs, p99.9 $p999 µs" >&2
}

# --- phase 1: throughput at saturation ---
for round in $(seq 1 "$ROUNDS"); do
    mapfile -t order < <(printf '%s\n' "${scenarios[@]}" | shuf)
    for name in "${order[@]}"; do saturate "$name" "$round"; done
done
declare -A RSS_AFTER
for name in portcullis_log portcullis_quiet portcullis10k_log oauth2proxy_log oauth2proxy_quiet; do
    RSS_AFTER[$name]=$(rss_of "${PID[$name]}")
done

# --- phase 2: latency at 25/50/75% of the slower server's cookie-check maximum ---
median_rps() { python3 scripts/bench/report.py median "$raw" "$1"; }
slower() { # the lower median req/s of two scenarios
    local a b
    a=$(median_rps "$1") b=$(median_rps "$2")
    echo $((a < b ? a : b))
}
# The held rates derive from both servers' cookie checks, alone and through nginx.
for name in portcullis_cookie_log oauth2proxy_cookie_log nginx_portcullis_cookie_log nginx_oauth2proxy_cookie_log; do
    printf '%s\n' "${scenarios[@]}" | grep -qx -- "$name" || {
        [ "$RATE_ROUNDS" = 0 ] || echo "phase 2 skipped: $name was not measured" >&2
        RATE_ROUNDS=0
    }
done
max_alone=0 max_nginx=0
if [ "$RATE_ROUNDS" -gt 0 ]; then
    max_alone=$(slower portcullis_cookie_log oauth2proxy_cookie_log)
    max_nginx=$(slower nginx_portcullis_cookie_log nginx_oauth2proxy_cookie_log)
    [ "$max_alone" -gt 0 ] && [ "$max_nginx" -gt 0 ] || { echo "no cookie-check maximum measured" >&2; exit 1; }
fi
held=()
for pct in 25 50 75; do
    for name in portcullis_cookie_log oauth2proxy_cookie_log nullauth; do
        held+=("$name $((max_alone * pct / 100)) $pct%")
    done
    for name in nginx_portcullis_cookie_log nginx_oauth2proxy_cookie_log nginx_nullauth; do
        held+=("$name $((max_nginx * pct / 100)) $pct%")
    done
done
for round in $(seq 1 "$RATE_ROUNDS"); do
    mapfile -t order < <(printf '%s\n' "${held[@]}" | shuf)
    for line in "${order[@]}"; do
        read -r name rate label <<<"$line"
        hold "$name" "$round" "$rate" "$label"
    done
done

# --- the report ---
{
    printf '{"machine":"%s cores, %s, kernel %s",' "$(nproc)" \
        "$(awk -F: '/model name/ {print $2; exit}' /proc/cpuinfo | sed 's/^ *//')" "$(uname -r)"
    printf '"load_average_at_start":"%s",' "$LOAD_AT_START"
    printf '"versions":{"portcullis":%s,"oauth2_proxy":"%s","nginx":"%s","wrk":"%s","vegeta":"%s","rustc":"%s","go":"%s","oidc_provider":"%s"},' \
        "$(json_string "$portcullis_label")" "$("$oauth2_proxy" --version 2>&1 | awk '{print $2}')" \
        "$(nginx -v 2>&1 | sed 's|.*/||')" "$(wrk -v 2>&1 | awk 'NR == 1 {print $2}')" \
        "$("$vegeta" -version | awk '/Version/ {print $2}')" "$(rustc --version | awk '{print $2}')" \
        "$(go env GOVERSION)" "$(node -p 'require("./tests/idp/node_modules/oidc-provider/package.json").version')"
    printf '"settings":{"duration_s":%d,"rate_duration_s":%d,"rounds":%d,"connections":%d,"routes":%d,"max_alone":%d,"max_nginx":%d},' \
        "$DURATION" "$RATE_DURATION" "$ROUNDS" "$CONNECTIONS" "$ROUTES" "$max_alone" "$max_nginx"
    printf '"cookie_bytes":{"portcullis":%d,"oauth2proxy":%d},"bearer_bytes":%d,' \
        "${#COOKIE[portcullis]}" "${#COOKIE[oauth2proxy]}" "${#bearer}"
    printf '"rss_kb":{'
    sep=
    for name in portcullis_log portcullis_quiet portcullis10k_log oauth2proxy_log oauth2proxy_quiet; do
        printf '%s"%s":{"idle":%d,"after":%d}' "$sep" "$name" "${RSS_IDLE[$name]}" "${RSS_AFTER[$name]}"
        sep=,
    done
    printf '}}\n'
} >"$results_dir/compare-meta.json"
python3 scripts/bench/report.py summary "$raw" "$results_dir/compare-meta.json" \
    "$results_dir/compare.json" "$results_dir/compare.md"
cat "$results_dir/compare.md"
