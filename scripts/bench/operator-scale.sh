#!/usr/bin/env bash
# The operator at scale on the real control plane (a benchmark, not a test):
# ROUTES ForwardAuthRoutes and CLIENTS Generated OAuthClients over NAMESPACES namespaces,
# each namespace with one OIDCProvider on a local stub IdP. Reports time to converge,
# the operator's writes per object (goal: one; zero after a resync, an operator restart
# and a leader failover), the API server's request counts from its /metrics, the
# operator's peak RSS and the largest object it wrote.
#
#   scripts/bench/operator-scale.sh            # 10000 routes, 1000 clients, 100 namespaces
#   ROUTES=1000 CLIENTS=100 NAMESPACES=10 scripts/bench/operator-scale.sh
#
# Output: a markdown summary on stdout and JSON in target/bench/operator-scale.json.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROUTES=${ROUTES:-10000}
CLIENTS=${CLIENTS:-1000}
NAMESPACES=${NAMESPACES:-100}
RESYNC_WAIT=${RESYNC_WAIT:-70}
work=$(mktemp -d)
out_dir=target/bench
mkdir -p "$out_dir"
pids=()
cleanup() {
  # SIGTERM: testcluster stops its control plane, the operators step down.
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

kube=$(tools/build kube)
etcd=$(tools/build etcd)/etcd
cargo build --release --quiet --bin portcullis --example bench_stub_idp
bin=target/release/portcullis

# A control plane without the API server's own throttling (priority and fairness off).
"$kube/testcluster" -dir "$work/cp" -bin "$kube" -etcd "$etcd" -load-test \
  >"$work/cp.out" 2>"$work/cp.log" &
pids+=($!)
until grep -q '^KUBECONFIG=' "$work/cp.out" 2>/dev/null; do sleep 0.2; done
export KUBECONFIG=$work/cp/kubeconfig
k() { "$kube/kubectl" "$@"; }

idp_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
target/release/examples/bench_stub_idp --port "$idp_port" --out "$work/idp" --cookie-secret unused-unused-unused \
  --serve-seconds 7200 >"$work/idp.log" 2>&1 &
pids+=($!)
issuer=http://127.0.0.1:$idp_port

k apply --server-side -f crds/ >/dev/null
k wait --for=condition=Established crd --all --timeout=60s >/dev/null
k create namespace portcullis-system >/dev/null
k apply --server-side -f manifests/operator-rbac.yaml >/dev/null
token=$(k create token portcullis-operator -n portcullis-system --duration=24h)
server=$(sed -n 's/^ *server: //p' "$KUBECONFIG")
cat >"$work/operator.kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: $server, certificate-authority: $work/cp/ca.crt}}]
users: [{name: u, user: {token: $token}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
current-context: c
EOF

echo "generating $NAMESPACES namespaces, $CLIENTS clients, $ROUTES routes" >&2
python3 - "$work/objects.yaml" "$ROUTES" "$CLIENTS" "$NAMESPACES" "$issuer" <<'EOF'
import sys
path, routes, clients, namespaces, issuer = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
docs = []
for n in range(namespaces):
    ns = f"team-{n:03d}"
    docs.append(f"apiVersion: v1\nkind: Namespace\nmetadata: {{name: {ns}}}\n")
    docs.append(f"apiVersion: portcullis.dev/v1alpha1\nkind: OIDCProvider\nmetadata: {{name: idp, namespace: {ns}}}\nspec: {{issuerURL: '{issuer}', clientRef: {{name: outpost}}}}\n")
    docs.append(f"apiVersion: portcullis.dev/v1alpha1\nkind: OAuthClient\nmetadata: {{name: outpost, namespace: {ns}}}\nspec: {{providerRef: {{name: idp}}, mode: Generated}}\n")
for c in range(clients - namespaces):
    ns = f"team-{c % namespaces:03d}"
    docs.append(f"apiVersion: portcullis.dev/v1alpha1\nkind: OAuthClient\nmetadata: {{name: app-{c}, namespace: {ns}}}\nspec: {{providerRef: {{name: idp}}, mode: Generated, secret: {{preset: grafana}}}}\n")
for r in range(routes):
    ns = f"team-{r % namespaces:03d}"
    docs.append(f"apiVersion: portcullis.dev/v1alpha1\nkind: ForwardAuthRoute\nmetadata: {{name: r{r}, namespace: {ns}}}\nspec: {{hosts: [r{r}.{ns}.example.com], providerRef: {{name: idp}}, policy: {{groups: [g{r % 7}]}}}}\n")
open(path, "w").write("---\n".join(docs))
EOF

metric() { # sum of a Prometheus counter family with a label filter, from a scrape
  awk -v name="$1" -v filter="$2" '$1 ~ "^"name && index($1, filter) { s += $2 } END { printf "%d", s }'
}
apiserver_metrics() { k get --raw /metrics; }
operator_writes() { curl -s "http://127.0.0.1:$admin/metrics" | metric portcullis_operator_writes_total ""; }
writes_by_kind() { # kind=count for the current operator
  curl -s "http://127.0.0.1:$admin/metrics" | awk '$1 ~ /^portcullis_operator_writes_total/ && $2 > 0 { match($1, /kind="[^"]*"/); printf "%s=%d ", substr($1, RSTART+6, RLENGTH-7), $2 }'
}
start_operator() { # identity
  admin=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  # OPERATOR_PREFIX runs the first operator under a profiler (e.g. "heaptrack -o FILE");
  # its peak RSS line then measures the profiler, not the operator.
  local prefix=()
  if [ "$1" = replica-a ] && [ -n "${OPERATOR_PREFIX:-}" ]; then read -r -a prefix <<<"$OPERATOR_PREFIX"; fi
  KUBECONFIG=$work/operator.kubeconfig RUST_LOG=warn "${prefix[@]}" "$bin" operator --operator-namespace portcullis-system \
    --admin-listen "127.0.0.1:$admin" --identity "$1" --idp-recheck 5m >"$work/operator-$1.log" 2>&1 &
  op_pid=$!
  pids+=("$op_pid")
  until curl -sf "http://127.0.0.1:$admin/healthz" >/dev/null; do sleep 0.2; done
}
converged() { # every route has a Ready condition at its generation
  k get forwardauthroutes -A -o jsonpath='{range .items[*]}{.metadata.generation}={.status.conditions[?(@.type=="Ready")].observedGeneration}{"\n"}{end}' |
    awk -F= '$1 != $2 { bad++ } END { exit bad > 0 }'
}
settle() { # waits until the operator's write counter stops moving for 15 s
  local last=-1 now stable=0
  while [ $stable -lt 15 ]; do
    now=$(operator_writes)
    if [ "$now" = "$last" ]; then stable=$((stable + 1)); else stable=0; last=$now; fi
    sleep 1
  done
  echo "$last"
}

start_operator replica-a
t0=$(date +%s.%N)
echo "applying $(grep -c '^kind:' "$work/objects.yaml") objects" >&2
k apply --server-side -f "$work/objects.yaml" >/dev/null
applied=$(date +%s.%N)
until converged; do sleep 2; done
t1=$(date +%s.%N)
writes_converged=$(settle)
kinds_converged=$(writes_by_kind)
objects=$((ROUTES + CLIENTS + NAMESPACES))
echo "converged; waiting ${RESYNC_WAIT}s for resyncs and the credentials re-read" >&2
sleep "$RESYNC_WAIT"
writes_resync=$(operator_writes)
rss_kb=$(awk '/VmHWM/ { print $2 }' "/proc/$op_pid/status")

# Restart: a new process re-lists everything and must find nothing to write.
kill "$op_pid"; wait "$op_pid" 2>/dev/null || true
start_operator replica-b
until grep -q '"leading"' "$work/operator-replica-b.log" 2>/dev/null || curl -s "http://127.0.0.1:$admin/metrics" | grep -q 'portcullis_operator_leader 1'; do sleep 0.5; done
writes_restart=$(settle)
kinds_restart=$(writes_by_kind)
restart_pid=$op_pid

# Failover: a standby, then the leader killed without stepping down.
start_operator replica-c
standby_admin=$admin
kill -KILL "$restart_pid"
admin=$standby_admin
until curl -s "http://127.0.0.1:$admin/metrics" | grep -q 'portcullis_operator_leader 1'; do sleep 0.5; done
writes_failover=$(settle)
kinds_failover=$(writes_by_kind)

largest=$(k get configmaps,secrets -n portcullis-system -o json |
  python3 -c 'import json,sys; items=json.load(sys.stdin)["items"]; print(max(len(json.dumps(i)) for i in items))')
shards=$(k get configmaps -n portcullis-system -l portcullis.dev/outpost-config=true --no-headers | wc -l)
after=$(apiserver_metrics)
by_verb=$(echo "$after" | awk '$1 ~ /^apiserver_request_total/ { match($1, /verb="[A-Z]+"/); v = substr($1, RSTART+6, RLENGTH-7); s[v] += $2 } END { for (v in s) printf "%s=%d ", v, s[v] }')

converge_s=$(echo "$t1 - $t0" | bc)
apply_s=$(echo "$applied - $t0" | bc)
cat <<EOF | tee "$out_dir/operator-scale.md"
| measure | value |
|---|---|
| objects | $ROUTES routes, $CLIENTS clients, $NAMESPACES providers/namespaces |
| kubectl apply of all objects | ${apply_s%.*} s |
| time to converge (apply start → every route Ready at its generation) | ${converge_s%.*} s |
| operator writes to converge | $writes_converged ($(echo "scale=2; $writes_converged / $objects" | bc) per object): $kinds_converged |
| writes after a ${RESYNC_WAIT}s resync window | $((writes_resync - writes_converged)) |
| writes by a restarted operator | $writes_restart ${kinds_restart:+($kinds_restart)} |
| writes by the new leader after a failover | $writes_failover ${kinds_failover:+($kinds_failover)} |
| operator peak RSS | $((rss_kb / 1024)) MB |
| largest object in portcullis-system | $largest bytes ($shards config shards) |
| API server requests by verb (all clients) | $by_verb |
EOF
cat >"$out_dir/operator-scale.json" <<EOF
{"routes": $ROUTES, "clients": $CLIENTS, "namespaces": $NAMESPACES, "apply_seconds": $apply_s,
 "converge_seconds": $converge_s, "writes_converged": $writes_converged,
 "writes_resync": $((writes_resync - writes_converged)), "writes_restart": $writes_restart,
 "writes_failover": $writes_failover, "peak_rss_kb": $rss_kb, "largest_object_bytes": $largest}
EOF
