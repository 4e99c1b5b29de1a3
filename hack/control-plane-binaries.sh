#!/usr/bin/env bash
# Prints the folder holding etcd, kube-apiserver and kube-controller-manager,
# building the two Kubernetes binaries once per machine when needed.
#
# Order of preference (controller-runtime's envtest convention first):
#   1. $KUBEBUILDER_ASSETS, if it holds etcd and kube-apiserver;
#   2. the per-machine cache ${XDG_CACHE_HOME:-$HOME/.cache}/kubec2/k8s-1.20.2;
#   3. a build from Debian bookworm's `kubernetes` source package (v1.20.2),
#      with the vendored modern-go/reflect2 swapped for Debian's 1.0.2 (the
#      vendored 1.0.1 crashes under Go >= 1.18).
# All progress goes to stderr; stdout is only the folder.
set -euo pipefail

if [ -n "${KUBEBUILDER_ASSETS:-}" ] && [ -x "$KUBEBUILDER_ASSETS/kube-apiserver" ] && [ -x "$KUBEBUILDER_ASSETS/etcd" ]; then
  echo "$KUBEBUILDER_ASSETS"
  exit 0
fi

CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/kubec2/k8s-1.20.2"
if [ -x "$CACHE/kube-apiserver" ] && [ -x "$CACHE/kube-controller-manager" ] && [ -x "$CACHE/etcd" ]; then
  echo "$CACHE"
  exit 0
fi

log() { echo "control-plane: $*" >&2; }
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive

# etcd comes from Debian's binary package.
if ! command -v etcd >/dev/null; then
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq etcd-server etcd-client >/dev/null
fi

need=()
for p in golang-go rsync jq golang-github-modern-go-reflect2-dev dpkg-dev; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
SRCLIST=/etc/apt/sources.list.d/kubec2-deb-src.sources
if [ ! -f "$SRCLIST" ]; then
  log "adding a deb-src entry for bookworm (to fetch the kubernetes source package)"
  $SUDO tee "$SRCLIST" >/dev/null <<'SRC'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
fi
$SUDO apt-get update -qq
((${#need[@]})) && $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null

# The unpacked tree is kept beside the binaries: bench/ builds a client-go
# informer from its vendor/ folder to compare against (see docs/benchmarks.md).
work="$CACHE.work"
rm -rf "$work" && mkdir -p "$work"
log "fetching Debian's kubernetes source package into $work"
(cd "$work" && apt-get source --download-only kubernetes >/dev/null 2>&1)
orig=$(ls "$work"/kubernetes_*.orig.tar.gz | head -1)
mkdir -p "$work/src"
tar -C "$work/src" --strip-components=1 -xzf "$orig"
cd "$work/src"

log "swapping vendor/github.com/modern-go/reflect2 for Debian's 1.0.2"
rm -rf vendor/github.com/modern-go/reflect2
mkdir -p vendor/github.com/modern-go/reflect2
cp -r /usr/share/gocode/src/github.com/modern-go/reflect2/. vendor/github.com/modern-go/reflect2/
rm -f vendor/github.com/modern-go/reflect2/go.mod

log "building kube-apiserver and kube-controller-manager (about 5 minutes on 2 cores)"
mkdir -p .go/src/k8s.io && ln -s ../../.. .go/src/k8s.io/kubernetes
mkdir -p "$work/home"
env GOPATH="$PWD/.go" CGO_ENABLED=0 HOME="$work/home" GOCACHE="$work/gocache" \
  make WHAT="cmd/kube-apiserver cmd/kube-controller-manager" >"$work/build.log" 2>&1 || {
  tail -50 "$work/build.log" >&2
  exit 1
}

mkdir -p "$CACHE.tmp"
cp _output/bin/kube-apiserver _output/bin/kube-controller-manager "$CACHE.tmp/"
ln -sf "$(command -v etcd)" "$CACHE.tmp/etcd"
command -v etcdctl >/dev/null && ln -sf "$(command -v etcdctl)" "$CACHE.tmp/etcdctl"
rm -rf "$CACHE" && mv "$CACHE.tmp" "$CACHE"
rm -rf "$work/gocache" "$work/home" "$work/src/_output/local/go/cache" "$CACHE-src"
mv "$work/src" "$CACHE-src" && rm -rf "$work"
log "cached in $CACHE"
echo "$CACHE"
