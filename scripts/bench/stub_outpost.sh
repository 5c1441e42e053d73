# Shared by scripts/bench/load.sh and scripts/bench/soak.sh (sourced after lib.sh, not
# run): the stub IdP (discovery, JWKS, a sealed session cookie and pools of distinct
# RS256/ES256 tokens), the outpost's one-route configuration, and starting and stopping
# the outpost on core 0. Expects IDP_PORT, OUTPOST_PORT, ADMIN_PORT, POOL and SECRET.
# shellcheck shell=bash
# shellcheck disable=SC2154,SC2034 # work and pids: set by lib.sh; the rest is for the sourcing script

echo "building (release)..." >&2
cargo build --release --quiet --bin portcullis --example bench_stub_idp

# --- the stub IdP (core 1: it only serves discovery/JWKS once, at outpost start) ---
echo "minting the session cookie and $POOL tokens per algorithm..." >&2
taskset -c 1 target/release/examples/bench_stub_idp --port "$IDP_PORT" --out "$work" \
    --cookie-secret "$SECRET" --pool "$POOL" --serve-seconds "${STUB_SERVE_SECONDS:-1800}" >"$work/idp.log" 2>&1 &
pids+=($!)
wait_for grep -q READY "$work/idp.log"

# --- the outpost (core 0) ---
printf '%s' "$SECRET" >"$work/secret"
cat >"$work/outpost.yaml" <<YAML
providers:
  bench/idp:
    issuerURL: "http://127.0.0.1:$IDP_PORT"
    clientID: bench-client
    scopes: [openid, profile, email, groups]
    claims: { username: [preferred_username, email], email: email, groups: groups, permissions: permissions }
    clockSkewSeconds: 30
routes:
  - id: bench/app
    hosts: ["app.localhost"]
    paths: [/]
    provider: bench/idp
    authURL: http://app.localhost
    redirectURI: http://app.localhost/oauth2/callback
    policy:
      groups: [staff]
    bearer:
      enabled: true
YAML

outpost_pid=
start_outpost() { # $1: RUST_LOG level
    RUST_LOG="$1" taskset -c 0 target/release/portcullis outpost --config "$work/outpost.yaml" \
        --listen "127.0.0.1:$OUTPOST_PORT" --admin-listen "127.0.0.1:$ADMIN_PORT" \
        --cookie-secret-file "$work/secret" --trusted-proxy 127.0.0.1/32 \
        --allow-http-loopback --log-format json >>"$work/outpost.log" 2>&1 &
    outpost_pid=$!
    pids+=("$outpost_pid")
    wait_for curl -fsS "http://127.0.0.1:$ADMIN_PORT/readyz" || {
        tail -20 "$work/outpost.log" >&2
        exit 1
    }
}
stop_outpost() {
    kill "$outpost_pid"
    wait "$outpost_pid" 2>/dev/null || true
}
rss_kb() { rss_of "$outpost_pid"; }
cpu_ticks() { ticks_of "$outpost_pid"; }

cookie=$(cat "$work/cookie.txt")
bearer_rs=$(cat "$work/bearer_rs256.txt")
auth_url="http://127.0.0.1:$OUTPOST_PORT/oauth2/auth"
orig="X-Original-URL: http://app.localhost/"

pool_script() { # $1: token file
    cat <<LUA
local tokens = {}
for line in io.lines("$1") do tokens[#tokens + 1] = line end
local i = 0
request = function()
  i = i % #tokens + 1
  return wrk.format("GET", "/oauth2/auth", {
    ["X-Original-URL"] = "http://app.localhost/",
    ["Authorization"] = "Bearer " .. tokens[i],
  })
end
LUA
}
