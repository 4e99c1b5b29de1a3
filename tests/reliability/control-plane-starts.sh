#!/usr/bin/env bash
# Starts and stops the local control plane (hack/local-cluster.sh) many times
# and records every start that fails, with its logs: the evidence behind
# "The local control plane's starts" in docs/reliability.md.
#
#   tests/reliability/control-plane-starts.sh [-n STARTS] [-j LOOPS] [-o OUT] [--retry]
#
#   -n STARTS  starts in all (default 10; 200 when KUBEC2_RELIABILITY_SIZE=full)
#   -j LOOPS   loops run side by side, each its own control planes, so that
#              starts race each other for ports and CPU as on a shared CI
#              machine (default 1; 2 when KUBEC2_RELIABILITY_SIZE=full)
#   -o OUT     where the record goes (default: a new folder under TMPDIR):
#              OUT/starts.tsv (one line per start: loop, number, try, result,
#              milliseconds, first failure line), OUT/failed-L-N/ (the
#              failing start's folder: every server's log, its stderr)
#   --retry    retry a failed start once in a new folder, as the integration
#              tests' fixture does (counts first-attempt failures and
#              double failures separately)
#   Without -o, the record folder is removed when no start failed.
#   LOCAL_CLUSTER=path  the script under test (default: hack/local-cluster.sh)
#
# Each start is a full `up` (etcd, kube-apiserver, kube-controller-manager,
# the default namespace) followed by `status` and `down`. Exit status 0 when
# no start failed (with --retry: no start failed twice), 1 otherwise; the
# summary line goes to stdout.
set -Eeuo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
CLUSTER="${LOCAL_CLUSTER:-$ROOT/hack/local-cluster.sh}"

full=0
[ "${KUBEC2_RELIABILITY_SIZE:-}" = full ] && full=1
starts=$((full ? 200 : 10))
loops=$((full ? 2 : 1))
out=""
retry=0
while (($#)); do
  case "$1" in
  -n) starts="${2:?-n needs a number}"; shift ;;
  -j) loops="${2:?-j needs a number}"; shift ;;
  -o) out="${2:?-o needs a folder}"; shift ;;
  --retry) retry=1 ;;
  *) sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
  esac
  shift
done
own_out=0
if [ -z "$out" ]; then
  out="$(mktemp -d "${TMPDIR:-/tmp}/kubec2-cp-starts.XXXXXX")"
  own_out=1
fi
mkdir -p "$out"
: >"$out/starts.tsv"

log() { echo "control-plane-starts: $*" >&2; }

# attempt LOOP N TRY: one up/status/down; appends its line to starts.tsv.
attempt() {
  local loop="$1" n="$2" try="$3" dir t0 ms result=ok why=""
  dir="$(mktemp -d "${TMPDIR:-/tmp}/kubec2-cp-start-XXXXXX")"
  t0="$(date +%s%3N)"
  if ! "$CLUSTER" up "$dir" --parent-pid $$ >/dev/null 2>"$out/up-$loop-$n-$try.err"; then
    result=failed
  elif ! "$CLUSTER" status "$dir" 2>>"$out/up-$loop-$n-$try.err"; then
    result=failed
  fi
  ms=$(($(date +%s%3N) - t0))
  if [ "$result" = failed ]; then
    # The first line the script wrote about the failure says its cause.
    why="$(grep -m1 -E "exited|timed out|failed|lost|not running|not ok" "$out/up-$loop-$n-$try.err" || true)"
    KEEP=1 "$CLUSTER" down "$dir" >/dev/null 2>&1 || true
    mv "$out/up-$loop-$n-$try.err" "$dir/up.stderr"
    mv "$dir" "$out/failed-$loop-$n-$try"
    log "loop $loop start $n (try $try) FAILED after $ms ms: $why (kept in $out/failed-$loop-$n-$try)"
  else
    "$CLUSTER" down "$dir" 2>>"$out/up-$loop-$n-$try.err" || log "down $dir failed"
    rm -f "$out/up-$loop-$n-$try.err"
  fi
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$loop" "$n" "$try" "$result" "$ms" "$why" >>"$out/starts.tsv"
  [ "$result" = ok ]
}

run_loop() {
  local loop="$1" count="$2" n
  for ((n = 1; n <= count; n++)); do
    attempt "$loop" "$n" 1 && continue
    ((retry)) || continue
    attempt "$loop" "$n" 2 || true
  done
}

log "$starts starts in $loops loop(s) side by side; record in $out"
pids=()
for ((l = 1; l <= loops; l++)); do
  count=$((starts / loops + (l <= starts % loops ? 1 : 0)))
  run_loop "$l" "$count" &
  pids+=($!)
done
trap 'kill "${pids[@]}" 2>/dev/null || true' INT TERM
for p in "${pids[@]}"; do wait "$p" || true; done

total="$(awk -F'\t' '$3 == 1' "$out/starts.tsv" | wc -l)"
first="$(awk -F'\t' '$3 == 1 && $4 == "failed"' "$out/starts.tsv" | wc -l)"
double="$(awk -F'\t' '$3 == 2 && $4 == "failed"' "$out/starts.tsv" | wc -l)"
median="$(awk -F'\t' '$4 == "ok" { print $5 }' "$out/starts.tsv" | sort -n |
  awk '{ a[NR] = $1 } END { if (NR) print a[int((NR + 1) / 2)]; else print "-" }')"
slowest="$(awk -F'\t' '$4 == "ok" { print $5 }' "$out/starts.tsv" | sort -n | tail -n1)"
echo "starts: $total, failed: $first$( ((retry)) && echo ", failed again on retry: $double"), median up+down: ${median} ms, slowest: ${slowest:--} ms, record: $out"
if ((retry)); then ok=$((double == 0)); else ok=$((first == 0)); fi
# A record folder of our own making goes when there is nothing in it to look at.
((ok && own_out && first == 0)) && rm -rf "$out"
((ok))
