#!/usr/bin/env bash
# make demo: the whole system, live. Starts the sandbox (hack/sandbox.sh: a
# local control plane, the KubeVirt simulator, a real Prometheus and the
# operator), applies the web tier of examples/web-tier.yaml (a launch
# template, a ScalingGroup tracking 60 % CPU between 2 and 10 instances,
# an application LoadBalancer checking their health), then drives the
# simulated load up and down and shows the group scaling out and back in:
# capacity against min/max, the metric against its target, the instances,
# the load balancer's healthy targets and each scaling activity's cause.
#
# In a terminal the view redraws every 2 s; at the end it keeps everything
# running for you to explore until Ctrl-C, which stops all of it by pid.
# Without a terminal (or DEMO_NONINTERACTIVE=1) it prints one line per
# change, the summary, checks that the group scaled out and back in (exit
# status 1 if not) and stops everything; KEEP_SANDBOX=1 leaves it running.
# KUBEC2_DEMO_DIR picks the folder (default /tmp/kubec2-demo).
set -euo pipefail
cd "$(dirname "$0")/.."

DIR=${KUBEC2_DEMO_DIR:-/tmp/kubec2-demo}
export KUBEC2_DEMO_DIR=$DIR
NS=shop
GROUP=shop-web
HIGH_CPU=${DEMO_HIGH_CPU:-6}   # vCPUs of load: 6 / (2 vCPUs x 60 %) = 5 instances
LOW_CPU=${DEMO_LOW_CPU:-0.4}   # wants 1, so back to minSize 2
INTERACTIVE=1
if [ "${DEMO_NONINTERACTIVE:-0}" = 1 ] || ! [ -t 1 ]; then INTERACTIVE=0; fi

START=$(date +%s)
elapsed() { local s=$(($(date +%s) - START)); printf '%dm%02ds' $((s / 60)) $((s % 60)); }
say() { echo "demo [$(elapsed)]: $*"; }

teardown() {
  trap - EXIT INT TERM
  if [ "${KEEP_SANDBOX:-0}" = 1 ]; then
    say "left running: export KUBECONFIG=$DIR/kubeconfig; stop it with hack/sandbox.sh down $DIR"
    return
  fi
  echo
  say "stopping the operator, the simulator, Prometheus and the control plane"
  hack/sandbox.sh down "$DIR" >/dev/null 2>&1 || true
}
trap teardown EXIT
trap 'exit 130' INT TERM

say "starting the sandbox in $DIR"
hack/sandbox.sh up "$DIR"
# shellcheck disable=SC1091
. "$DIR/sandbox.env"
export KUBECONFIG
SIM="http://127.0.0.1:$SIM_PORT"

kubectl create namespace "$NS" --dry-run=client -o yaml | kubectl apply -f - >/dev/null
say "kubectl -n $NS apply -f examples/web-tier.yaml"
kubectl -n "$NS" apply -f examples/web-tier.yaml | sed 's/^/  /'
say "a ScalingGroup with minSize 5 above maxSize 3 is refused at admission:"
if kubectl -n "$NS" apply -f - <<'YAML' 2>&1 | sed 's/^/  /'; then :; fi
apiVersion: compute.kubec2.io/v1alpha1
kind: ScalingGroup
metadata: {name: upside-down}
spec: {minSize: 5, maxSize: 3, launchTemplateRef: {name: shop-web}}
YAML
if kubectl -n "$NS" get sg upside-down >/dev/null 2>&1; then
  say "the webhook accepted it"
  exit 1
fi

load() { # load VCPUS
  curl -fsS -X PUT "$SIM/load" \
    -d "{\"namespace\":\"$NS\",\"group\":\"$GROUP\",\"cpu\":$1}" >/dev/null
}

# One reading of everything the view shows.
PHASE=""
read_state() {
  local s
  s=$(kubectl -n "$NS" get sg "$GROUP" -o jsonpath='{.status.desiredCapacity} {.status.minSize} {.status.maxSize} {.status.currentCapacity} {.status.inServiceCount} {.status.policies[0].metricValue}' 2>/dev/null || true)
  read -r DESIRED MIN MAX CURRENT INSERVICE METRIC <<<"$s"
  DESIRED=${DESIRED:-0} MIN=${MIN:-?} MAX=${MAX:-?} CURRENT=${CURRENT:-0} INSERVICE=${INSERVICE:-0}
  if [ -n "${METRIC:-}" ]; then
    METRIC=$(printf '%.1f %%' "$METRIC")
  else
    METRIC="no data yet"
  fi
  # Why the policies cannot act, when they cannot (Prometheus down, no series).
  s=$(kubectl -n "$NS" get sg "$GROUP" -o jsonpath='{range .status.conditions[?(@.type=="ScalingActive")]}{.status} {.reason}{end}' 2>/dev/null || true)
  SCALING=""
  case "$s" in False\ *) SCALING=" (ScalingActive False: ${s#False })" ;; esac
  s=$(kubectl -n "$NS" get lb "$GROUP" -o jsonpath='{.status.healthyTargets} {.status.targetGroups[0].initialCount} {.status.targetGroups[0].unhealthyCount} {.status.targetGroups[0].drainingCount}' 2>/dev/null || true)
  read -r HEALTHY INITIAL UNHEALTHY DRAINING <<<"$s"
  HEALTHY=${HEALTHY:-0} INITIAL=${INITIAL:-0} UNHEALTHY=${UNHEALTHY:-0} DRAINING=${DRAINING:-0}
}
activities() { # newest first
  kubectl -n "$NS" get sg "$GROUP" -o jsonpath='{range .status.activities[*]}{.time}{"  "}{.from}{" -> "}{.to}{"  "}{.cause}{"\n"}{end}' 2>/dev/null || true
}
summary_line() {
  echo "capacity $DESIRED (min $MIN, max $MAX), current $CURRENT, in service $INSERVICE | cpu-60: $METRIC against target 60 %$SCALING | load balancer: $HEALTHY healthy, $INITIAL initial, $UNHEALTHY unhealthy, $DRAINING draining"
}

LAST_LINE=""
SEEN_ACTIVITIES=0
show() {
  read_state
  if [ "$INTERACTIVE" = 1 ]; then
    local out
    out=$(
      echo "kubec2 demo   $(elapsed)   phase: $PHASE   (Ctrl-C stops everything)"
      echo
      echo "ScalingGroup $NS/$GROUP    capacity $DESIRED   min $MIN   max $MAX   current $CURRENT   in service $INSERVICE"
      echo "  policy cpu-60 (target tracking): ASGAverageCPUUtilization $METRIC   target 60 %$SCALING"
      echo "LoadBalancer $NS/$GROUP    healthy $HEALTHY   initial $INITIAL   unhealthy $UNHEALTHY   draining $DRAINING"
      echo
      echo "\$ kubectl -n $NS get instances"
      kubectl -n "$NS" get instances 2>&1 | head -n 14
      echo
      echo "Scaling activities (newest first):"
      activities | head -n 6 | sed 's/^/  /'
    )
    printf '\033[H\033[2J%s\n' "$out"
  else
    local line n
    line=$(summary_line)
    if [ "$line" != "$LAST_LINE" ]; then
      say "$line"
      LAST_LINE=$line
    fi
    n=$(activities | grep -c . || true)
    if [ "$n" -gt "$SEEN_ACTIVITIES" ]; then
      activities | head -n $((n - SEEN_ACTIVITIES)) | tac | sed 's/^/  activity: /'
      SEEN_ACTIVITIES=$n
    fi
  fi
}

# wait_for SECONDS DESCRIPTION CONDITION...: redraws every 2 s until the
# condition (a shell command over the state variables) holds.
wait_for() {
  local budget=$1 what=$2
  shift 2
  local until=$(($(date +%s) + budget))
  while :; do
    show
    if "$@"; then return 0; fi
    if ! alive operator; then
      say "the operator is not running (it exited or was killed); last lines of $DIR/operator.log:"
      tail -n 15 "$DIR/operator.log" 2>/dev/null | sed 's/^/  /'
      return 1
    fi
    if ! alive prometheus && [ -z "${PROMETHEUS_DOWN_SAID:-}" ]; then
      say "Prometheus is not running: the policies hold the capacity until it is back (docs/scaling-policies.md)"
      PROMETHEUS_DOWN_SAID=1
    fi
    if [ "$(date +%s)" -ge "$until" ]; then
      say "gave up after ${budget}s waiting for $what"
      return 1
    fi
    sleep 2
  done
}
alive() { [ -f "$DIR/$1.pid" ] && kill -0 "$(cat "$DIR/$1.pid")" 2>/dev/null; }
at_min_and_healthy() { [ "$INSERVICE" -ge 2 ] && [ "$HEALTHY" -ge 2 ]; }
scaled_out() { [ "$DESIRED" -ge 5 ] && [ "$INSERVICE" -ge 5 ]; }
scaled_in() { [ "$DESIRED" -eq 2 ] && [ "$CURRENT" -eq 2 ]; }

OK=1
PEAK=0
PHASE="launching 2 instances (minSize); the load balancer checks /healthz every 10 s"
[ "$INTERACTIVE" = 0 ] && say "$PHASE"
wait_for 180 "2 instances in service and healthy" at_min_and_healthy || OK=0

if [ "$OK" = 1 ]; then
  PHASE="load up: $HIGH_CPU vCPUs on the group (PUT $SIM/load), want 5 instances"
  [ "$INTERACTIVE" = 0 ] && say "$PHASE"
  load "$HIGH_CPU"
  wait_for 240 "the scale-out to 5 instances in service" scaled_out || OK=0
  PEAK=$DESIRED
fi
if [ "$OK" = 1 ]; then
  PHASE="load down: $LOW_CPU vCPUs; scale-in waits 40 s of low load (300 s at a 15 s interval), then drains 30 s"
  [ "$INTERACTIVE" = 0 ] && say "$PHASE"
  load "$LOW_CPU"
  wait_for 300 "the scale-in back to 2" scaled_in || OK=0
fi
show

echo
echo "Summary after $(elapsed):"
echo "  $(summary_line)"
echo "  peak capacity $PEAK; scaling activities (oldest first):"
activities | tac | sed 's/^/    /'
if [ "$OK" = 1 ]; then
  echo "  The group scaled out to $PEAK for the load and back in to 2 when it went."
else
  echo "  The scenario did not complete (the reason is above)."
  if alive operator; then
    echo "  Last lines of the operator's log:"
    tail -n 10 "$DIR/operator.log" 2>/dev/null | sed 's/^/    /'
  fi
  if [ "${KEEP_SANDBOX:-0}" != 1 ] && [ "$INTERACTIVE" = 0 ]; then
    echo "  The sandbox is removed at exit; KEEP_SANDBOX=1 keeps it and its logs in $DIR."
  fi
fi
echo
if [ "$INTERACTIVE" = 0 ] && [ "${KEEP_SANDBOX:-0}" != 1 ]; then
  echo "To explore the stack afterwards: KEEP_SANDBOX=1 make demo (or make sandbox-up)."
  [ "$OK" = 1 ]
  exit
fi
echo "Explore:"
echo "  export KUBECONFIG=$KUBECONFIG"
echo "  kubectl -n $NS get kubec2                      # every compute.kubec2.io object"
echo "  kubectl -n $NS describe sg $GROUP              # activities, conditions, Events"
echo "  kubectl -n $NS get lb $GROUP; kubectl -n $NS get endpointslices,svc,ingress"
echo "  kubectl -n $NS get vm,vmi                      # KubeVirt's objects, played by the simulator"
echo "  kubectl -n $NS scale sg $GROUP --replicas=4"
echo "  load: curl -X PUT $SIM/load -d '{\"namespace\":\"$NS\",\"group\":\"$GROUP\",\"cpu\":3}'"
echo "  a failing health check: curl -X POST $SIM/faults -d '{\"namespace\":\"$NS\",\"name\":\"INSTANCE\",\"fault\":\"fail-health\"}'"
echo "  Prometheus UI: http://127.0.0.1:$PROM_PORT   (e.g. kubec2_scalinggroup_desired_capacity)"
echo "  operator: metrics http://127.0.0.1:$METRICS_PORT/metrics, log $DIR/operator.log"
echo "  docs: docs/scaling-groups.md, docs/scaling-policies.md, docs/load-balancers.md"

if [ "$INTERACTIVE" = 1 ] && [ "${KEEP_SANDBOX:-0}" != 1 ]; then
  echo
  echo "Everything keeps running until Ctrl-C."
  while :; do sleep 3600; done
fi
[ "$OK" = 1 ]
