#!/usr/bin/env bash
# ScalingGroup benchmark (issue 11): one group scaled 0 -> N (default 1,000)
# with `kubectl scale`, the KubeVirt simulator at boot delay 0, and back to
# 0; in the same run, on the same API server, kube-controller-manager's
# ReplicaSet controller scaling a ReplicaSet 0 -> N -> 0 with the same client
# QPS and burst (its pods stay Pending: no scheduler runs). Prints: seconds
# until all N Instances exist and until all run, against the seconds until
# the ReplicaSet's N pods exist; the operator's API writes per launched
# instance (Instance, VM, statuses, Events: rest_client_requests_total for
# POST, PUT, PATCH and DELETE); its peak RSS with the group's Instances,
# VMs and VMIs cached; and the scale-in's time and writes per instance.
#
# Environment: BUILD_DIR (build), BENCH_INSTANCES (1000), BENCH_QPS /
# BENCH_BURST (both clients' QPS and burst; 200/400), BENCH_WORKERS
# (--max-concurrent-reconciles; 4), BENCH_SIM_WORKERS (the simulator's
# --workers; 4), BENCH_LOG_LEVEL (warn), BENCH_LOGS (a folder to keep the
# logs in). Also prints when the simulator had every VMI Running, to tell
# the simulator's share of the time to "running" from the operator's.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
BUILD_DIR="${BUILD_DIR:-build}"
BIN="$BUILD_DIR/bin"
N="${BENCH_INSTANCES:-1000}"
QPS="${BENCH_QPS:-200}"
BURST="${BENCH_BURST:-400}"
WORKERS="${BENCH_WORKERS:-4}"
SIM_WORKERS="${BENCH_SIM_WORKERS:-4}"
NS=bench

log() { echo "bench: $*" >&2; }

targets=()
for t in kubec2-operator kubec2-kubevirt-sim; do
  [ -x "$BIN/$t" ] || targets+=("$t")
done
if ((${#targets[@]})); then
  [ -f "$BUILD_DIR/CMakeCache.txt" ] || cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release >&2
  cmake --build "$BUILD_DIR" -j "$(nproc)" --target "${targets[@]}" >&2
fi

CPU_MODEL=$(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
MACHINE="$(nproc) cores ($CPU_MODEL), $(awk '/^MemTotal:/ {printf "%.1f", $2 / 1048576}' /proc/meminfo) GiB RAM, $(uname -sr)"
log "machine: $MACHINE"

CLUSTER=$(mktemp -d "${TMPDIR:-/tmp}/kubec2-bench-sg.XXXXXX")
cleanup() {
  [ -z "${BENCH_LOGS:-}" ] || cp "$CLUSTER"/operator.log "$CLUSTER"/sim.log \
    "$CLUSTER"/kube-controller-manager.log "$BENCH_LOGS"/ 2>/dev/null || true
  hack/local-cluster.sh down "$CLUSTER" >/dev/null 2>&1 || true
  rm -rf "$CLUSTER"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
KCM_FLAGS="--kube-api-qps=$QPS --kube-api-burst=$BURST"
up() {
  hack/local-cluster.sh up "$CLUSTER" --parent-pid $$ --extra-controllers=replicaset \
    "--controller-manager-flags=$KCM_FLAGS" >&2
}
if ! up; then
  log "control plane start failed; retrying once"
  hack/local-cluster.sh down "$CLUSTER" >/dev/null 2>&1 || true
  rm -rf "$CLUSTER"
  CLUSTER=$(mktemp -d "${TMPDIR:-/tmp}/kubec2-bench-sg.XXXXXX")
  up
fi
export KUBECONFIG="$CLUSTER/kubeconfig"
hack/local-cluster.sh install-crds "$CLUSTER" crds/*.yaml third_party/kubevirt/crds/*.json >&2

read -r METRICS_PORT WEBHOOK_PORT SIM_PORT <<<"$(hack/local-cluster.sh free-ports 3)"

kubectl create namespace kubec2-system >/dev/null
kubectl create namespace "$NS" >/dev/null
kubectl create namespace rs >/dev/null
kubectl apply -f deploy/base/webhook.yaml >/dev/null
for kind in validatingwebhookconfiguration mutatingwebhookconfiguration; do
  path=/validate
  [ "$kind" = mutatingwebhookconfiguration ] && path=/mutate
  kubectl patch "$kind" kubec2 --type=json -p "[{\"op\":\"replace\",\"path\":\"/webhooks/0/clientConfig\",\"value\":{\"url\":\"https://127.0.0.1:$WEBHOOK_PORT$path\"}}]" >/dev/null
done

"$BIN/kubec2-kubevirt-sim" --kubeconfig "$KUBECONFIG" --namespace "$NS" --boot-delay-ms 0 \
  --control-bind-address "127.0.0.1:$SIM_PORT" --kube-api-qps 400 --kube-api-burst 800 --workers "$SIM_WORKERS" \
  </dev/null >"$CLUSTER/sim.log" 2>&1 &
echo $! >"$CLUSTER/sim.pid"
"$BIN/kubec2-operator" --kubeconfig "$KUBECONFIG" --metrics-bind-address "127.0.0.1:$METRICS_PORT" \
  --health-probe-bind-address 0 --webhook-bind-address "127.0.0.1:$WEBHOOK_PORT" \
  --webhook-hosts 127.0.0.1 --webhook-secret-namespace kubec2-system \
  --operator-namespace kubec2-system --terminated-instance-retention-seconds 1 \
  --kube-api-qps "$QPS" --kube-api-burst "$BURST" --max-concurrent-reconciles "$WORKERS" \
  --log-level "${BENCH_LOG_LEVEL:-warn}" </dev/null >"$CLUSTER/operator.log" 2>&1 &
OPERATOR=$!
echo "$OPERATOR" >"$CLUSTER/operator.pid"

for _ in $(seq 300); do
  ca=$(kubectl -n kubec2-system get secret kubec2-webhook-tls -o jsonpath='{.data.ca\.crt}' 2>/dev/null || true)
  v=$(kubectl get validatingwebhookconfiguration kubec2 -o jsonpath='{.webhooks[0].clientConfig.caBundle}')
  m=$(kubectl get mutatingwebhookconfiguration kubec2 -o jsonpath='{.webhooks[0].clientConfig.caBundle}')
  [ -n "$ca" ] && [ "$ca" = "$v" ] && [ "$ca" = "$m" ] && break
  sleep 0.2
done
for _ in $(seq 150); do
  [ "$(kubectl get nodes --no-headers 2>/dev/null | wc -l)" -ge 3 ] && break
  sleep 0.2
done

writes() {
  curl -s "http://127.0.0.1:$METRICS_PORT/metrics" |
    awk '/^rest_client_requests_total\{/ && /method="(POST|PUT|PATCH|DELETE)"/ {s += $NF} END {printf "%d", s}'
}
by_method() {
  curl -s "http://127.0.0.1:$METRICS_PORT/metrics" |
    awk '/^rest_client_requests_total\{/ && /method="(POST|PUT|PATCH|DELETE)"/ {
      match($0, /method="[A-Z]+"/); m = substr($0, RSTART + 8, RLENGTH - 9); s[m] += $NF }
      END {for (m in s) printf "%s=%d ", m, s[m]}'
}
now() { date +%s.%N; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$OPERATOR/stat"; }
TICKS=$(getconf CLK_TCK)
count() { kubectl get "$1" -n "$2" --no-headers 2>/dev/null | wc -l; }
# Progress is read from watches, not from polled lists: a list of 1,000
# objects every fraction of a second cost the API server more CPU than the
# controllers under test (runs 1 to 4 polled; kubectl and the lists took a
# third of the machine). One kubectl per watch prints "EVENT NAME VALUE" per
# change; the script counts distinct names in that file.
watch_begin() { # KIND NS VALUE-JSONPATH: starts a watch into $WATCH_FILE (pid $WATCH_PID)
  WATCH_FILE=$(mktemp "$CLUSTER/watch.XXXXXX")
  kubectl get "$1" -n "$2" --watch-only --output-watch-events --no-headers \
    -o "custom-columns=EVENT:.type,NAME:.object.metadata.name,VALUE:.object$3" >"$WATCH_FILE" 2>>"$CLUSTER/watch.err" &
  WATCH_PID=$!
  sleep 1 # the watch is open before the change it measures
}
watch_end() { kill "$WATCH_PID" 2>/dev/null; wait "$WATCH_PID" 2>/dev/null || true; }
# Seconds since $1 at which the watch has seen $4 distinct objects with an
# event matching $2 and a value matching $3 (extended regular expressions).
watch_until() {
  local t0="$1" event="$2" value="$3" want="$4" n
  while :; do
    n=$(awk -v e="^($event)$" -v v="^($value)$" '$1 ~ e && $3 ~ v && !seen[$2]++ {c++} END {print c + 0}' "$WATCH_FILE")
    [ "$n" -ge "$want" ] && break
    kill -0 "$OPERATOR" || { log "the operator exited; see $CLUSTER/operator.log"; exit 1; }
    kill -0 "$WATCH_PID" || { log "the watch ended: $(tail -3 "$CLUSTER/watch.err")"; exit 1; }
    sleep 0.05
  done
  awk -v a="$t0" -v b="$(now)" 'BEGIN {printf "%.2f", b - a}'
}

# --- the comparison: kube-controller-manager's ReplicaSet controller ------
kubectl -n rs create serviceaccount default >/dev/null 2>&1 || true
kubectl apply -n rs -f - >/dev/null <<'YAML'
apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: web}
spec:
  replicas: 0
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      automountServiceAccountToken: false
      containers: [{name: c, image: registry.k8s.io/pause:3.9}]
YAML
watch_begin pods rs .status.phase
T=$(now)
kubectl scale rs web -n rs --replicas="$N" >/dev/null
RS_UP=$(watch_until "$T" ADDED '.*' "$N")
watch_end
log "ReplicaSet: $N pods in $RS_UP s"
watch_begin pods rs .status.phase
T=$(now)
kubectl scale rs web -n rs --replicas=0 >/dev/null
RS_DOWN=$(watch_until "$T" DELETED '.*' "$N")
watch_end
log "ReplicaSet: back to 0 pods in $RS_DOWN s"

# --- the ScalingGroup ------------------------------------------------------
kubectl apply -n "$NS" -f - >/dev/null <<YAML
apiVersion: compute.kubec2.io/v1alpha1
kind: LaunchTemplate
metadata: {name: bench}
spec:
  versions:
    - spec:
        image: {containerDisk: quay.io/containerdisks/fedora:40}
        instanceType: t3.micro
---
apiVersion: compute.kubec2.io/v1alpha1
kind: ScalingGroup
metadata: {name: bench}
spec:
  launchTemplateRef: {name: bench}
  minSize: 0
  maxSize: $N
  desiredCapacity: 0
YAML
for _ in $(seq 100); do
  [ "$(kubectl get sg bench -n "$NS" -o jsonpath='{.status.desiredCapacity}')" = 0 ] && break
  sleep 0.1
done
sleep 2  # the group's first status and Events settle before counting
watch_begin vmi "$NS" .status.phase
VMI_WATCH_FILE=$WATCH_FILE VMI_WATCH_PID=$WATCH_PID
watch_begin instances "$NS" .status.state
W0=$(writes)
C0=$(cpu_ticks)
T=$(now)
kubectl scale sg bench -n "$NS" --replicas="$N" >/dev/null
SG_CREATED=$(watch_until "$T" 'ADDED|MODIFIED' '.*' "$N")
log "ScalingGroup: $N Instances in $SG_CREATED s"
INSTANCE_WATCH_FILE=$WATCH_FILE INSTANCE_WATCH_PID=$WATCH_PID
# When the simulator (standing in for KubeVirt) had every VMI Running: the
# rest of the time to "running" is the operator's.
WATCH_FILE=$VMI_WATCH_FILE WATCH_PID=$VMI_WATCH_PID
VMIS_RUNNING=$(watch_until "$T" 'ADDED|MODIFIED' Running "$N")
watch_end
WATCH_FILE=$INSTANCE_WATCH_FILE WATCH_PID=$INSTANCE_WATCH_PID
SG_RUNNING=$(watch_until "$T" 'ADDED|MODIFIED' running "$N")
watch_end
log "ScalingGroup: simulator had $N VMIs Running at $VMIS_RUNNING s"
log "ScalingGroup: $N running in $SG_RUNNING s"
# The group settles (activity Successful, Ready True) and the Events queued at the end go out.
for _ in $(seq 100); do
  [ "$(kubectl get sg bench -n "$NS" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')" = True ] && break
  sleep 0.2
done
sleep 2
W1=$(writes)
C1=$(cpu_ticks)
# The admission webhook's own time per review (both paths), for reading the
# create rate: every Instance create waits for /mutate and /validate.
WEBHOOK_MS=$(curl -s "http://127.0.0.1:$METRICS_PORT/metrics" |
  awk '/^controller_runtime_webhook_latency_seconds_sum/ {s += $NF}
       /^controller_runtime_webhook_latency_seconds_count/ {n += $NF}
       END {if (n) printf "%.1f", 1000 * s / n; else printf "n/a"}')
log "operator writes by method (cumulative): $(by_method)"
RSS_KB=$(awk '/^VmHWM:/ {print $2}' "/proc/$OPERATOR/status")
VMS=$(count vm "$NS")
VMIS=$(count vmi "$NS")

W2=$(writes)
watch_begin instances "$NS" .status.state
T=$(now)
kubectl scale sg bench -n "$NS" --replicas=0 >/dev/null
SG_DOWN=$(watch_until "$T" DELETED '.*' "$N")
watch_end
# The VMs go before their Instances (the Instance's finalizer waits for its
# VM): a poll once the Instances are gone lists few objects.
while [ "$(count vm "$NS")" -gt 0 ]; do sleep 0.1; done
SG_DOWN_VMS=$(awk -v a="$T" -v b="$(now)" 'BEGIN {printf "%.2f", b - a}')
sleep 2
W3=$(writes)
log "ScalingGroup: back to 0 in $SG_DOWN s (VMs gone in $SG_DOWN_VMS s)"

awk -v n="$N" -v rsup="$RS_UP" -v rsdown="$RS_DOWN" -v created="$SG_CREATED" -v run="$SG_RUNNING" -v vmirun="$VMIS_RUNNING" \
  -v wup="$((W1 - W0))" -v wdown="$((W3 - W2))" -v rss="$RSS_KB" -v vms="$VMS" -v vmis="$VMIS" \
  -v down="$SG_DOWN" -v downvms="$SG_DOWN_VMS" -v cpu="$(((C1 - C0)))" -v tck="$TICKS" -v webhook="$WEBHOOK_MS" -v qps="$QPS" -v burst="$BURST" -v workers="$WORKERS" \
  -v machine="$MACHINE" 'BEGIN {
  printf "\n## ScalingGroup 0 -> %d -> 0 against a ReplicaSet (simulator boot delay 0)\n", n
  printf "Machine: %s. Both clients: --kube-api-qps %s --kube-api-burst %s; operator --max-concurrent-reconciles %s.\n\n", machine, qps, burst, workers
  printf "| figure | value | goal |\n|---|---:|---:|\n"
  printf "| ReplicaSet: seconds until its %d pods exist (same run) | %.2f s | |\n", n, rsup
  printf "| ScalingGroup: seconds until its %d Instances exist | %.2f s | |\n", n, created
  printf "| **Instances created / ReplicaSet pods created** | **%.2fx** | <= 1 |\n", created / rsup
  printf "| ScalingGroup: seconds until all %d run | %.2f s | |\n", n, run
  printf "| **all running / ReplicaSet pods created** | **%.2fx** | <= 3 |\n", run / rsup
  printf "| simulator: seconds until all %d VMIs are Running (KubeVirt stand-in) | %.2f s | |\n", n, vmirun
  printf "| VirtualMachines, VMIs at %d | %d, %d | |\n", n, vms, vmis
  printf "| operator API writes for the scale-out | %d = **%.2f per instance** | <= 4 |\n", wup, wup / n
  printf "| admission webhook: mean time per review (since start) | %s ms | |\n", webhook
  printf "| operator CPU for the scale-out | %.1f s |  |\n", cpu / tck
  printf "| operator peak RSS (VmHWM) with %d Instances, VMs and VMIs cached | **%.1f MB** | < 100 MB |\n", n, rss / 1024
  printf "| ReplicaSet: seconds until its pods are gone after scaling to 0 | %.2f s | |\n", rsdown
  printf "| ScalingGroup: seconds until the VMs are gone / the Instances are gone | %.2f s / %.2f s | |\n", downvms, down
  printf "| operator API writes for the scale-in | %d = %.2f per instance | |\n", wdown, wdown / n
}'
