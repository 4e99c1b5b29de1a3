#!/usr/bin/env bash
# Scaling policy cost benchmark (issue 12): BENCH_GROUPS (default 1,000)
# ScalingGroups over BENCH_NAMESPACES (10) namespaces, one Instance each and
# one target-tracking policy on ASGAverageCPUUtilization each, evaluated
# every BENCH_INTERVAL (15) seconds against a real Prometheus (Debian's
# /usr/bin/prometheus) scraping the KubeVirt simulator's per-VMI series at
# the same interval, with a CPU load set on every group.
#
# Three phases on the same control plane, each BENCH_INTERVALS (8)
# evaluation intervals long:
#   small:    BENCH_SMALL_GROUPS (10) groups, policies enabled;
#   large:    all BENCH_GROUPS groups, policies enabled;
#   disabled: the same groups with the policy `enabled: false`.
# Prints per phase: evaluation passes, the operator's Prometheus queries per
# pass (kubec2_prometheus_query_duration_seconds_count) and the /api/v1/query*
# requests Prometheus answered per pass (prometheus_http_requests_total),
# operator CPU in % of one core (utime + stime from /proc/PID/stat over wall
# time), the mean pass time (kubec2_scaling_evaluation_duration_seconds), and
# the seconds from a pass to status.policies[0].lastEvaluationTime reaching
# a watch on BENCH_SAMPLES (5) labelled groups; then the ratios large/small
# (queries: goal 1.0) and large/disabled (CPU). Progress is read from watches
# and single reads, never from polled lists of 1,000 objects (issue 11's
# benchmark: polled lists cost a third of the machine).
#
# Environment: BUILD_DIR (build), BENCH_GROUPS, BENCH_SMALL_GROUPS,
# BENCH_NAMESPACES, BENCH_INTERVAL, BENCH_INTERVALS, BENCH_SAMPLES,
# BENCH_CPU_LOAD (cores of demand per group; 0.5 = 25 % of a t3.micro's 2
# vCPUs, below the 50 % target so no group scales), BENCH_WAIT_LOAD (1:
# before each measured phase wait, polling once a minute up to 20 minutes,
# until uptime's 1-minute load is under 1.0; 0 skips), BENCH_LOGS (a folder
# to keep the logs in), BENCH_TIMEOUT (seconds per waiting step; 600).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
BUILD_DIR="${BUILD_DIR:-build}"
BIN="$BUILD_DIR/bin"
N="${BENCH_GROUPS:-1000}"
SMALL="${BENCH_SMALL_GROUPS:-10}"
NSN="${BENCH_NAMESPACES:-10}"
INTERVAL="${BENCH_INTERVAL:-15}"
INTERVALS="${BENCH_INTERVALS:-8}"
SAMPLES="${BENCH_SAMPLES:-5}"
CPU_LOAD="${BENCH_CPU_LOAD:-0.5}"
TIMEOUT="${BENCH_TIMEOUT:-600}"
PROMETHEUS="${PROMETHEUS:-/usr/bin/prometheus}"

log() { echo "bench: $(date -u +%H:%M:%S) $*" >&2; }
die() {
  log "FAILED: $*"
  exit 1
}
((N % NSN == 0)) || die "BENCH_GROUPS ($N) must be a multiple of BENCH_NAMESPACES ($NSN)"
((SMALL % NSN == 0)) || die "BENCH_SMALL_GROUPS ($SMALL) must be a multiple of BENCH_NAMESPACES ($NSN)"
((SMALL <= N && SAMPLES <= NSN)) || die "need BENCH_SMALL_GROUPS <= BENCH_GROUPS and BENCH_SAMPLES <= BENCH_NAMESPACES"
[ -x "$PROMETHEUS" ] || die "$PROMETHEUS not found (apt-get install prometheus)"
PER_NS=$((N / NSN))
SMALL_PER_NS=$((SMALL / NSN))

targets=()
for t in kubec2-operator kubec2-kubevirt-sim; do
  [ -x "$BIN/$t" ] || targets+=("$t")
done
if ((${#targets[@]})); then
  [ -f "$BUILD_DIR/CMakeCache.txt" ] || cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release >&2
  cmake --build "$BUILD_DIR" -j "$(nproc)" --target "${targets[@]}" >&2
fi

CPU_MODEL=$(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
OS=$(. /etc/os-release 2>/dev/null && echo "$PRETTY_NAME" || uname -s)
MACHINE="$(nproc) cores ($CPU_MODEL), $(awk '/^MemTotal:/ {printf "%.1f", $2 / 1048576}' /proc/meminfo) GiB RAM, $OS, $(uname -r)"
COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
git diff --quiet HEAD 2>/dev/null || COMMIT="$COMMIT+local changes"
log "machine: $MACHINE; commit $COMMIT"

CLUSTER=$(mktemp -d "${TMPDIR:-/tmp}/kubec2-bench-cost.XXXXXX")
WATCH_PIDS=()
cleanup() {
  local p
  for p in "${WATCH_PIDS[@]}"; do kill -- "-$p" 2>/dev/null || true; done
  for f in operator sim prometheus; do
    [ -f "$CLUSTER/$f.pid" ] && kill "$(cat "$CLUSTER/$f.pid")" 2>/dev/null || true
  done
  [ -z "${BENCH_LOGS:-}" ] || { mkdir -p "$BENCH_LOGS" && cp "$CLUSTER"/*.log "$BENCH_LOGS"/ 2>/dev/null; } || true
  hack/local-cluster.sh down "$CLUSTER" >/dev/null 2>&1 || true
  rm -rf "$CLUSTER"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Before each measured phase, waits for the 1-minute load average to fall
# under 1.0 (other work on the machine), polling once a minute, 20 minutes
# at most over the whole run; then goes on anyway and says so (the figures
# are ratios within one run, and each phase prints its load average).
QUIET_LEFT=20
quiet_machine() {
  [ "${BENCH_WAIT_LOAD:-1}" = 1 ] || return 0
  local l
  while :; do
    l=$(cut -d' ' -f1 /proc/loadavg)
    awk -v l="$l" 'BEGIN {exit !(l < 1.0)}' && return 0
    ((QUIET_LEFT > 0)) || break
    log "1-minute load $l >= 1.0; waiting a minute ($QUIET_LEFT minutes of waiting left)"
    QUIET_LEFT=$((QUIET_LEFT - 1))
    sleep 60
  done
  log "1-minute load still $l, the run's 20 minutes of waiting spent; measuring anyway"
}
loadavg() { cut -d' ' -f1-3 /proc/loadavg | tr ' ' /; }

hack/local-cluster.sh up "$CLUSTER" --parent-pid $$ >&2 || die "control plane did not start"
export KUBECONFIG="$CLUSTER/kubeconfig"
hack/local-cluster.sh install-crds "$CLUSTER" crds/*.yaml third_party/kubevirt/crds/*.json >&2

read -r METRICS_PORT WEBHOOK_PORT SIM_PORT PROM_PORT <<<"$(hack/local-cluster.sh free-ports 4)"
ns_of() { echo "cost-$1"; }

kubectl create namespace kubec2-system >/dev/null
for i in $(seq 0 $((NSN - 1))); do kubectl create namespace "$(ns_of "$i")" >/dev/null; done
kubectl apply -f deploy/base/webhook.yaml >/dev/null
for kind in validatingwebhookconfiguration mutatingwebhookconfiguration; do
  path=/validate
  [ "$kind" = mutatingwebhookconfiguration ] && path=/mutate
  kubectl patch "$kind" kubec2 --type=json -p "[{\"op\":\"replace\",\"path\":\"/webhooks/0/clientConfig\",\"value\":{\"url\":\"https://127.0.0.1:$WEBHOOK_PORT$path\"}}]" >/dev/null
done

# --- Prometheus: scrapes the simulator's /metrics every interval ---------
mkdir -p "$CLUSTER/prometheus/data"
cat >"$CLUSTER/prometheus/prometheus.yml" <<YAML
global: {scrape_interval: ${INTERVAL}s, evaluation_interval: ${INTERVAL}s}
scrape_configs:
  - job_name: kubevirt
    honor_labels: true
    scrape_interval: ${INTERVAL}s
    static_configs: [{targets: ['127.0.0.1:$SIM_PORT']}]
YAML
"$PROMETHEUS" --config.file="$CLUSTER/prometheus/prometheus.yml" --storage.tsdb.path="$CLUSTER/prometheus/data" \
  --web.listen-address="127.0.0.1:$PROM_PORT" --log.level=warn </dev/null >"$CLUSTER/prometheus.log" 2>&1 &
echo $! >"$CLUSTER/prometheus.pid"
PROM_PID=$!

# --- the KubeVirt simulator (every namespace) and the operator ------------
"$BIN/kubec2-kubevirt-sim" --kubeconfig "$KUBECONFIG" --boot-delay-ms 0 \
  --control-bind-address "127.0.0.1:$SIM_PORT" --kube-api-qps 400 --kube-api-burst 800 --workers 4 \
  --log-level warn </dev/null >"$CLUSTER/sim.log" 2>&1 &
echo $! >"$CLUSTER/sim.pid"
"$BIN/kubec2-operator" --kubeconfig "$KUBECONFIG" --metrics-bind-address "127.0.0.1:$METRICS_PORT" \
  --health-probe-bind-address 0 --webhook-bind-address "127.0.0.1:$WEBHOOK_PORT" \
  --webhook-hosts 127.0.0.1 --webhook-secret-namespace kubec2-system \
  --operator-namespace kubec2-system --kube-api-qps 200 --kube-api-burst 400 \
  --prometheus-url "http://127.0.0.1:$PROM_PORT" --scaling-evaluation-interval "$INTERVAL" \
  --prometheus-scrape-interval-seconds "$INTERVAL" \
  --request-count-metric kubec2_sim_http_requests_total \
  --log-level "${BENCH_LOG_LEVEL:-warn}" </dev/null >"$CLUSTER/operator.log" 2>&1 &
OPERATOR=$!
echo "$OPERATOR" >"$CLUSTER/operator.pid"

# until SECONDS WHAT CMD...: runs CMD every 0.2 s until it succeeds; dies
# naming WHAT after SECONDS, or when the operator exits.
until_ok() {
  local limit="$1" what="$2" t0=$SECONDS
  shift 2
  until "$@"; do
    kill -0 "$OPERATOR" 2>/dev/null || die "the operator exited while waiting for $what: $(tail -5 "$CLUSTER/operator.log")"
    ((SECONDS - t0 < limit)) || die "timed out after $limit s waiting for $what"
    sleep 0.2
  done
}
webhook_ready() {
  local ca v m
  ca=$(kubectl -n kubec2-system get secret kubec2-webhook-tls -o jsonpath='{.data.ca\.crt}' 2>/dev/null || true)
  v=$(kubectl get validatingwebhookconfiguration kubec2 -o jsonpath='{.webhooks[0].clientConfig.caBundle}')
  m=$(kubectl get mutatingwebhookconfiguration kubec2 -o jsonpath='{.webhooks[0].clientConfig.caBundle}')
  [ -n "$ca" ] && [ "$ca" = "$v" ] && [ "$ca" = "$m" ]
}
until_ok 60 "the operator's webhook certificate" webhook_ready
until_ok 60 "Prometheus /-/ready" curl -sf "http://127.0.0.1:$PROM_PORT/-/ready" -o /dev/null
until_ok 60 "the simulator's nodes" bash -c '[ "$(kubectl get nodes --no-headers 2>/dev/null | wc -l)" -ge 3 ]'

# --- figures read once per phase boundary (never polled) -----------------
op_metrics() { curl -sf "http://127.0.0.1:$METRICS_PORT/metrics"; }
# sum of every series of a metric name in the exposition text on stdin
metric_sum() { awk -v n="$1" '$1 == n || index($1, n "{") == 1 {s += $NF} END {printf "%.6f", s}'; }
prom_queries() {
  curl -sf "http://127.0.0.1:$PROM_PORT/metrics" |
    awk '/^prometheus_http_requests_total\{/ && /handler="\/api\/v1\/query/ {s += $NF} END {printf "%d", s}'
}
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
TCK=$(getconf CLK_TCK)
APISERVER=$(cat "$CLUSTER/kube-apiserver.pid")
# snapshot NAME: records the counters as NAME_* variables
snapshot() {
  local m
  m=$(op_metrics) || die "the operator's /metrics did not answer"
  printf -v "${1}_T" '%s' "$EPOCHREALTIME"
  printf -v "${1}_OPCPU" '%s' "$(ticks "$OPERATOR")"
  printf -v "${1}_APICPU" '%s' "$(ticks "$APISERVER")"
  printf -v "${1}_PROMCPU" '%s' "$(ticks "$PROM_PID")"
  printf -v "${1}_QUERIES" '%s' "$(metric_sum kubec2_prometheus_query_duration_seconds_count <<<"$m")"
  printf -v "${1}_QERR" '%s' "$(metric_sum kubec2_prometheus_query_errors_total <<<"$m")"
  printf -v "${1}_PASSES" '%s' "$(metric_sum kubec2_scaling_evaluation_duration_seconds_count <<<"$m")"
  printf -v "${1}_PASSSUM" '%s' "$(metric_sum kubec2_scaling_evaluation_duration_seconds_sum <<<"$m")"
  printf -v "${1}_WRITES" '%s' "$(awk '/^rest_client_requests_total\{/ && /method="(POST|PUT|PATCH|DELETE)"/ {s += $NF} END {printf "%d", s}' <<<"$m")"
  printf -v "${1}_PROMREQ" '%s' "$(prom_queries)"
  printf -v "${1}_LOAD" '%s' "$(loadavg)"
}

# --- the groups --------------------------------------------------------------
# group_yaml NAMESPACE-INDEX INDEX ENABLED: one group; g0 in each of the
# first BENCH_SAMPLES namespaces carries the label the latency watch selects.
group_yaml() {
  local sample=""
  [ "$2" = 0 ] && [ "$1" -lt "$SAMPLES" ] && sample="bench-sample: \"true\""
  cat <<YAML
---
apiVersion: compute.kubec2.io/v1alpha1
kind: ScalingGroup
metadata:
  name: g$2
  labels: {$sample}
spec:
  launchTemplateRef: {name: cost}
  minSize: 1
  maxSize: 2
  desiredCapacity: 1
  defaultInstanceWarmupSeconds: 0
  scalingPolicies:
    - name: cpu-50
      type: TargetTracking
      enabled: $3
      targetTracking: {predefinedMetric: ASGAverageCPUUtilization, targetValue: 50}
YAML
}
# groups_yaml NAMESPACE-INDEX FROM TO ENABLED
groups_yaml() {
  local i
  for i in $(seq "$2" "$3"); do group_yaml "$1" "$i" "$4"; done
}
for i in $(seq 0 $((NSN - 1))); do
  kubectl apply -n "$(ns_of "$i")" -f - >/dev/null <<'YAML'
apiVersion: compute.kubec2.io/v1alpha1
kind: LaunchTemplate
metadata: {name: cost}
spec:
  versions:
    - spec:
        image: {containerDisk: quay.io/containerdisks/fedora:40}
        instanceType: t3.micro
YAML
done

# A load on every group (the simulator keeps the demand by group and spreads
# it over the group's Running VMIs, so it can be set before they exist).
set_load() { # NAMESPACE GROUP
  curl -sf -X PUT "http://127.0.0.1:$SIM_PORT/load" -H 'Content-Type: application/json' \
    -d "{\"namespace\": \"$1\", \"group\": \"$2\", \"cpu\": $CPU_LOAD}" -o /dev/null ||
    die "the simulator refused PUT /load for $1/$2"
}

# Watches: one over every group (until all have a metric value), one over
# the sampled groups (the end-to-end latency and the phase alignment).
# Lines: EPOCH EVENT NAMESPACE NAME VALUE.
# Each watch runs in its own process group (setsid), stopped as a group.
watch_start() { # FILE SELECTOR: starts a watch of ScalingGroups into FILE
  setsid bash -c 'kubectl get sg -A $2 --watch-only --output-watch-events --no-headers \
    -o "custom-columns=EVENT:.type,NS:.object.metadata.namespace,NAME:.object.metadata.name,METRIC:.object.status.policies[0].metricValue,EVAL:.object.status.policies[0].lastEvaluationTime" |
    while IFS= read -r line; do echo "$EPOCHREALTIME $line"; done >"$1"' _ "$1" "$2" 2>>"$CLUSTER/watch.err" &
  WATCH_PIDS+=($!)
}
watch_stop() { kill -- "-$1" 2>/dev/null || true; }
# with_metric FILE: distinct groups whose last-seen event has a metric value
# above 0 (a policy shows 0 while its instance warms up, and the load is
# never 0).
with_metric() {
  awk '{k = $3 "/" $4; v[k] = ($5 ~ /^[0-9.eE+-]+$/ && $5 + 0 > 0)} END {for (k in v) c += v[k]; print c + 0}' "$1"
}

enough_metrics() { [ "$(with_metric "$ALL_FILE")" -ge "$1" ]; }
more_lines() { [ "$(wc -l <"$1")" -gt "$2" ]; }

# create_groups FROM TO: groups gFROM..gTO in every namespace, loads set
create_groups() {
  local i ns
  for i in $(seq 0 $((NSN - 1))); do
    ns=$(ns_of "$i")
    for g in $(seq "$1" "$2"); do set_load "$ns" "g$g"; done
    groups_yaml "$i" "$1" "$2" true | kubectl create -n "$ns" -f - >/dev/null ||
      die "creating groups g$1..g$2 in $ns failed"
  done
}

SAMPLE_FILE="$CLUSTER/samples.watch"
watch_start "$SAMPLE_FILE" "-l bench-sample=true"
ALL_FILE="$CLUSTER/all.watch"
watch_start "$ALL_FILE" ""
sleep 1

T=$EPOCHREALTIME
log "creating $SMALL groups ($SMALL_PER_NS per namespace)"
create_groups 0 $((SMALL_PER_NS - 1))
until_ok "$TIMEOUT" "$SMALL groups with a metric value" enough_metrics "$SMALL"
log "$SMALL groups have a metric value after $(awk -v a="$T" -v b="$EPOCHREALTIME" 'BEGIN {printf "%.0f", b - a}') s"

# measure NAME: one phase of $INTERVALS intervals, aligned to start and end
# about a third of an interval after a pass reached the sampled groups (so
# no pass is half-counted).
# The operator's evaluation passes so far (status.policies is written only
# when something a user acts on changes, so the watches do not see every
# pass: the pass counter does).
passes() { op_metrics | awk '/^kubec2_scaling_evaluation_duration_seconds_count/ {print $2 + 0; f = 1} END {if (!f) print 0}'; }
more_passes() { [ "$(passes)" -gt "$1" ]; }
after_pass() {
  local n
  n=$(passes)
  until_ok $((INTERVAL * 3)) "an evaluation pass" more_passes "$n"
  sleep $((INTERVAL / 3))
}
measure() {
  quiet_machine
  after_pass
  snapshot "${1}_A"
  local lines0
  lines0=$(wc -l <"$SAMPLE_FILE")
  log "phase $1: measuring $INTERVALS intervals (load average $(loadavg))"
  sleep $(((INTERVALS - 1) * INTERVAL))
  after_pass
  snapshot "${1}_B"
  # End-to-end: event receipt minus lastEvaluationTime (floored to the
  # second by the operator, so this reads up to 1 s high), for each new
  # evaluation time first seen in the phase.
  TZ=UTC awk -v ph="$1" -v from="$lines0" '
    $6 ~ /^[0-9][0-9][0-9][0-9]-/ && !seen[$3 "/" $4 "/" $6]++ && NR > from {
      gsub(/[-:TZ]/, " ", $6); t = mktime($6); d = $1 - t; s += d; n++; if (d > mx) mx = d }
    END {if (n) printf "%s_E2E_MEAN=%.2f %s_E2E_MAX=%.2f %s_E2E_N=%d\n", ph, s / n, ph, mx, ph, n;
         else printf "%s_E2E_MEAN=nan %s_E2E_MAX=nan %s_E2E_N=0\n", ph, ph, ph}' "$SAMPLE_FILE" >"$CLUSTER/$1.e2e"
  . "$CLUSTER/$1.e2e"
  log "phase $1: done (load average $(loadavg))"
}

measure small

T=$EPOCHREALTIME
log "creating $((N - SMALL)) more groups ($N in all)"
create_groups "$SMALL_PER_NS" $((PER_NS - 1))
CREATED=$(awk -v a="$T" -v b="$EPOCHREALTIME" 'BEGIN {printf "%.0f", b - a}')
until_ok "$TIMEOUT" "$N groups with a metric value" enough_metrics "$N"
log "$N groups created in $CREATED s; all have a metric value after $(awk -v a="$T" -v b="$EPOCHREALTIME" 'BEGIN {printf "%.0f", b - a}') s"
# The watch over every group has done its job: it would cost kubectl and
# the API server 1,000 events per interval during the measurements.
watch_stop "${WATCH_PIDS[1]}"

measure large
# One list at the end of the phase, not polled: groups the load moved.
MOVED=$(kubectl get sg -A --no-headers -o 'custom-columns=D:.status.desiredCapacity' | grep -cv '^1$' || true)

log "disabling the policy of the $N groups"
for i in $(seq 0 $((NSN - 1))); do
  ns=$(ns_of "$i")
  groups_yaml "$i" 0 $((PER_NS - 1)) false |
    kubectl apply --server-side --force-conflicts --field-manager=bench -n "$ns" -f - >/dev/null ||
    die "disabling the policies in $ns failed"
done
# Every group's status drops its policy entry; a pass sees no enabled policy.
sleep $((INTERVAL * 2))
# The sampled groups get no more policy status: align on wall time instead.
measure_disabled() {
  quiet_machine
  snapshot disabled_A
  log "phase disabled: measuring $INTERVALS intervals (load average $(loadavg))"
  sleep $((INTERVALS * INTERVAL))
  snapshot disabled_B
  log "phase disabled: done (load average $(loadavg))"
}
measure_disabled

# --- report ----------------------------------------------------------------
row() { # PHASE GROUPS
  local p="$1" a b
  a="${p}_A" b="${p}_B"
  awk -v g="$2" -v p="$p" \
    -v t0="$(eval echo "\$${a}_T")" -v t1="$(eval echo "\$${b}_T")" \
    -v c0="$(eval echo "\$${a}_OPCPU")" -v c1="$(eval echo "\$${b}_OPCPU")" \
    -v k0="$(eval echo "\$${a}_APICPU")" -v k1="$(eval echo "\$${b}_APICPU")" \
    -v r0="$(eval echo "\$${a}_PROMCPU")" -v r1="$(eval echo "\$${b}_PROMCPU")" \
    -v q0="$(eval echo "\$${a}_QUERIES")" -v q1="$(eval echo "\$${b}_QUERIES")" \
    -v e0="$(eval echo "\$${a}_QERR")" -v e1="$(eval echo "\$${b}_QERR")" \
    -v n0="$(eval echo "\$${a}_PASSES")" -v n1="$(eval echo "\$${b}_PASSES")" \
    -v s0="$(eval echo "\$${a}_PASSSUM")" -v s1="$(eval echo "\$${b}_PASSSUM")" \
    -v w0="$(eval echo "\$${a}_WRITES")" -v w1="$(eval echo "\$${b}_WRITES")" \
    -v h0="$(eval echo "\$${a}_PROMREQ")" -v h1="$(eval echo "\$${b}_PROMREQ")" \
    -v la="$(eval echo "\$${a}_LOAD")" -v lb="$(eval echo "\$${b}_LOAD")" \
    -v em="$(eval echo "\${${p}_E2E_MEAN:-n/a}")" -v ex="$(eval echo "\${${p}_E2E_MAX:-n/a}")" \
    -v en="$(eval echo "\${${p}_E2E_N:-0}")" -v tck="$TCK" 'BEGIN {
    wall = t1 - t0; n = n1 - n0
    printf "%s %d %.1f %d %.2f %.2f %d %.2f %.2f %.2f %.1f %s %s %s %.1f %s %s\n", p, g, wall, n,
      n ? (q1 - q0) / n : 0, n ? (h1 - h0) / n : 0, e1 - e0,
      100 * (c1 - c0) / tck / wall, 100 * (k1 - k0) / tck / wall, 100 * (r1 - r0) / tck / wall,
      n ? 1000 * (s1 - s0) / n : 0, em, ex, en, (w1 - w0) / wall, la, lb}'
}
{
  row small "$SMALL"
  row large "$N"
  row disabled "$N"
} >"$CLUSTER/rows"
cat "$CLUSTER/rows" >&2
awk -v machine="$MACHINE" -v commit="$COMMIT" -v interval="$INTERVAL" -v intervals="$INTERVALS" \
  -v nsn="$NSN" -v load="$CPU_LOAD" -v moved="$MOVED" -v samples="$SAMPLES" '
  {la[$1] = $16; lb[$1] = $17; for (i = 1; i <= 15; i++) f[$1, i] = $i}
  END {
    printf "\n## Scaling policy cost: %d vs %d ScalingGroups, one target-tracking policy each\n", f["large", 2], f["small", 2]
    printf "Machine: %s. Commit %s. Evaluation and scrape interval %s s, %s namespaces, %s intervals per phase, %s cores of load per group (%d group(s) moved off desired 1).\n\n", machine, commit, interval, nsn, intervals, load, moved
    printf "| figure | %d groups | %d groups | %d groups, policy disabled |\n|---|---:|---:|---:|\n", f["small", 2], f["large", 2], f["disabled", 2]
    printf "| measured wall time (s) | %s | %s | %s |\n", f["small", 3], f["large", 3], f["disabled", 3]
    printf "| evaluation passes | %s | %s | %s |\n", f["small", 4], f["large", 4], f["disabled", 4]
    printf "| operator Prometheus queries per pass | %s | %s | - |\n", f["small", 5], f["large", 5]
    printf "| Prometheus /api/v1/query* requests per pass | %s | %s | - |\n", f["small", 6], f["large", 6]
    printf "| query errors | %s | %s | %s |\n", f["small", 7], f["large", 7], f["disabled", 7]
    printf "| operator CPU, %% of one core | %s | %s | %s |\n", f["small", 8], f["large", 8], f["disabled", 8]
    printf "| kube-apiserver CPU, %% of one core | %s | %s | %s |\n", f["small", 9], f["large", 9], f["disabled", 9]
    printf "| Prometheus CPU, %% of one core | %s | %s | %s |\n", f["small", 10], f["large", 10], f["disabled", 10]
    printf "| operator API writes per second | %s | %s | %s |\n", f["small", 15], f["large", 15], f["disabled", 15]
    printf "| mean evaluation pass (ms, kubec2_scaling_evaluation_duration_seconds) | %s | %s | - |\n", f["small", 11], f["large", 11]
    printf "| pass -> lastEvaluationTime seen by a watch, mean / max s (%d groups sampled, events) | %s / %s (%s) | %s / %s (%s) | - |\n", samples, f["small", 12], f["small", 13], f["small", 14], f["large", 12], f["large", 13], f["large", 14]
    printf "| load average at start / end | %s / %s | %s / %s | %s / %s |\n", la["small"], lb["small"], la["large"], lb["large"], la["disabled"], lb["disabled"]
    printf "\nRatios (same run): queries per pass %d/%d groups = **%.2fx** (goal 1.00x); Prometheus query requests per pass = **%.2fx**; operator CPU %d groups with policies / disabled = **%.2fx**; operator CPU with %d groups and their policies = **%s %%** of one core (goal < 5 %%).\n",
      f["large", 2], f["small", 2], f["small", 5] ? f["large", 5] / f["small", 5] : 0, f["small", 6] ? f["large", 6] / f["small", 6] : 0,
      f["large", 2], (f["disabled", 8] > 0 ? f["large", 8] / f["disabled", 8] : 0), f["large", 2], f["large", 8]
  }' "$CLUSTER/rows"
