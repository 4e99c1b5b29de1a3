# Sanitizer and fuzzing builds (issue 15, docs/reliability.md). Both are off
# in the default build; hack/sanitizer-build.sh configures a clang build dir
# with them (`make asan`, `make tsan`, `make fuzz`).
#
# KUBEC2_SANITIZE: a -fsanitize= list for every target, dependencies built
# here included: "address,undefined" or "thread". Any finding aborts the
# process (-fno-sanitize-recover=all), so a test that trips one fails.
# KUBEC2_FUZZ (clang): adds the libFuzzer targets of tests/fuzz/ and the
# coverage instrumentation they need in the libraries (fuzzer-no-link).
set(KUBEC2_SANITIZE "" CACHE STRING "Sanitizers for every target: address,undefined or thread")
option(KUBEC2_FUZZ "Build the libFuzzer targets of tests/fuzz (clang)" OFF)

if(KUBEC2_SANITIZE)
  add_compile_options(-fsanitize=${KUBEC2_SANITIZE} -fno-sanitize-recover=all -fno-omit-frame-pointer)
  add_link_options(-fsanitize=${KUBEC2_SANITIZE})
endif()
if(KUBEC2_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "KUBEC2_FUZZ needs clang (libFuzzer): -DCMAKE_CXX_COMPILER=clang++")
  endif()
  add_compile_options(-fsanitize=fuzzer-no-link)
endif()
