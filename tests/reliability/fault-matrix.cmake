# Faults below the API server (docs/reliability.md, "Faults below the API
# server"): every controller faces 409, 500, 429 with Retry-After and
# timeouts at each of its calls in turn (tests/unit/fault_matrix_test.cpp).
# The matrix is the same at both sizes: it runs in simulated time, about a
# minute on 2 shared cores. The unit entries of unit_tests leave it out
# (tests/unit/CMakeLists.txt), so `make test` runs it once.
add_test(NAME reliability_fault_matrix COMMAND unit_tests --gtest_filter=FaultMatrix.*)
set_tests_properties(reliability_fault_matrix PROPERTIES LABELS "reliability;unit" TIMEOUT 600)
