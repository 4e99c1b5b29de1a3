#!/usr/bin/env bash
# Installs every Debian package kubec2 needs to build, test and run its demo.
# Idempotent: packages already present are skipped, so a second run costs a
# dpkg query and nothing else.
set -euo pipefail

PKGS=(
  build-essential g++ cmake make pkg-config git ca-certificates curl openssl unzip
  nlohmann-json3-dev libyaml-cpp-dev libcurl4-openssl-dev libcpprest-dev libssl-dev
  prometheus-cpp-dev libboost-dev libboost-program-options-dev libboost-system-dev
  libspdlog-dev libfmt-dev libgtest-dev libgmock-dev libbenchmark-dev
  etcd-server etcd-client prometheus
  iproute2 # ss: hack/local-cluster.sh probes for free ports
  clang-format
  # make asan / tsan / fuzz and their CI subset (docs/reliability.md): clang,
  # and compiler-rt for -fsanitize=fuzzer,address,undefined,thread
  clang libclang-rt-14-dev
  strace # the reliability suite's security test: the operator writes no file
  tzdata # /usr/share/zoneinfo: the webhook checks scheduled actions' time zones
  libhowardhinnant-date-dev # date::date-tz: scheduled actions' time zones and DST (GCC 12 lacks <chrono>'s)
)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# helm, and kubectl 1.24+ (the kustomize overlays, `kubectl create token`):
# Debian has neither new enough. KUBEC2_SKIP_TOOLS=1 (the Dockerfile's build
# stage, which only compiles) leaves them out.
[ "${KUBEC2_SKIP_TOOLS:-0}" = 1 ] || "$(dirname "$0")/install-tools.sh"
