#!/usr/bin/env bash
# Memory soak of the outpost (issue 11 item 4): REQUESTS requests (10 million by default)
# across every auth path in one mix -- session cookie, no cookie (401), cached bearer,
# uncached RS256 and ES256 bearer tokens from pools larger than the bearer cache -- with
# the outpost's VmRSS sampled after every CHUNK seconds of load. Memory only: the load
# generator runs flat out, nothing here is a timing.
#
# usage: scripts/bench/soak.sh                       (REQUESTS=10000000 CHUNK=30)
#        REQUESTS=200000 CHUNK=5 scripts/bench/soak.sh   (a quick look)
# Results: target/bench/soak.md (table) and target/bench/soak.json (every sample).
# shellcheck disable=SC2154 # work, results_dir, auth_url, ...: set by lib.sh and stub_outpost.sh
set -euo pipefail

REQUESTS=${REQUESTS:-10000000}
CHUNK=${CHUNK:-30}
CONNECTIONS=${CONNECTIONS:-32}
POOL=${POOL:-12000} # > the bearer cache's 4096 entries, so the uncached share stays uncached
IDP_PORT=${IDP_PORT:-18091}
OUTPOST_PORT=${OUTPOST_PORT:-18181}
ADMIN_PORT=${ADMIN_PORT:-18191}
# shellcheck disable=SC2034 # read by stub_outpost.sh (sourced below)
SECRET="a-soak-test-cookie-secret-of-enough-length"
STUB_SERVE_SECONDS=${STUB_SERVE_SECONDS:-86400}

# shellcheck source=scripts/bench/lib.sh
. "$(dirname "$0")/lib.sh"
ports_free "$IDP_PORT" "$OUTPOST_PORT" "$ADMIN_PORT"
# shellcheck source=scripts/bench/stub_outpost.sh
. "$(dirname "$0")/stub_outpost.sh"

# One request in ten of each kind per cycle: 4 cookie, 2 no cookie, 2 cached bearer,
# 1 uncached RS256, 1 uncached ES256.
cat >"$work/mix.lua" <<LUA
local function load(path)
  local t = {}
  for line in io.lines(path) do t[#t + 1] = line end
  return t
end
local rs, es = load("$work/pool_rs256.txt"), load("$work/pool_es256.txt")
local cookie, cached = "$cookie", "$bearer_rs"
local url = "http://app.localhost/"
local n, r, e = 0, 0, 0
request = function()
  n = n + 1
  local slot = n % 10
  local h = { ["X-Original-URL"] = url }
  if slot < 4 then h["Cookie"] = cookie
  elseif slot < 6 then -- no credentials: 401
  elseif slot < 8 then h["Authorization"] = "Bearer " .. cached
  elseif slot == 8 then r = r % #rs + 1; h["Authorization"] = "Bearer " .. rs[r]
  else e = e % #es + 1; h["Authorization"] = "Bearer " .. es[e] end
  return wrk.format("GET", "/oauth2/auth", h)
end
LUA

start_outpost info
sleep 1
expect_status 401 -H "$orig" "$auth_url"
expect_status 200 -H "$orig" -H "Cookie: $cookie" "$auth_url"
expect_status 200 -H "$orig" -H "Authorization: Bearer $bearer_rs" "$auth_url"

# The build measured: the commit checked out when it was built, not when the run ends.
commit=$(git rev-parse --short HEAD)
started=$(date +%s)
samples=("{\"requests\": 0, \"seconds\": 0, \"rss_kb\": $(rss_kb), \"non2xx\": 0, \"errors\": 0}")
rows=("| 0 | 0 | $(rss_kb) | 0 | 0 |")
echo "idle RSS $(rss_kb) kB; soaking with $REQUESTS requests..." >&2
total=0
errors=0
refused=0
while [ "$total" -lt "$REQUESTS" ]; do
    out=$(taskset -c 1 wrk -t1 -c"$CONNECTIONS" -d"${CHUNK}s" -s "$work/mix.lua" "$auth_url" 2>&1)
    done_now=$(awk '/requests in/ {print $1}' <<<"$out")
    # The 401s are two requests in ten; more non-2xx would mean a path stopped answering
    # as it should (an expired token, a lost session), which the table shows.
    sock=$(awk '/Socket errors/ {gsub(",", ""); print $4 + $6 + $8 + $10}' <<<"$out")
    non2xx=$(awk '/Non-2xx or 3xx responses:/ {print $5}' <<<"$out")
    total=$((total + ${done_now:-0}))
    refused=$((refused + ${non2xx:-0}))
    errors=$((errors + ${sock:-0}))
    # The decision log goes to a file, as a container's stdout would; keep /tmp small.
    : >"$work/outpost.log"
    rss=$(rss_kb)
    secs=$(($(date +%s) - started))
    samples+=("{\"requests\": $total, \"seconds\": $secs, \"rss_kb\": $rss, \"non2xx\": $refused, \"errors\": $errors}")
    rows+=("| $total | $secs | $rss | $refused | $errors |")
    echo "$total requests, ${secs}s, RSS $rss kB, non-2xx $refused, socket errors $errors" >&2
done
hwm=$(awk '/^VmHWM:/ {print $2}' "/proc/$outpost_pid/status")

# Flat after warm-up: the spread of RSS over the samples after the first tenth of the run
# (the bearer cache fills its 4096 entries within the first few hundred thousand requests).
spread=$(printf '%s\n' "${samples[@]}" | python3 -c '
import json, sys
s = [json.loads(l) for l in sys.stdin]
last = s[-1]["requests"]
warm = [x["rss_kb"] for x in s if x["requests"] >= last / 10]
print(f"{min(warm)} {max(warm)} {max(warm) - min(warm)}")')
read -r lo hi diff <<<"$spread"
{
    echo "## Outpost memory soak $(date -u +%Y-%m-%dT%H:%MZ), commit $commit"
    echo
    echo "$total requests (4 cookie : 2 no cookie : 2 cached bearer : 1 uncached RS256 : 1 uncached ES256),"
    echo "wrk -t1 -c$CONNECTIONS on core 1, the outpost on core 0, decision log on (to a file)."
    echo
    echo "| requests so far | seconds | VmRSS kB | non-2xx so far (2 in 10 expected: the 401s) | socket errors |"
    echo "|---|---|---|---|---|"
    printf '%s\n' "${rows[@]}"
    echo
    echo "After warm-up (from $((total / 10)) requests): VmRSS $lo–$hi kB, spread $diff kB; VmHWM $hwm kB."
} | tee "$results_dir/soak.md"
printf '%s\n' "${samples[@]}" | python3 -c 'import json,sys; json.dump([json.loads(l) for l in sys.stdin], sys.stdout, indent=1)' \
    >"$results_dir/soak.json"
