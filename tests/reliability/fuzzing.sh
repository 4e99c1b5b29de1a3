#!/usr/bin/env bash
# The ctest entries of the fuzzing and sanitizer part of the reliability
# suite (tests/reliability/fuzzing.cmake): each builds, if needed, a clang
# sanitizer build inside the default build dir and runs there.
#   fuzzing.sh fuzz       BUILD_DIR  libFuzzer targets over their corpora (ASan+UBSan+LSan)
#   fuzzing.sh asan-unit  BUILD_DIR  runtime unit tests under ASan+UBSan
#   fuzzing.sh tsan-unit  BUILD_DIR  the runtime's concurrency tests under ThreadSanitizer
# and the make targets' full runs:
#   fuzzing.sh asan BUILD_DIR  (`make asan`) every unit and integration test under ASan+UBSan
#   fuzzing.sh tsan BUILD_DIR  (`make tsan`) the runtime's concurrency tests and its
#                              integration tests (informer, leader election, client,
#                              the operator binary) under TSan
# Size: 20 s per fuzzer in `make test`, 300 s under `make reliability`
# (KUBEC2_RELIABILITY_SIZE=full). `make test`'s short form compiles at -O0
# in build dirs of its own (asan-quick, tsan-quick: 6 minutes less of
# compiling on 2 cores); the full form and the make targets at -O1 in asan,
# tsan.
set -euo pipefail

usage="usage: $0 fuzz|asan-unit|tsan-unit|asan|tsan BUILD_DIR"
mode=${1:?$usage}
build=${2:?$usage}
src=$(cd "$(dirname "$0")/../.." && pwd)
full=0
[ "${KUBEC2_RELIABILITY_SIZE:-}" = full ] && full=1

# Any finding ends the test binary with an error.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:halt_on_error=1:abort_on_error=1}
# The suppression files name false positives at cpprestsdk's library
# boundary, and say why.
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1:suppressions=$src/tests/reliability/ubsan.supp}
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1:suppressions=$src/tests/reliability/tsan.supp}

# Builds quietly; on failure shows the end of the build's log.
build() {
  local log=$build/$1-build.log
  if ! "$src/hack/sanitizer-build.sh" "$@" >"$log" 2>&1; then
    tail -n 60 "$log" >&2
    exit 1
  fi
}

# The ctest entries' short form (fuzz, asan-unit, tsan-unit without full).
quick=-quick
short_form() { [ $full = 0 ] && export KUBEC2_SANITIZER_OPT=-O0 || quick=""; }

case "$mode" in
  fuzz)
    short_form
    build asan "$build/asan$quick" fuzzers
    exec "$src/tests/fuzz/run.sh" "$build/asan$quick/bin" "$([ $full = 1 ] && echo 300 || echo 20)"
    ;;
  asan-unit | tsan-unit)
    kind=${mode%-unit}
    short_form
    tests=runtime_unit_tests
    [ "$kind" = tsan ] && tests=runtime_concurrency_tests
    build "$kind" "$build/$kind$quick" "$tests"
    exec "$build/$kind$quick/bin/$tests" --gtest_brief=1
    ;;
  asan)
    "$src/hack/sanitizer-build.sh" asan "$build/asan"
    cd "$build/asan"
    # ASan's frames are several times larger: JSON nested 10000 deep (as the
    # API server accepts; ValidationRobustness) overflows 8 MiB there.
    ulimit -s 65536
    # The Dockerfile check compares the operator's libraries with the
    # runtime image's packages: the sanitizer runtimes are not among them.
    exec ctest --output-on-failure -L 'unit|integration' -E '^dockerfile_runtime_libraries$' \
      --timeout 1800
    ;;
  tsan)
    "$src/hack/sanitizer-build.sh" tsan "$build/tsan" runtime_concurrency_tests integration_runtime
    "$build/tsan/bin/runtime_concurrency_tests" --gtest_brief=1
    cd "$build/tsan"
    exec ctest --output-on-failure -R '^integration_runtime$' --timeout 1800
    ;;
  *)
    echo "$usage" >&2
    exit 2
    ;;
esac
