#!/usr/bin/env bash
# make demo: starts a local control plane (etcd, kube-apiserver,
# kube-controller-manager on 127.0.0.1), the KubeVirt simulator and the
# operator against it with leader election, checks that the operator is
# ready, holds its Lease and serves metrics, launches an Instance, and prints
# how to use it. Everything keeps running until
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

read -r METRICS_PORT HEALTH_PORT WEBHOOK_PORT SIM_PORT PROM_PORT <<<"$(hack/local-cluster.sh free-ports 5)"

# The compute API and its admission webhook, as in a cluster (deploy/), but
# with the webhook reached at 127.0.0.1 instead of through its Service.
kubectl apply -f crds/ >/dev/null
kubectl wait --for condition=established --timeout=60s -f crds/ >/dev/null
# KubeVirt's API (its CRDs only: no KubeVirt runs here) and the simulator
# that plays KubeVirt for the demo (tools/kubevirt-sim/README.md).
kubectl apply -f third_party/kubevirt/crds/ >/dev/null
kubectl wait --for condition=established --timeout=60s -f third_party/kubevirt/crds/ >/dev/null
kubectl create namespace kubec2-system --dry-run=client -o yaml | kubectl apply -f - >/dev/null
kubectl apply -f deploy/webhook.yaml >/dev/null
for kind in validatingwebhookconfiguration mutatingwebhookconfiguration; do
  path=/validate
  [ "$kind" = mutatingwebhookconfiguration ] && path=/mutate
  kubectl patch "$kind" kubec2 --type=json -p "[{\"op\":\"replace\",\"path\":\"/webhooks/0/clientConfig\",\"value\":{\"url\":\"https://127.0.0.1:$WEBHOOK_PORT$path\"}}]" >/dev/null
done

if [ -f "$DIR/kubevirt-sim.pid" ] && kill -0 "$(cat "$DIR/kubevirt-sim.pid")" 2>/dev/null; then
  kill "$(cat "$DIR/kubevirt-sim.pid")"
  while kill -0 "$(cat "$DIR/kubevirt-sim.pid")" 2>/dev/null; do sleep 0.1; done
fi
build/bin/kubec2-kubevirt-sim --kubeconfig "$KUBECONFIG" --boot-delay-ms 3000 \
  --control-bind-address "127.0.0.1:$SIM_PORT" </dev/null >"$DIR/kubevirt-sim.log" 2>&1 &
echo $! >"$DIR/kubevirt-sim.pid"

# A real Prometheus (Debian's, installed by make deps) scraping the
# simulator's KubeVirt metrics and the operator's own every 5 s: the
# scaling policies read it, as they would read a cluster's Prometheus.
if [ -f "$DIR/prometheus.pid" ] && kill -0 "$(cat "$DIR/prometheus.pid")" 2>/dev/null; then
  kill "$(cat "$DIR/prometheus.pid")"
  while kill -0 "$(cat "$DIR/prometheus.pid")" 2>/dev/null; do sleep 0.1; done
fi
mkdir -p "$DIR/prometheus-data"
cat >"$DIR/prometheus.yml" <<YAML
global: {scrape_interval: 5s, evaluation_interval: 5s}
scrape_configs:
  - job_name: kubevirt
    honor_labels: true
    static_configs: [{targets: ['127.0.0.1:$SIM_PORT']}]
  - job_name: kubec2-operator
    static_configs: [{targets: ['127.0.0.1:$METRICS_PORT']}]
YAML
prometheus --config.file="$DIR/prometheus.yml" --storage.tsdb.path="$DIR/prometheus-data" \
  --web.listen-address="127.0.0.1:$PROM_PORT" --log.level=warn </dev/null >"$DIR/prometheus.log" 2>&1 &
echo $! >"$DIR/prometheus.pid"
for _ in $(seq 100); do
  curl -fs "http://127.0.0.1:$PROM_PORT/-/ready" >/dev/null 2>&1 && break
  sleep 0.2
done

if [ -f "$DIR/operator.pid" ] && kill -0 "$(cat "$DIR/operator.pid")" 2>/dev/null; then
  kill "$(cat "$DIR/operator.pid")"
  while kill -0 "$(cat "$DIR/operator.pid")" 2>/dev/null; do sleep 0.1; done
fi
build/bin/kubec2-operator --kubeconfig "$KUBECONFIG" --leader-elect \
  --leader-election-namespace default \
  --metrics-bind-address "127.0.0.1:$METRICS_PORT" \
  --health-probe-bind-address "127.0.0.1:$HEALTH_PORT" \
  --webhook-bind-address "127.0.0.1:$WEBHOOK_PORT" --webhook-hosts 127.0.0.1 \
  --webhook-secret-namespace kubec2-system \
  --prometheus-url "http://127.0.0.1:$PROM_PORT" --prometheus-scrape-interval-seconds 5 \
  --scaling-evaluation-interval 5 --request-count-metric kubec2_sim_http_requests_total \
  </dev/null >"$DIR/operator.log" 2>&1 &
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

# The webhook is in force once the operator has written its CA into both
# configurations; then the web tier goes in, and a broken manifest does not.
webhook=""
for _ in $(seq 100); do
  ca=$(kubectl -n kubec2-system get secret kubec2-webhook-tls -o jsonpath='{.data.ca\.crt}' 2>/dev/null || true)
  v=$(kubectl get validatingwebhookconfiguration kubec2 -o jsonpath='{.webhooks[0].clientConfig.caBundle}')
  m=$(kubectl get mutatingwebhookconfiguration kubec2 -o jsonpath='{.webhooks[0].clientConfig.caBundle}')
  if [ -n "$ca" ] && [ "$ca" = "$v" ] && [ "$ca" = "$m" ]; then webhook=yes; break; fi
  sleep 0.2
done
if [ -z "$webhook" ]; then
  echo "demo: the operator did not set up its webhook; last lines of $DIR/operator.log:" >&2
  tail -n 20 "$DIR/operator.log" >&2
  exit 1
fi
kubectl create namespace shop --dry-run=client -o yaml | kubectl apply -f - >/dev/null
kubectl -n shop apply -f examples/web-tier.yaml
echo
echo "$ kubectl -n shop get kubec2"
kubectl -n shop get kubec2
echo
echo "A ScalingGroup with minSize 5 and maxSize 3 is refused by the webhook:"
if kubectl -n shop apply -f - <<'YAML' 2>&1; then echo "demo: it was accepted" >&2; exit 1; fi
apiVersion: compute.kubec2.io/v1alpha1
kind: ScalingGroup
metadata: {name: upside-down}
spec: {minSize: 5, maxSize: 3, launchTemplateRef: {name: shop-web}}
YAML

# An EC2-style instance from a launch template version, with its key pair and
# user data Secrets, booted by the simulator.
echo
kubectl create namespace demo --dry-run=client -o yaml | kubectl apply -f - >/dev/null
kubectl -n demo create secret generic deploy-key \
  --from-literal=key="ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDemoKeyOnlyForTheDemo demo@kubec2" \
  --dry-run=client -o yaml | kubectl apply -f - >/dev/null
kubectl -n demo create secret generic web-bootstrap \
  --from-literal=userdata=$'#cloud-config\npackages: [nginx]\n' \
  --dry-run=client -o yaml | kubectl apply -f - >/dev/null
kubectl -n demo apply -f examples/launchtemplate.yaml -f examples/instance.yaml
state=""
for _ in $(seq 150); do
  state=$(kubectl -n demo get instance web-1 -o jsonpath='{.status.state}' 2>/dev/null || true)
  [ "$state" = running ] && break
  sleep 0.2
done
echo
echo "$ kubectl -n demo get instances,launchtemplates"
kubectl -n demo get instances,launchtemplates
echo
echo "$ kubectl -n demo get vm,vmi        # KubeVirt's objects, booted by the simulator"
kubectl -n demo get vm,vmi
if [ "$state" != running ]; then
  echo "demo: web-1 is not running (state \"$state\"); see $DIR/operator.log and $DIR/kubevirt-sim.log" >&2
  exit 1
fi

echo
echo "kubec2 demo: a local control plane and the operator are running."
echo "  API server:    $(grep -m1 'server:' "$KUBECONFIG" | awk '{print $2}')"
echo "  kubeconfig:    export KUBECONFIG=$KUBECONFIG"
echo "  operator log:  $DIR/operator.log (JSON lines)"
echo "  readyz:        $(curl -s "http://127.0.0.1:$HEALTH_PORT/readyz")"
echo "  leader:        ${holder:-none yet} (kubectl -n default get lease kubec2-operator)"
echo "  metrics:       curl -s http://127.0.0.1:$METRICS_PORT/metrics | grep ^rest_client"
echo
echo "  webhook:       https://127.0.0.1:$WEBHOOK_PORT (docs/admission-webhook.md)"
echo
echo "  simulator:     $DIR/kubevirt-sim.log; control API http://127.0.0.1:$SIM_PORT (tools/kubevirt-sim/README.md)"
echo
echo "Try: kubectl -n demo patch instance web-1 --type=merge -p '{\"spec\":{\"desiredState\":\"stopped\"}}'"
echo "     kubectl -n demo delete instance web-1      (docs/instances.md)"
echo "ScalingGroups keep their instances (kubectl get sg; kubectl scale sg NAME --replicas=N; docs/scaling-groups.md)."
echo
echo "  prometheus:    http://127.0.0.1:$PROM_PORT (scrapes the simulator and the operator every 5 s;"
echo "                 the operator evaluates scaling policies every 5 s: docs/scaling-policies.md)"
echo "Scale shop-web from its CPU (target tracking at 60 %): give the group 3 vCPUs of load,"
echo "     curl -X PUT http://127.0.0.1:$SIM_PORT/load -d '{\"namespace\":\"shop\",\"group\":\"shop-web\",\"cpu\":3}'"
echo "     kubectl -n shop get sg shop-web -w          (then set \"cpu\":0 and watch it scale in, slowly)"
echo "     kubectl -n shop get sg shop-web -o jsonpath='{.status.activities}'"
echo "The LoadBalancer shop-web checks the group's instances (docs/load-balancers.md):"
echo "     kubectl -n shop get lb shop-web; kubectl -n shop get endpointslices -l kubernetes.io/service-name=shop-web"
echo "     fail one's health check: curl -X POST http://127.0.0.1:$SIM_PORT/faults -d '{\"namespace\":\"shop\",\"name\":\"INSTANCE\",\"fault\":\"fail-health\"}'"
echo
echo "Stop everything (the operator too): hack/local-cluster.sh down $DIR"
