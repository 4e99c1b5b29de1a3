# The local control plane's starts (issue 15; docs/reliability.md, "The local
# control plane's starts"): hack/local-cluster.sh up, status and down, again
# and again, every failed start kept with its logs. `make test`: 10 starts in
# one loop (about 50 s on an idle machine); `make reliability`
# (KUBEC2_RELIABILITY_SIZE=full): 200 starts in two loops side by side.
add_test(NAME reliability_control_plane_starts
         COMMAND ${PROJECT_SOURCE_DIR}/tests/reliability/control-plane-starts.sh)
# The timeout covers the full size on a busy 2-core machine (about 35 s a
# start there, two at a time); the short form takes a few minutes at worst.
set_tests_properties(reliability_control_plane_starts
                     PROPERTIES LABELS "reliability;integration" TIMEOUT 7200)
