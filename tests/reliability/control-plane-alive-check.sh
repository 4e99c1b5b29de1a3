#!/usr/bin/env bash
# Asks hack/local-cluster.sh's own `alive` about servers it has just started,
# over and over during their first 60 ms (the moments around their execve),
# and counts the starts for which it answered "not running" although the
# server ran: the false answer that failed a start of the local control
# plane now and then (docs/reliability.md, "The local control plane's
# starts").
#
#   tests/reliability/control-plane-alive-check.sh [STARTS] [SCRIPT]
#
# STARTS defaults to 400; SCRIPT to hack/local-cluster.sh (pass an older
# copy to see the false answers it gave). Each start runs the real
# kube-controller-manager binary with a kubeconfig that does not exist, so
# it runs for a moment and then exits. Exit status 1 when `alive` was ever
# wrong. Run it with `nice` beside a busy machine: the window inside execve
# widens when the CPU is busy.
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
starts="${1:-400}"
script="${2:-$HERE/../../hack/local-cluster.sh}"
# The folder must be on our own command line, as it is on `up`'s: until its
# execve, a child started with & shows its parent's command line.
if [ -z "${3:-}" ]; then
  exec "$0" "$starts" "$script" "$(mktemp -d "${TMPDIR:-/tmp}/kubec2-alive-XXXXXX")"
fi
dir="$3"
# The script's functions, without its subcommand dispatch, its strict mode
# and its ERR trap (a false `alive` is what is being counted here).
eval "$(sed '/^case "\${1:-}" in/,$d' "$script" | sed 's/^set -Eeuo pipefail//; s/^trap .*ERR$//')"
kcm="$("$(dirname "$script")/control-plane-binaries.sh")/kube-controller-manager"

wrong=0 checks=0
for ((i = 1; i <= starts; i++)); do
  start_proc "$dir" probe "$kcm" --kubeconfig="$dir/none" --port=0 --secure-port=0 --cert-dir="$dir/c"
  pid="$(cat "$dir/probe.pid")"
  t_end=$(($(date +%s%N) + 60000000)) bad=0
  while (($(date +%s%N) < t_end)); do
    checks=$((checks + 1))
    # "Not running" is wrong only if the process still runs after the answer.
    alive "$dir" probe || { is_running "$pid" && bad=1; }
  done
  if ((bad)); then
    wrong=$((wrong + 1))
    echo "start $i: alive said 'not running' for running process $pid" >&2
  fi
  kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
done
rm -rf "$dir"
echo "$script: $starts starts, $checks checks of alive in their first 60 ms, wrong for $wrong"
((wrong == 0))
