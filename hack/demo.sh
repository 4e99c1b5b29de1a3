#!/usr/bin/env bash
# make demo: starts a local control plane (etcd, kube-apiserver,
# kube-controller-manager on 127.0.0.1) and the operator against it with
# leader election, checks that the operator is ready, holds its Lease and
# serves metrics, and prints how to use it. Everything keeps running until
# `hack/local-cluster.sh down DIR`, which stops the operator too.
#
# KUBEC2_DEMO_DIR picks the folder (default /tmp/kubec2-demo); a control
# plane already running there is reused, the operator is restarted.
set -euo pipefail
cd "$(dirname "$0")/.."

DIR=${KUBEC2_DEMO_DIR:-/tmp/kubec2-demo}
if hack/local-cluster.sh status "$DIR" >/dev/null 2>&1; then
  echo "demo: reusing the control plane in $DIR"
else
  [ ! -d "$DIR" ] || hack/local-cluster.sh down "$DIR"
  echo "demo: starting a local control plane in $DIR" >&2
  hack/local-cluster.sh up "$DIR" >/dev/null
fi
export KUBECONFIG="$DIR/kubeconfig"

free_port() {
  local p
  for _ in $(seq 50); do
    p=$((20000 + RANDOM % 12000))
    [ -z "$(ss -Htan "( sport = :$p )" 2>/dev/null)" ] && { echo "$p"; return; }
  done
  return 1
}
METRICS_PORT=$(free_port)
HEALTH_PORT=$(free_port)

if [ -f "$DIR/operator.pid" ] && kill -0 "$(cat "$DIR/operator.pid")" 2>/dev/null; then
  kill "$(cat "$DIR/operator.pid")"
  while kill -0 "$(cat "$DIR/operator.pid")" 2>/dev/null; do sleep 0.1; done
fi
build/bin/kubec2-operator --kubeconfig "$KUBECONFIG" --leader-elect \
  --leader-election-namespace default \
  --metrics-bind-address "127.0.0.1:$METRICS_PORT" \
  --health-probe-bind-address "127.0.0.1:$HEALTH_PORT" </dev/null >"$DIR/operator.log" 2>&1 &
echo $! >"$DIR/operator.pid"

ready=""
for _ in $(seq 150); do
  if curl -fs "http://127.0.0.1:$HEALTH_PORT/readyz" >/dev/null 2>&1; then
    ready=yes
    break
  fi
  kill -0 "$(cat "$DIR/operator.pid")" 2>/dev/null || break
  sleep 0.2
done
if [ -z "$ready" ]; then
  echo "demo: the operator did not become ready; last lines of $DIR/operator.log:" >&2
  tail -n 20 "$DIR/operator.log" >&2
  exit 1
fi
holder=""
for _ in $(seq 50); do
  holder=$(kubectl -n default get lease kubec2-operator -o jsonpath='{.spec.holderIdentity}' 2>/dev/null || true)
  [ -n "$holder" ] && break
  sleep 0.2
done

echo
echo "kubec2 demo: a local control plane and the operator are running."
echo "  API server:    $(grep -m1 'server:' "$KUBECONFIG" | awk '{print $2}')"
echo "  kubeconfig:    export KUBECONFIG=$KUBECONFIG"
echo "  operator log:  $DIR/operator.log (JSON lines)"
echo "  readyz:        $(curl -s "http://127.0.0.1:$HEALTH_PORT/readyz")"
echo "  leader:        ${holder:-none yet} (kubectl -n default get lease kubec2-operator)"
echo "  metrics:       curl -s http://127.0.0.1:$METRICS_PORT/metrics | grep ^rest_client"
echo
echo "The operator runs the manager with no controllers yet: the compute API"
echo "(Instance, LaunchTemplate, ScalingGroup, LoadBalancer) arrives in the next issues."
echo
echo "Stop everything (the operator too): hack/local-cluster.sh down $DIR"
