# Fuzzing and sanitizers (issue 15; docs/reliability.md, tests/fuzz/README.md).
#
# In a sanitizer build (cmake/sanitizers.cmake): the libFuzzer targets;
# runtime_unit_tests, the runtime's own unit tests (and the prober's)
# without the rest of the operator, which CI runs under ASan+UBSan; and
# runtime_concurrency_tests, those of them with threads, which it runs under
# TSan.
#
# In the default build: ctest entries that build a clang sanitizer build
# inside this build dir (asan/, tsan/; hack/sanitizer-build.sh) and run
# there, at CI size in `make test`, at full size under `make reliability`.
if(KUBEC2_FUZZ)
  add_subdirectory(${PROJECT_SOURCE_DIR}/tests/fuzz ${CMAKE_BINARY_DIR}/tests/fuzz)
endif()

if(KUBEC2_SANITIZE)
  set(KUBEC2_RUNTIME_UNIT_TESTS
      config_test controller_test events_test expectations_test fake_client_test finalizers_test
      health_server_test http_transport_test json_scan_test leader_election_test log_test
      manager_test optional_api_test patch_test prometheus_client_test runnable_test selector_test
      store_test timefmt_test watch_decoder_test workqueue_test yaml_test
      prober_test)  # the prober's test serves from the simulator's HTTP listeners
  list(TRANSFORM KUBEC2_RUNTIME_UNIT_TESTS PREPEND ${PROJECT_SOURCE_DIR}/tests/unit/)
  list(TRANSFORM KUBEC2_RUNTIME_UNIT_TESTS APPEND .cpp)
  add_executable(runtime_unit_tests ${KUBEC2_RUNTIME_UNIT_TESTS})
  target_link_libraries(runtime_unit_tests PRIVATE kubec2_kubevirt_sim kubec2_runtime kubec2_warnings
                                                   Boost::headers Boost::system GTest::gtest_main GTest::gmock)
  target_compile_definitions(runtime_unit_tests PRIVATE KUBEC2_SOURCE_DIR="${PROJECT_SOURCE_DIR}")

  # The runtime's tests with threads in them, for TSan in CI: the work
  # queue, controller, manager, leader election, prober, periodic runnables,
  # the informer's store, events and the health server.
  set(KUBEC2_CONCURRENCY_TESTS
      workqueue_test controller_test manager_test leader_election_test prober_test runnable_test
      store_test events_test health_server_test fake_client_test expectations_test)
  list(TRANSFORM KUBEC2_CONCURRENCY_TESTS PREPEND ${PROJECT_SOURCE_DIR}/tests/unit/)
  list(TRANSFORM KUBEC2_CONCURRENCY_TESTS APPEND .cpp)
  add_executable(runtime_concurrency_tests ${KUBEC2_CONCURRENCY_TESTS})
  target_link_libraries(runtime_concurrency_tests PRIVATE kubec2_kubevirt_sim kubec2_runtime
                        kubec2_warnings Boost::headers Boost::system GTest::gtest_main GTest::gmock)
endif()

# In `make test` (CI) at their short size: each fuzzer for 20 s, the
# runtime's unit tests under ASan+UBSan and its concurrency tests under TSan
# (docs/reliability.md, "Fuzzing" and "Sanitizers": the fastest meaningful
# subset; `make asan` and `make tsan` run the rest). The two clang builds
# they need take about 13 minutes from nothing on 2 cores, in the first
# entry of each kind, hence the timeouts. -DKUBEC2_SANITIZER_TESTS=OFF
# leaves them out (a machine without clang).
option(KUBEC2_SANITIZER_TESTS "register the fuzz and sanitizer runs as ctest entries" ON)
if(KUBEC2_SANITIZER_TESTS AND NOT KUBEC2_SANITIZE)
  set(script ${CMAKE_CURRENT_LIST_DIR}/fuzzing.sh)
  add_test(NAME fuzzers COMMAND ${script} fuzz ${CMAKE_BINARY_DIR})
  add_test(NAME asan_runtime_unit_tests COMMAND ${script} asan-unit ${CMAKE_BINARY_DIR})
  add_test(NAME tsan_runtime_concurrency_tests COMMAND ${script} tsan-unit ${CMAKE_BINARY_DIR})
  set_tests_properties(fuzzers asan_runtime_unit_tests tsan_runtime_concurrency_tests
                       PROPERTIES LABELS "reliability;sanitizers" TIMEOUT 3600 RUN_SERIAL TRUE)
endif()
