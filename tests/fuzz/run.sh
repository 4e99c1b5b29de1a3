#!/usr/bin/env bash
# Runs the libFuzzer targets over their committed corpora (tests/fuzz/README.md).
#   tests/fuzz/run.sh BIN_DIR SECONDS [TARGET...]
# BIN_DIR holds the fuzzers (hack/sanitizer-build.sh asan DIR fuzzers; DIR/bin).
# Every target runs SECONDS with ASan, UBSan and LeakSanitizer; an input
# that crashes, leaks, trips a sanitizer or runs over 10 s fails the run
# and is saved as BIN_DIR/../fuzz-artifacts/<target>-crash-... (or leak-,
# timeout-, oom-) to replay with `BIN_DIR/<target> <file>`.
# New inputs go to a scratch folder, so the committed corpus is only read;
# KUBEC2_FUZZ_MERGE=1 instead rewrites tests/fuzz/corpus/<target> as the
# minimal set of old and new inputs that keeps the coverage (-merge=1).
# Prints one line per target: executions, seconds, corpus, outcome.
set -uo pipefail

bin=${1:?usage: $0 BIN_DIR SECONDS [TARGET...]}
seconds=${2:?usage: $0 BIN_DIR SECONDS [TARGET...]}
shift 2
here=$(cd "$(dirname "$0")" && pwd)
targets=("$@")
((${#targets[@]})) || targets=(watch_decoder_fuzz kubeconfig_fuzz cron_fuzz prometheus_response_fuzz
  admission_review_fuzz sim_control_fuzz)

artifacts=$(cd "$bin/.." && pwd)/fuzz-artifacts
mkdir -p "$artifacts"
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
# Any sanitizer report ends the process with an error; leaks are checked
# after every input that allocated more than it freed (libFuzzer's default
# with ASan, spelled out).
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:halt_on_error=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}

failed=0
for t in "${targets[@]}"; do
  corpus=$here/corpus/$t
  new=$scratch/$t
  log=$artifacts/$t.log
  mkdir -p "$new" "$corpus"
  dict=$here/${t}.dict
  [ -f "$dict" ] || dict=$here/json.dict
  start=$(date +%s)
  "$bin/$t" "$new" "$corpus" -dict="$dict" -max_total_time="$seconds" -timeout=10 \
    -rss_limit_mb=2048 -detect_leaks=1 -print_final_stats=1 -artifact_prefix="$artifacts/$t-" \
    >"$log" 2>&1
  rc=$?
  elapsed=$(($(date +%s) - start))
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  if [ "${KUBEC2_FUZZ_MERGE:-0}" = 1 ] && [ $rc = 0 ]; then
    min=$scratch/$t.min
    mkdir -p "$min"
    "$bin/$t" -merge=1 "$min" "$corpus" "$new" >>"$log" 2>&1 &&
      rm -f "$corpus"/* && cp "$min"/* "$corpus"/
  fi
  files=$(find "$corpus" -type f | wc -l)
  bytes=$(du -sb "$corpus" | cut -f1)
  if [ $rc = 0 ]; then
    outcome=clean
  else
    outcome="FAILED (exit $rc; $log)"
    failed=1
    grep -E "^(==[0-9]+==ERROR|SUMMARY|.*runtime error|artifact_prefix)" "$log" | head -5 >&2
  fi
  printf '%-26s %10s execs %4ss  corpus %3s files %7s bytes  %s\n' "$t" "${execs:-?}" \
    "$elapsed" "$files" "$bytes" "$outcome"
done
exit $failed
