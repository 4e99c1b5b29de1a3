# The two commands a user needs: `make demo` and `make test`.
# Both install what is missing (hack/install-deps.sh), build, and need nothing
# done by hand on a fresh Debian 12 machine.
BUILD_DIR ?= build
JOBS ?= $(shell nproc)

.PHONY: all deps build test unit integration demo run sandbox-up sandbox-down bench bench-instances bench-scaling-groups bench-scaling-cost bench-health-check reliability format clean control-plane generate

all: build

deps:
	@hack/install-deps.sh

$(BUILD_DIR)/CMakeCache.txt: | deps
	cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=Release

build: deps $(BUILD_DIR)/CMakeCache.txt
	cmake --build $(BUILD_DIR) -j $(JOBS)

# Rewrites crds/ and api/v1alpha1/types.{h,cpp} from api/v1alpha1/*.yaml
# (tools/apigen); commit the result.
generate: deps $(BUILD_DIR)/CMakeCache.txt
	cmake --build $(BUILD_DIR) --target generate

control-plane: deps
	@hack/control-plane-binaries.sh >/dev/null

test: build control-plane
	cd $(BUILD_DIR) && ctest --output-on-failure -j 1 --timeout 900

unit: build
	cd $(BUILD_DIR) && ctest --output-on-failure -L unit

integration: build control-plane
	cd $(BUILD_DIR) && ctest --output-on-failure -L integration --timeout 900

# The reliability suite at full size (issue 15, docs/reliability.md): the
# same tests `make test` runs in their short form.
reliability: build control-plane
	cd $(BUILD_DIR) && KUBEC2_RELIABILITY_SIZE=full ctest --output-on-failure -L reliability --timeout 7200

# Sanitizers and fuzzing (issue 15, docs/reliability.md): clang builds in
# $(BUILD_DIR)/asan and $(BUILD_DIR)/tsan (hack/sanitizer-build.sh), every
# unit and integration test under ASan+UBSan, the runtime's concurrency
# tests and integration tests under TSan, each fuzzer FUZZ_SECONDS long.
# `make test` runs a short form of each (tests/reliability/fuzzing.cmake).
.PHONY: asan tsan fuzz
FUZZ_SECONDS ?= 300
asan: deps control-plane
	tests/reliability/fuzzing.sh asan $(BUILD_DIR)
tsan: deps control-plane
	tests/reliability/fuzzing.sh tsan $(BUILD_DIR)
fuzz: deps
	hack/sanitizer-build.sh asan $(BUILD_DIR)/asan fuzzers
	tests/fuzz/run.sh $(BUILD_DIR)/asan/bin $(FUZZ_SECONDS)

# The whole system live: the web tier scaling out and in (hack/demo.sh).
# Without a terminal, or with DEMO_NONINTERACTIVE=1, it checks the scenario
# and exits non-zero if the group did not scale out and back in.
demo: build control-plane
	@hack/demo.sh

# The operator against the current kubeconfig (KUBECONFIG or ~/.kube/config),
# in the foreground, without its webhook (install deploy/ for that). Leader
# election on: beside an operator already running there, it waits as a
# standby instead of acting twice. PROMETHEUS_URL sets --prometheus-url;
# ARGS adds any other flag (ARGS="--namespace shop --log-level debug").
run: build
	$(BUILD_DIR)/bin/kubec2-operator --webhook-bind-address 0 --leader-elect \
	  $(if $(PROMETHEUS_URL),--prometheus-url $(PROMETHEUS_URL),) $(ARGS)

# The demo's stack left running (control plane, simulator, Prometheus,
# operator) in KUBEC2_DEMO_DIR (default /tmp/kubec2-demo); sandbox-down stops it.
sandbox-up: build control-plane
	@hack/sandbox.sh up
sandbox-down:
	@hack/sandbox.sh down

bench: build control-plane
	@hack/bench.sh

bench-instances: build control-plane
	@bench/instance-launch.sh

bench-scaling-groups: build control-plane
	@bench/scaling-group.sh

# 1,000 ScalingGroups' target tracking against a real Prometheus (issue 12):
# queries per evaluation, operator CPU, evaluation latency (about 12 minutes).
bench-scaling-cost: build control-plane
	@bench/scaling-cost.sh

# 10,000 targets' health checks (issue 13) against the simulator's listeners,
# no API server: checks/s, prober CPU, latency, against a naive prober (about 2.5 minutes).
bench-health-check: build
	$(BUILD_DIR)/bin/bench_health_check

format:
	find runtime controllers reconcilers api tests bench tools -name '*.cpp' -o -name '*.h' | xargs clang-format -i

clean:
	rm -rf $(BUILD_DIR)
