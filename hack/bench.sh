#!/usr/bin/env bash
# The foundation benchmarks, measured side by side in one run against a local
# control plane (machines are noisy: compare the ratios, not the raw figures):
#   1. create rate: kube::Client against a plain libcurl loop (small objects
#      and 1.75 KB objects, 8 connections), alternated in fresh namespaces;
#   2. informer sync of 10,000 objects of 1.75 KB: kubec2's Informer<RawObject>
#      against client-go's dynamic informer (v0.20.2), each measured 3 times
#      in fresh processes, alternating; medians;
#   3. bench_micro (Google Benchmark), when it is built.
# Ends with a markdown summary ready for docs/benchmarks.md.
#
# Environment: BUILD_DIR (default build), BENCH_OBJECTS (10000),
# BENCH_CREATE_COUNT (2000), BENCH_CREATE_ROUNDS (4), BENCH_CONNECTIONS (8),
# BENCH_REPEATS (3). Takes about 3 minutes on 2 cores.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
BUILD_DIR="${BUILD_DIR:-build}"
BIN="$BUILD_DIR/bin"
OBJECTS="${BENCH_OBJECTS:-10000}"
CREATE_COUNT="${BENCH_CREATE_COUNT:-2000}"
CREATE_ROUNDS="${BENCH_CREATE_ROUNDS:-4}"
CONNECTIONS="${BENCH_CONNECTIONS:-8}"
REPEATS="${BENCH_REPEATS:-3}"
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/kubec2"
CRD="$ROOT/tests/integration/testdata/widgets-crd.json"

log() { echo "bench: $*" >&2; }

# --- build what is missing -------------------------------------------------
targets=()
for t in bench_client_create bench_informer_sync; do
  [ -x "$BIN/$t" ] || targets+=("$t")
done
if ((${#targets[@]})); then
  [ -f "$BUILD_DIR/CMakeCache.txt" ] || cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release >&2
  log "building ${targets[*]}"
  cmake --build "$BUILD_DIR" -j "$(nproc)" --target "${targets[@]}" >&2
fi

# client-go's side: built once per machine (per version of main.go) against
# the vendor/ folder of the Kubernetes source tree that
# hack/control-plane-binaries.sh keeps. GOPATH mode, as Kubernetes 1.20's own
# build does: a throwaway GOPATH whose package has `vendor` linked to the tree's.
build_clientgo() {
  local src="$CACHE/k8s-1.20.2-src" main="$ROOT/bench/clientgo-informer/main.go"
  local hash out tmp
  hash=$(sha256sum "$main" | cut -c1-12)
  out="$CACHE/bench/kubec2-bench-informer-$hash"
  if [ -x "$out" ]; then
    echo "$out"
    return 0
  fi
  if [ ! -d "$src/vendor/k8s.io/client-go" ] || ! command -v go >/dev/null; then
    log "no Kubernetes source tree in $src (or no go): skipping the client-go comparison"
    return 1
  fi
  log "building the client-go informer benchmark (about 1 minute, once)"
  tmp=$(mktemp -d)
  mkdir -p "$tmp/gopath/src/kubec2bench" "$tmp/home" "$CACHE/bench"
  cp "$main" "$tmp/gopath/src/kubec2bench/main.go"
  ln -s "$src/vendor" "$tmp/gopath/src/kubec2bench/vendor"
  if ! (cd "$tmp/gopath/src/kubec2bench" &&
    env GOPATH="$tmp/gopath" GOCACHE="$tmp/gocache" HOME="$tmp/home" CGO_ENABLED=0 \
      GO111MODULE=off GOFLAGS= go build -o "$out.tmp" . >&2); then
    rm -rf "$tmp"
    log "client-go benchmark build failed: skipping the comparison"
    return 1
  fi
  rm -rf "$tmp"
  mv "$out.tmp" "$out"
  echo "$out"
}
CLIENTGO=""
CLIENTGO=$(build_clientgo) || CLIENTGO=""

# --- the machine -----------------------------------------------------------
CPU_MODEL=$(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
NPROC=$(nproc)
MEM_GB=$(awk '/^MemTotal:/ {printf "%.1f", $2 / 1048576}' /proc/meminfo)
MACHINE="$NPROC cores ($CPU_MODEL), $MEM_GB GiB RAM, $(uname -sr); API server and etcd on the same machine"
log "machine: $MACHINE"

# --- the control plane -----------------------------------------------------
[ -x hack/local-cluster.sh ] || { log "hack/local-cluster.sh is missing"; exit 1; }
CLUSTER=$(mktemp -d "${TMPDIR:-/tmp}/kubec2-bench.XXXXXX")
cleanup() {
  hack/local-cluster.sh down "$CLUSTER" >/dev/null 2>&1 || true
  rm -rf "$CLUSTER"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
log "starting a control plane in $CLUSTER"
hack/local-cluster.sh up "$CLUSTER" --parent-pid $$ >&2
KUBECONFIG_FILE="$CLUSTER/kubeconfig"
hack/local-cluster.sh install-crds "$CLUSTER" "$CRD" >&2

# field VALUE from a "key=value ..." line
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<" $2"; }
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (b > 0) printf "%.2f", a / b; else print "n/a"}'; }
mb() { awk -v k="$1" 'BEGIN {printf "%.1f", k / 1024}'; }

# --- 1. create rate --------------------------------------------------------
declare -A CREATE
for size in small 1750; do
  log "create rate, size $size"
  out=$("$BIN/bench_client_create" --kubeconfig "$KUBECONFIG_FILE" --namespace "create" \
    --count "$CREATE_COUNT" --connections "$CONNECTIONS" --size "$size" --rounds "$CREATE_ROUNDS")
  echo "$out" >&2
  line=$(grep '^RESULT create' <<<"$out")
  CREATE[$size.raw]=$(field raw "$line")
  CREATE[$size.client]=$(field client "$line")
  CREATE[$size.ratio]=$(field ratio "$line")
  CREATE[$size.bytes]=$(field bytes "$line")
  CREATE[$size.rawcpu]=$(field raw_cpu_us "$line")
  CREATE[$size.clientcpu]=$(field client_cpu_us "$line")
done

# --- 2. informer sync ------------------------------------------------------
NS=informer
log "creating $OBJECTS widgets of 1750 bytes in $NS"
"$BIN/bench_informer_sync" --kubeconfig "$KUBECONFIG_FILE" --namespace "$NS" \
  --populate "$OBJECTS" --size 1750 --connections "$CONNECTIONS" >&2
K_SYNC=() K_RSS=() K_HWM=() K_DELTA=() K_TRIM=()
G_SYNC=() G_RSS=() G_HWM=() G_DELTA=() G_GC=() G_HEAP=()
for i in $(seq 1 "$REPEATS"); do
  line=$("$BIN/bench_informer_sync" --kubeconfig "$KUBECONFIG_FILE" --namespace "$NS" --measure)
  log "run $i: $line"
  [ "$(field objects "$line")" = "$OBJECTS" ] || { log "kubec2 informer saw the wrong count"; exit 1; }
  K_SYNC+=("$(field sync_ms "$line")")
  K_RSS+=("$(field rss_after_kb "$line")")
  K_HWM+=("$(field hwm_kb "$line")")
  K_DELTA+=($(($(field rss_after_kb "$line") - $(field rss_before_kb "$line"))))
  K_TRIM+=("$(field rss_after_trim_kb "$line")")
  if [ -n "$CLIENTGO" ]; then
    line=$("$CLIENTGO" --kubeconfig "$KUBECONFIG_FILE" --namespace "$NS")
    log "run $i: $line"
    [ "$(field objects "$line")" = "$OBJECTS" ] || { log "client-go informer saw the wrong count"; exit 1; }
    G_SYNC+=("$(field sync_ms "$line")")
    G_RSS+=("$(field rss_after_kb "$line")")
    G_HWM+=("$(field hwm_kb "$line")")
    G_DELTA+=($(($(field rss_after_kb "$line") - $(field rss_before_kb "$line"))))
    G_GC+=("$(field rss_after_gc_kb "$line")")
    G_HEAP+=("$(field heap_inuse_kb "$line")")
  fi
done
ks=$(median "${K_SYNC[@]}") kr=$(median "${K_RSS[@]}") kh=$(median "${K_HWM[@]}")
kd=$(median "${K_DELTA[@]}") kt=$(median "${K_TRIM[@]}")
if [ -n "$CLIENTGO" ]; then
  gs=$(median "${G_SYNC[@]}") gr=$(median "${G_RSS[@]}") gh=$(median "${G_HWM[@]}")
  gd=$(median "${G_DELTA[@]}") gg=$(median "${G_GC[@]}") gheap=$(median "${G_HEAP[@]}")
fi

# --- 3. micro-benchmarks ---------------------------------------------------
MICRO=""
if [ -x "$BIN/bench_micro" ]; then
  log "bench_micro"
  MICRO=$("$BIN/bench_micro" 2>&1) || log "bench_micro failed"
  echo "$MICRO" >&2
fi

# --- summary ---------------------------------------------------------------
cat <<EOF

## Results ($(date -u +%Y-%m-%d))

Machine: $MACHINE.

### Create rate ($CREATE_COUNT objects per run, $CONNECTIONS connections; $CREATE_ROUNDS runs of each, alternating)

| Object | Plain libcurl loop | kube::Client | Client / raw | Target | Client CPU per create (raw / client) |
|---|---:|---:|---:|---:|---:|
| small (${CREATE[small.bytes]} B JSON) | ${CREATE[small.raw]} /s | ${CREATE[small.client]} /s | ${CREATE[small.ratio]}x | >= 0.9x | ${CREATE[small.rawcpu]} / ${CREATE[small.clientcpu]} us |
| 1.75 KB (${CREATE[1750.bytes]} B JSON) | ${CREATE[1750.raw]} /s | ${CREATE[1750.client]} /s | ${CREATE[1750.ratio]}x | >= 0.9x | ${CREATE[1750.rawcpu]} / ${CREATE[1750.clientcpu]} us |

Both sides are bound by the API server and etcd on the same cores; the last
column is the benchmark process's own CPU time per object.

### Informer sync ($OBJECTS objects of 1.75 KB JSON, one namespace; median of $REPEATS fresh processes each)

EOF
if [ -n "$CLIENTGO" ]; then
  cat <<EOF
| Figure | kubec2 Informer<RawObject> | client-go v0.20.2 dynamic informer | kubec2 / client-go | Target |
|---|---:|---:|---:|---:|
| time to hasSynced | $(awk -v v="$ks" 'BEGIN{printf "%.0f", v}') ms | $(awk -v v="$gs" 'BEGIN{printf "%.0f", v}') ms | $(ratio "$ks" "$gs")x | <= 0.5x |
| RSS at sync | $(mb "$kr") MB | $(mb "$gr") MB | $(ratio "$kr" "$gr")x | <= 0.3x |
| RSS growth from start to sync | $(mb "$kd") MB | $(mb "$gd") MB | $(ratio "$kd" "$gd")x | |
| peak RSS (VmHWM) | $(mb "$kh") MB | $(mb "$gh") MB | $(ratio "$kh" "$gh")x | |
| RSS after malloc_trim / forced GC | $(mb "$kt") MB | $(mb "$gg") MB | $(ratio "$kt" "$gg")x | |

RSS is what the kernel charges the process (what a pod's memory limit sees).
For reference, client-go's Go heap in use after a forced GC was $(mb "$gheap") MB:
the rest of its RSS is garbage of the list and Go's heap growth (GOGC=100).

Runs (sync ms / RSS MB), kubec2: $(for i in "${!K_SYNC[@]}"; do printf '%s / %s; ' "${K_SYNC[$i]}" "$(mb "${K_RSS[$i]}")"; done)
client-go: $(for i in "${!G_SYNC[@]}"; do printf '%s / %s; ' "${G_SYNC[$i]}" "$(mb "${G_RSS[$i]}")"; done)
EOF
else
  cat <<EOF
| Figure | kubec2 Informer<RawObject> |
|---|---:|
| time to hasSynced | $ks ms |
| RSS at sync | $(mb "$kr") MB |
| peak RSS (VmHWM) | $(mb "$kh") MB |

(client-go comparison skipped: no Kubernetes source tree to build it from.)
EOF
fi
if [ -n "$MICRO" ]; then
  printf '\n### Micro-benchmarks (bench_micro)\n\n```\n%s\n```\n' "$MICRO"
fi
