#!/usr/bin/env bash
# The whole kubec2 stack on this machine, left running:
#   hack/sandbox.sh up [DIR]     a local control plane (etcd, kube-apiserver,
#                                kube-controller-manager on 127.0.0.1), the
#                                compute API and its webhook, KubeVirt's API
#                                with the KubeVirt simulator (a test and demo
#                                tool, not KubeVirt), a real Prometheus
#                                scraping the simulator and the operator, and
#                                the operator (leader election on)
#   hack/sandbox.sh down [DIR]   stops all of it, by pid, and removes DIR
#   hack/sandbox.sh env [DIR]    prints the addresses (shell variables)
#   hack/sandbox.sh restart operator|prometheus|kubevirt-sim [DIR]
#                                stops one part (SIGTERM, by pid) if it still
#                                runs and starts it again on the same ports,
#                                appending to its log: what a Deployment's
#                                kubelet does after a crash or kill -9
# DIR defaults to $KUBEC2_DEMO_DIR or /tmp/kubec2-demo. `up` reuses a
# control plane already running in DIR and restarts the rest. Built
# binaries are taken from $KUBEC2_BIN (default build/bin: make build). The operator evaluates
# scaling policies every KUBEC2_EVALUATION_INTERVAL seconds (default 2:
# the policies' waits shrink in proportion, docs/scaling-policies.md).
set -euo pipefail
cd "$(dirname "$0")/.."

cmd=${1:-}
part=""
if [ "$cmd" = restart ]; then
  part=${2:-}
  shift
fi
DIR=${2:-${KUBEC2_DEMO_DIR:-/tmp/kubec2-demo}}
INTERVAL=${KUBEC2_EVALUATION_INTERVAL:-2}
BIN=${KUBEC2_BIN:-build/bin} # the built binaries

say() { echo "sandbox: $*" >&2; }

stop_pidfile() {
  local f="$DIR/$1.pid" pid
  [ -f "$f" ] || return 0
  pid=$(cat "$f")
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid"
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null
  fi
  rm -f "$f"
}

# Each part starts on the ports in the globals (METRICS_PORT, HEALTH_PORT,
# WEBHOOK_PORT, SIM_PORT, PROM_PORT) and appends to its log (`up` empties
# the logs first; `restart` keeps what the last run wrote).

start_kubevirt_sim() {
  stop_pidfile kubevirt-sim
  say "starting the KubeVirt simulator (a test and demo tool: tools/kubevirt-sim/README.md)"
  "$BIN/kubec2-kubevirt-sim" --kubeconfig "$KUBECONFIG" --boot-delay-ms 3000 \
    --control-bind-address "127.0.0.1:$SIM_PORT" </dev/null >>"$DIR/kubevirt-sim.log" 2>&1 9>&- &
  echo $! >"$DIR/kubevirt-sim.pid"
}

start_prometheus() {
  # A real Prometheus (Debian's) scraping the simulator's KubeVirt metrics and
  # the operator's own every 2 s: the scaling policies read it, as they would
  # read a cluster's Prometheus.
  stop_pidfile prometheus
  say "starting Prometheus on 127.0.0.1:$PROM_PORT"
  mkdir -p "$DIR/prometheus-data"
  cat >"$DIR/prometheus.yml" <<YAML
global: {scrape_interval: 2s, evaluation_interval: 2s}
scrape_configs:
  - job_name: kubevirt
    honor_labels: true
    static_configs: [{targets: ['127.0.0.1:$SIM_PORT']}]
  - job_name: kubec2-operator
    static_configs: [{targets: ['127.0.0.1:$METRICS_PORT']}]
YAML
  prometheus --config.file="$DIR/prometheus.yml" --storage.tsdb.path="$DIR/prometheus-data" \
    --web.listen-address="127.0.0.1:$PROM_PORT" --log.level=warn </dev/null >>"$DIR/prometheus.log" 2>&1 9>&- &
  echo $! >"$DIR/prometheus.pid"
  for _ in $(seq 100); do
    curl -fs "http://127.0.0.1:$PROM_PORT/-/ready" >/dev/null 2>&1 && break
    sleep 0.2
  done

}

start_operator() {
  stop_pidfile operator
  say "starting the operator (log: $DIR/operator.log)"
  "$BIN/kubec2-operator" --kubeconfig "$KUBECONFIG" --leader-elect \
    --leader-election-namespace default \
    --metrics-bind-address "127.0.0.1:$METRICS_PORT" \
    --health-probe-bind-address "127.0.0.1:$HEALTH_PORT" \
    --webhook-bind-address "127.0.0.1:$WEBHOOK_PORT" --webhook-hosts 127.0.0.1 \
    --webhook-secret-namespace kubec2-system \
    --prometheus-url "http://127.0.0.1:$PROM_PORT" --prometheus-scrape-interval-seconds 2 \
    --scaling-evaluation-interval "$INTERVAL" \
    --request-count-metric kubec2_sim_http_requests_total </dev/null >>"$DIR/operator.log" 2>&1 9>&- &
  echo $! >"$DIR/operator.pid"

  local ready=""
  for _ in $(seq 150); do
    if curl -fs "http://127.0.0.1:$HEALTH_PORT/readyz" >/dev/null 2>&1; then ready=yes; break; fi
    kill -0 "$(cat "$DIR/operator.pid")" 2>/dev/null || break
    sleep 0.2
  done
  if [ -z "$ready" ]; then
    say "the operator did not become ready; last lines of $DIR/operator.log:"
    tail -n 20 "$DIR/operator.log" >&2
    return 1
  fi
  # The webhook is in force once the operator has written its CA into both
  # configurations.
  local webhook="" ca v m
  for _ in $(seq 150); do
    ca=$(kubectl -n kubec2-system get secret kubec2-webhook-tls -o jsonpath='{.data.ca\.crt}' 2>/dev/null || true)
    v=$(kubectl get validatingwebhookconfiguration kubec2 -o jsonpath='{.webhooks[0].clientConfig.caBundle}')
    m=$(kubectl get mutatingwebhookconfiguration kubec2 -o jsonpath='{.webhooks[0].clientConfig.caBundle}')
    if [ -n "$ca" ] && [ "$ca" = "$v" ] && [ "$ca" = "$m" ]; then webhook=yes; break; fi
    sleep 0.2
  done
  if [ -z "$webhook" ]; then
    say "the operator did not set up its webhook; last lines of $DIR/operator.log:"
    tail -n 20 "$DIR/operator.log" >&2
    return 1
  fi
}

up() {
  if hack/local-cluster.sh status "$DIR" >/dev/null 2>&1; then
    say "reusing the control plane in $DIR"
  else
    [ ! -d "$DIR" ] || hack/local-cluster.sh down "$DIR"
    say "starting a local control plane in $DIR (etcd, kube-apiserver, kube-controller-manager)"
    # pvc-protection: the simulator plays CDI, so claims exist; this
    # controller lets them go once no pod uses them, as in every cluster.
    hack/local-cluster.sh up "$DIR" --extra-controllers=pvc-protection >/dev/null 9>&-
  fi
  export KUBECONFIG="$DIR/kubeconfig"
  : >"$DIR/kubevirt-sim.log"
  : >"$DIR/prometheus.log"
  : >"$DIR/operator.log"
  read -r METRICS_PORT HEALTH_PORT WEBHOOK_PORT SIM_PORT PROM_PORT <<<"$(hack/local-cluster.sh free-ports 5)"

  # The compute API and its admission webhook, as in a cluster (deploy/base),
  # but with the webhook reached at 127.0.0.1 instead of through its Service.
  say "installing the compute API, KubeVirt's API and the webhook configurations"
  kubectl apply -k crds/ >/dev/null
  kubectl kustomize crds/ | kubectl wait --for condition=established --timeout=60s -f - >/dev/null
  # KubeVirt's API (its CRDs only: no KubeVirt runs here) for the simulator,
  # with its snapshot API (snapshot.kubevirt.io, in the same folder), CDI's
  # DataVolume and the CSI snapshot API (external-snapshotter's CRDs).
  local crds
  for crds in third_party/kubevirt/crds/ third_party/cdi/crds/ third_party/external-snapshotter/crds/; do
    kubectl apply -f "$crds" >/dev/null
    kubectl wait --for condition=established --timeout=60s -f "$crds" >/dev/null
  done
  # The default VolumeSnapshotClass of the simulator's pretend CSI driver.
  kubectl apply -f third_party/external-snapshotter/examples/volumesnapshotclass-sim.yaml >/dev/null
  kubectl create namespace kubec2-system --dry-run=client -o yaml | kubectl apply -f - >/dev/null
  # The configurations point at the Service in deploy/; the sandbox points
  # them at a url instead. Replaced, not re-applied: apply's three-way merge
  # would put the Service back beside the url (both are refused together).
  kubectl delete validatingwebhookconfiguration,mutatingwebhookconfiguration kubec2 \
    --ignore-not-found >/dev/null
  kubectl apply -f deploy/base/webhook.yaml >/dev/null
  local kind path
  for kind in validatingwebhookconfiguration mutatingwebhookconfiguration; do
    path=/validate
    [ "$kind" = mutatingwebhookconfiguration ] && path=/mutate
    kubectl patch "$kind" kubec2 --type=json -p "[{\"op\":\"replace\",\"path\":\"/webhooks/0/clientConfig\",\"value\":{\"url\":\"https://127.0.0.1:$WEBHOOK_PORT$path\"}}]" >/dev/null
  done

  start_kubevirt_sim
  start_prometheus
  cat >"$DIR/sandbox.env" <<ENV
KUBECONFIG=$KUBECONFIG
METRICS_PORT=$METRICS_PORT
HEALTH_PORT=$HEALTH_PORT
WEBHOOK_PORT=$WEBHOOK_PORT
SIM_PORT=$SIM_PORT
PROM_PORT=$PROM_PORT
ENV

  start_operator
  say "up: export KUBECONFIG=$KUBECONFIG"
}

restart() {
  [ -f "$DIR/sandbox.env" ] || { say "no sandbox in $DIR (make sandbox-up)"; exit 1; }
  set -a
  # shellcheck disable=SC1091
  . "$DIR/sandbox.env"
  set +a
  case "$part" in
  operator | prometheus | kubevirt-sim) ;;
  *)
    echo "usage: hack/sandbox.sh restart operator|prometheus|kubevirt-sim [DIR]" >&2
    exit 2
    ;;
  esac
  echo "--- sandbox: $part restarted $(date -u +%FT%TZ) ---" >>"$DIR/$part.log"
  case "$part" in
  operator) start_operator ;;
  prometheus) start_prometheus ;;
  kubevirt-sim) start_kubevirt_sim ;;
  esac
  say "$part restarted (log: $DIR/$part.log)"
}

# One command at a time per sandbox: two restarts at once would each stop
# and start the operator, and one would run untracked. The lock's file is
# beside DIR (down removes DIR); the parts started close its descriptor, so
# it is released when this script ends.
case "$cmd" in
up | restart | down)
  exec 9>"${DIR%/}.lock"
  flock 9
  ;;
esac

case "$cmd" in
up) up ;;
restart) restart ;;
down)
  # local-cluster.sh stops every DIR/<name>.pid (operator, simulator,
  # Prometheus) before the control plane, then removes DIR.
  if [ -d "$DIR" ]; then hack/local-cluster.sh down "$DIR"; else say "nothing in $DIR"; fi
  ;;
env) cat "$DIR/sandbox.env" ;;
*)
  echo "usage: hack/sandbox.sh up|down|env|restart [PART] [DIR]" >&2
  exit 2
  ;;
esac
