#!/usr/bin/env bash
# make demo: starts a local control plane (etcd, kube-apiserver,
# kube-controller-manager on 127.0.0.1) and the operator against it, shows
# that the operator is healthy and serving metrics, and prints how to use it.
# Everything keeps running until `hack/local-cluster.sh down DIR`.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x hack/local-cluster.sh ]; then
  echo "demo: not available yet: hack/local-cluster.sh (the local control plane starter) is still to be written." >&2
  echo "      The operator is built: build/bin/kubec2-operator --help" >&2
  exit 1
fi

DIR=${KUBEC2_DEMO_DIR:-/tmp/kubec2-demo}
if [ -f "$DIR/kubeconfig" ] && hack/local-cluster.sh status "$DIR" >/dev/null 2>&1; then
  echo "demo: reusing the control plane in $DIR"
else
  rm -rf "$DIR"
  hack/local-cluster.sh up "$DIR" >/dev/null
fi
export KUBECONFIG="$DIR/kubeconfig"

free_port() {
  local p
  for _ in $(seq 50); do
    p=$((20000 + RANDOM % 20000))
    ss -ltn "sport = :$p" 2>/dev/null | grep -q ":$p" || { echo "$p"; return; }
  done
  return 1
}
METRICS_PORT=$(free_port)
HEALTH_PORT=$(free_port)

if [ -f "$DIR/operator.pid" ] && kill -0 "$(cat "$DIR/operator.pid")" 2>/dev/null; then
  kill "$(cat "$DIR/operator.pid")" && sleep 1
fi
build/bin/kubec2-operator --kubeconfig "$KUBECONFIG" --leader-elect \
  --leader-election-namespace default \
  --metrics-bind-address "127.0.0.1:$METRICS_PORT" \
  --health-probe-bind-address "127.0.0.1:$HEALTH_PORT" >"$DIR/operator.log" 2>&1 &
echo $! >"$DIR/operator.pid"

for _ in $(seq 100); do
  curl -fs "http://127.0.0.1:$HEALTH_PORT/readyz" >/dev/null 2>&1 && break
  sleep 0.2
done

echo
echo "kubec2 demo: a local control plane and the operator are running."
echo "  API server:    $(grep -m1 server: "$KUBECONFIG" | awk '{print $2}')"
echo "  kubeconfig:    export KUBECONFIG=$KUBECONFIG"
echo "  operator log:  $DIR/operator.log (JSON lines)"
echo "  readyz:        $(curl -s "http://127.0.0.1:$HEALTH_PORT/readyz" || echo 'not answering')"
echo "  metrics:       curl http://127.0.0.1:$METRICS_PORT/metrics"
echo "  leader lease:  kubectl -n default get lease kubec2-operator"
echo
echo "The operator runs the manager with no controllers yet: the compute API"
echo "(Instance, LaunchTemplate, ScalingGroup, LoadBalancer) arrives in the next issues."
echo
echo "Stop everything: hack/local-cluster.sh down $DIR (also stops the operator)"
