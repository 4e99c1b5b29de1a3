# Crash consistency and control-plane restarts (issue 15; docs/reliability.md,
# "Crash consistency"): the operator binary kill -9'd at random moments of a
# scale-out, an instance refresh and a scale-in, and kube-apiserver and etcd
# restarted in the middle of a scale-out, on a real control plane with
# KubeVirt's CRDs and the KubeVirt simulator. KUBEC2_RELIABILITY_SIZE=full
# (make reliability) runs the issue's sizes; KUBEC2_RELIABILITY_SEED replays
# a run's kill moments (each run prints its seed).
set(KUBEC2_CRASH_IT ${PROJECT_SOURCE_DIR}/tests/integration)
add_executable(reliability_crash
  ${CMAKE_CURRENT_LIST_DIR}/crash_main.cpp
  ${CMAKE_CURRENT_LIST_DIR}/crash_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/crash_restart_test.cpp
  ${KUBEC2_CRASH_IT}/webhook_env.cpp
  ${KUBEC2_CRASH_IT}/operator_process.cpp)
target_link_libraries(reliability_crash PRIVATE kubec2_control_plane kubec2_runtime kubec2_warnings
  GTest::gtest CURL::libcurl)
target_compile_definitions(reliability_crash PRIVATE
  KUBEC2_OPERATOR_BIN="$<TARGET_FILE:kubec2-operator>"
  KUBEC2_SIM_BIN="$<TARGET_FILE:kubec2-kubevirt-sim>")
add_dependencies(reliability_crash kubec2-operator kubec2-kubevirt-sim)
add_test(NAME reliability_crash COMMAND reliability_crash)
# The short form takes about 4 minutes on 2 shared cores, the full form
# (make reliability) about an hour. ctest's --timeout does not override a
# TIMEOUT property, so this one covers the full form; every wait in the
# tests has its own deadline, so a hang in the short form still fails early.
set_tests_properties(reliability_crash PROPERTIES LABELS "reliability;integration" TIMEOUT 5400)
