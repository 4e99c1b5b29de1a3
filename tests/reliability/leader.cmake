# Leader election with two operator processes (kill -9, SIGSTOP) and the
# admission webhook down (failurePolicy): docs/reliability.md, "Leader
# election" and "Webhook down". One binary, one control plane with an audit
# log (tests/reliability/testdata/leader-audit-policy.yaml), the KubeVirt
# simulator and kubec2-operator child processes.
add_executable(reliability_leader
  ${CMAKE_CURRENT_SOURCE_DIR}/leader_test.cpp
  ${PROJECT_SOURCE_DIR}/tests/integration/webhook_env.cpp
  ${PROJECT_SOURCE_DIR}/tests/integration/operator_process.cpp)
target_link_libraries(reliability_leader PRIVATE kubec2_control_plane kubec2_runtime kubec2_warnings
  GTest::gtest CURL::libcurl)
target_compile_definitions(reliability_leader PRIVATE
  KUBEC2_OPERATOR_BIN="$<TARGET_FILE:kubec2-operator>"
  KUBEC2_SIM_BIN="$<TARGET_FILE:kubec2-kubevirt-sim>")
add_dependencies(reliability_leader kubec2-operator kubec2-kubevirt-sim)
add_test(NAME reliability_leader COMMAND reliability_leader)
# Short form ~3 min (3 kills, one SIGSTOP, the webhook down); the full form
# (KUBEC2_RELIABILITY_SIZE=full: 20 kills) ~10 min.
set_tests_properties(reliability_leader PROPERTIES LABELS "reliability;integration" TIMEOUT 1500)
