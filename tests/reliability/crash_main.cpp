// main() of reliability_crash: one control plane with the compute CRDs and
// KubeVirt's CRDs (as integration_compute's), then the KubeVirt simulator
// and the operator under test (crash_harness.h) for all of its tests.
#include <algorithm>
#include <filesystem>

#include <gtest/gtest.h>

#include "runtime/http_transport.h"
#include "tests/integration/control_plane.h"
#include "tests/integration/crds.h"
#include "tests/reliability/crash_harness.h"

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  kube::globalInit();
  kube::testing::ControlPlaneOptions opts;
  opts.crds = kube::testing::computeCrdFiles();
  const auto kubevirt = kube::testing::kubevirtCrdFiles();
  opts.crds.insert(opts.crds.end(), kubevirt.begin(), kubevirt.end());
  kube::testing::crash::runSeed();  // printed before the first test
  ::testing::AddGlobalTestEnvironment(new kube::testing::ControlPlaneEnvironment(opts));
  // After the control plane (environments are set up in order).
  ::testing::AddGlobalTestEnvironment(new kube::testing::crash::CrashEnvironment());
  return RUN_ALL_TESTS();
}
