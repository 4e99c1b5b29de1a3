#!/usr/bin/env bash
# Configures (once) and builds a clang sanitizer build of kubec2 (issue 15,
# docs/reliability.md):
#   hack/sanitizer-build.sh asan DIR [TARGET...]  ASan+UBSan, with the libFuzzer targets
#   hack/sanitizer-build.sh tsan DIR [TARGET...]  ThreadSanitizer
# Without targets it builds everything. -O1 and line tables only, as
# OSS-Fuzz builds (readable stack traces at half -O2 -g's compile time), and
# without NDEBUG, so that assert()s (nlohmann::json's among them) check too.
# KUBEC2_SANITIZER_OPT=-O0 compiles in 45 % of the CPU time (what `make
# test`'s short sanitizer runs use, in dirs of their own; fuzzing wants -O1).
# CMAKE_CXX_COMPILER_LAUNCHER (ccache) is passed on when set in the
# environment; JOBS sets the parallelism (default: the cores).
set -euo pipefail

kind=${1:?usage: $0 asan|tsan DIR [TARGET...]}
dir=${2:?usage: $0 asan|tsan DIR [TARGET...]}
shift 2
src=$(cd "$(dirname "$0")/.." && pwd)

case "$kind" in
  asan) opts=(-DKUBEC2_SANITIZE=address,undefined -DKUBEC2_FUZZ=ON) ;;
  tsan) opts=(-DKUBEC2_SANITIZE=thread -DKUBEC2_FUZZ=OFF) ;;
  *) echo "$0: unknown kind $kind (asan or tsan)" >&2; exit 2 ;;
esac

if ! command -v clang++ >/dev/null; then
  echo "$0: clang++ is missing; run hack/install-deps.sh" >&2
  exit 1
fi

launcher=()
[ -n "${CMAKE_CXX_COMPILER_LAUNCHER:-}" ] &&
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER="$CMAKE_CXX_COMPILER_LAUNCHER")

if [ ! -f "$dir/CMakeCache.txt" ]; then
  cmake -S "$src" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="${KUBEC2_SANITIZER_OPT:--O1} -gline-tables-only" "${opts[@]}" \
    "${launcher[@]}" >/dev/null
fi

targets=()
for t in "$@"; do targets+=(--target "$t"); done
cmake --build "$dir" -j "${JOBS:-$(nproc)}" "${targets[@]}"
