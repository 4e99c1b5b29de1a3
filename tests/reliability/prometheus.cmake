# Prometheus outages and garbage answers at peak (docs/reliability.md): the
# operator binary, a real control plane with the compute and KubeVirt CRDs,
# the KubeVirt simulator, a real Prometheus, and a fault proxy in the test
# between the operator and Prometheus (prometheus_fault_proxy.h). Short
# form in `make test` (about 5 minutes); KUBEC2_RELIABILITY_SIZE=full holds
# each fault longer than the scale-in wait, 3 rounds (about 23 minutes):
# the TIMEOUT fits the full form.
add_executable(reliability_prometheus
  ${CMAKE_CURRENT_SOURCE_DIR}/prometheus_outage_test.cpp
  ${PROJECT_SOURCE_DIR}/tests/integration/webhook_env.cpp
  ${PROJECT_SOURCE_DIR}/tests/integration/operator_process.cpp
  ${PROJECT_SOURCE_DIR}/tests/integration/main.cpp)
target_link_libraries(reliability_prometheus PRIVATE kubec2_control_plane kubec2_runtime kubec2_api
  kubec2_webhook kubec2_warnings GTest::gtest CURL::libcurl)
target_compile_definitions(reliability_prometheus PRIVATE KUBEC2_WATCH_CACHE=1
  KUBEC2_COMPUTE_CRDS=1 KUBEC2_WEBHOOK_ENV=1 KUBEC2_KUBEVIRT_CRDS=1
  KUBEC2_OPERATOR_BIN="$<TARGET_FILE:kubec2-operator>"
  KUBEC2_SIM_BIN="$<TARGET_FILE:kubec2-kubevirt-sim>")
add_dependencies(reliability_prometheus kubec2-operator kubec2-kubevirt-sim)
add_test(NAME reliability_prometheus COMMAND reliability_prometheus)
set_tests_properties(reliability_prometheus PROPERTIES LABELS "reliability;integration"
  TIMEOUT 2700)
