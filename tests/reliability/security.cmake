# Security (docs/reliability.md "Security"): the RBAC of deploy/ and the Helm
# chart against controllers/api-requests.txt and the API server's audit log
# of a run under it; TLS verification; no secret in logs or Events; the
# hardened container; the webhook's client certificate. Its own control
# plane: kube-apiserver with an audit policy and an admission configuration
# that gives webhook calls a client certificate. About 1.5 minutes; the
# same size under `make reliability` (one run proves each point).
add_executable(reliability_security ${CMAKE_CURRENT_LIST_DIR}/security_test.cpp
               ${CMAKE_CURRENT_LIST_DIR}/security_main.cpp
               ${PROJECT_SOURCE_DIR}/tests/integration/webhook_env.cpp
               ${PROJECT_SOURCE_DIR}/tests/integration/operator_process.cpp)
target_link_libraries(reliability_security PRIVATE kubec2_control_plane kubec2_runtime
                      kubec2_warnings GTest::gtest CURL::libcurl)
target_include_directories(reliability_security PRIVATE ${PROJECT_SOURCE_DIR})
target_compile_definitions(reliability_security PRIVATE
  KUBEC2_OPERATOR_BIN="$<TARGET_FILE:kubec2-operator>"
  KUBEC2_SIM_BIN="$<TARGET_FILE:kubec2-kubevirt-sim>")
add_dependencies(reliability_security kubec2-operator kubec2-kubevirt-sim)
add_test(NAME reliability_security COMMAND reliability_security)
set_tests_properties(reliability_security PROPERTIES LABELS "reliability;integration" TIMEOUT 600)
