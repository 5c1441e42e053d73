#!/usr/bin/env bash
# The hop a sidecar outpost saves: nginx auth_request (ingress-nginx's auth-url
# location, keep-alive upstream) to an auth server on 127.0.0.1 (the sidecar: same pod,
# same network namespace) vs. the same auth server in another network namespace behind
# a veth pair (a central outpost's pod on the same node; a real cluster adds kube-proxy's
# DNAT and, across nodes, the wire). The auth server is the do-nothing one, so the
# difference is the hop alone, whatever the outpost costs.
#
# usage: scripts/bench/sidecar-hop.sh               (root: creates a network namespace)
#        DURATION=10 ROUNDS=3 CONNECTIONS=16 scripts/bench/sidecar-hop.sh
# Results: target/bench/sidecar-hop.md (medians per topology, every round) and .json.
# Pinning: both nginx instances on core 0, wrk on core 1, rounds alternate.
# shellcheck disable=SC2154 # work, results_dir, nginx_pid: set by lib.sh (sourced)
set -euo pipefail

DURATION=${DURATION:-10}
ROUNDS=${ROUNDS:-3}
CONNECTIONS=${CONNECTIONS:-16}
AUTH_PORT=${AUTH_PORT:-18381}
FRONT_PORT=${FRONT_PORT:-18382}
APP_PORT=${APP_PORT:-18383}
NETNS=portcullis-hop-$$
VETH_HOST=pch$$
VETH_NS=pcn$$
HOST_IP=10.231.7.1
NS_IP=10.231.7.2

# shellcheck source=scripts/bench/lib.sh
. "$(dirname "$0")/lib.sh"
ports_free "$AUTH_PORT" "$FRONT_PORT" "$APP_PORT"
if ! ip netns add "$NETNS" 2>/dev/null; then
    echo "SKIPPED: cannot create a network namespace (needs root / CAP_SYS_ADMIN)" >&2
    exit 0
fi
remove_netns() {
    ip link del "$VETH_HOST" 2>/dev/null || true
    ip netns del "$NETNS" 2>/dev/null || true
}
trap 'cleanup; remove_netns' EXIT
ip link add "$VETH_HOST" type veth peer name "$VETH_NS"
ip link set "$VETH_NS" netns "$NETNS"
ip addr add "$HOST_IP/30" dev "$VETH_HOST"
ip link set "$VETH_HOST" up
ip netns exec "$NETNS" ip addr add "$NS_IP/30" dev "$VETH_NS"
ip netns exec "$NETNS" ip link set "$VETH_NS" up
ip netns exec "$NETNS" ip link set lo up

# The do-nothing auth server, listening on every address of its namespace.
null_auth() { null_auth_conf "$1" "$AUTH_PORT" | sed "s/listen 127.0.0.1:/listen 0.0.0.0:/"; }
mkdir -p "$work/auth-lo" "$work/auth-ns"
null_auth "$work/auth-lo" >"$work/auth-lo/nginx.conf"
null_auth "$work/auth-ns" >"$work/auth-ns/nginx.conf"
start_nginx 0 "$work/auth-lo"
ip netns exec "$NETNS" taskset -c 0 nginx -p "$work/auth-ns" -c "$work/auth-ns/nginx.conf" \
    -e "$work/auth-ns/error.log" &
pids+=("$!")

# front DIR PORT AUTH_ADDR: the ingress-like nginx and the app it protects.
front() {
    nginx_conf "$1" "
    upstream app { server 127.0.0.1:$APP_PORT; keepalive 64; }
    server {
        listen 127.0.0.1:$2;
$(auth_location "$3")
    }"
}
app_conf() {
    nginx_conf "$1" "
    server { listen 127.0.0.1:$APP_PORT; location / { return 200 'ok'; } }"
}
mkdir -p "$work/app" "$work/front-lo" "$work/front-ns"
app_conf "$work/app" >"$work/app/nginx.conf"
start_nginx 0 "$work/app"
front "$work/front-lo" "$FRONT_PORT" "127.0.0.1:$AUTH_PORT" >"$work/front-lo/nginx.conf"
front "$work/front-ns" "$((FRONT_PORT + 100))" "$NS_IP:$AUTH_PORT" >"$work/front-ns/nginx.conf"
start_nginx 0 "$work/front-lo"
start_nginx 0 "$work/front-ns"
declare -A URL=(
    [sidecar_loopback]="http://127.0.0.1:$FRONT_PORT/"
    [central_veth]="http://127.0.0.1:$((FRONT_PORT + 100))/"
)
for name in "${!URL[@]}"; do
    wait_for curl -fsS "${URL[$name]}"
    expect_status 200 "${URL[$name]}"
done

raw="$results_dir/sidecar-hop.jsonl"
: >"$raw"
for round in $(seq 1 "$ROUNDS"); do
    for name in sidecar_loopback central_veth; do
        out=$(taskset -c 1 wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --latency "${URL[$name]}" 2>&1)
        rps=$(awk '/^Requests\/sec:/ {printf "%.0f", $2}' <<<"$out")
        p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
        p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
        bad=$(awk '/Non-2xx or 3xx responses:/ {print $5}' <<<"$out")
        printf '{"topology":"%s","round":%d,"rps":%d,"p50":"%s","p99":"%s","non_2xx":%d}\n' \
            "$name" "$round" "${rps:-0}" "$p50" "$p99" "${bad:-0}" >>"$raw"
        echo "round $round $name: $rps req/s, p50 $p50, p99 $p99" >&2
    done
done

python3 - "$raw" "$results_dir/sidecar-hop.md" "$results_dir/sidecar-hop.json" "$DURATION" "$CONNECTIONS" <<'PY'
import json, statistics, sys
raw, md_path, json_path, duration, connections = sys.argv[1:]
rows = [json.loads(l) for l in open(raw) if l.strip()]
def ms(text):
    units = {"us": 1e-3, "ms": 1.0, "s": 1e3}
    for unit in ("us", "ms", "s"):
        if text.endswith(unit):
            return float(text[: -len(unit)]) * units[unit]
    return float("nan")
summary = {}
for name in ("sidecar_loopback", "central_veth"):
    mine = [r for r in rows if r["topology"] == name]
    summary[name] = {
        "rps_median": statistics.median(r["rps"] for r in mine),
        "rps_all": [r["rps"] for r in mine],
        "p50_ms_median": statistics.median(ms(r["p50"]) for r in mine),
        "p99_ms_median": statistics.median(ms(r["p99"]) for r in mine),
        "non_2xx": sum(r["non_2xx"] for r in mine),
    }
lo, veth = summary["sidecar_loopback"], summary["central_veth"]
summary["saved"] = {
    "rps_ratio_sidecar_over_central": round(lo["rps_median"] / veth["rps_median"], 3),
    "p50_ms_saved": round(veth["p50_ms_median"] - lo["p50_ms_median"], 3),
    "p99_ms_saved": round(veth["p99_ms_median"] - lo["p99_ms_median"], 3),
}
json.dump(summary, open(json_path, "w"), indent=2)
with open(md_path, "w") as md:
    md.write(f"wrk -t1 -c{connections}, {duration} s per round, rounds alternate; medians (all rounds)\n\n")
    md.write("| topology | req/s | p50 ms | p99 ms | non-2xx |\n|---|---|---|---|---|\n")
    for name, s in (("sidecar (127.0.0.1)", lo), ("central (veth, other netns)", veth)):
        md.write(f"| {name} | {s['rps_median']:.0f} ({', '.join(map(str, s['rps_all']))}) | "
                 f"{s['p50_ms_median']:.3f} | {s['p99_ms_median']:.3f} | {s['non_2xx']} |\n")
    saved = summary["saved"]
    md.write(f"\nThe sidecar: {saved['rps_ratio_sidecar_over_central']}x the requests/s, "
             f"{saved['p50_ms_saved']} ms less at p50, {saved['p99_ms_saved']} ms less at p99.\n")
print(open(md_path).read())
PY
