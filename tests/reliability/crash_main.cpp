// main() of reliability_crash: one control plane with the compute CRDs and
// KubeVirt's CRDs (as integration_compute's), then the KubeVirt simulator
// and the operator under test (crash_harness.h) for all of its tests.
#include <algorithm>
#include <filesystem>

#include <gtest/gtest.h>

#include "runtime/http_transport.h"
#include "tests/integration/control_plane.h"
#include "tests/reliability/crash_harness.h"

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  kube::globalInit();
  kube::testing::ControlPlaneOptions opts;
  std::vector<std::string> compute;
  for (const auto& e :
       std::filesystem::directory_iterator(std::string(KUBEC2_SOURCE_DIR) + "/crds"))
    if (e.path().filename().string().starts_with("compute.kubec2.io_"))
      compute.push_back(e.path().string());
  std::sort(compute.begin(), compute.end());
  opts.crds = compute;
  for (const char* f :
       {"kubevirt.io_virtualmachines.json", "kubevirt.io_virtualmachineinstances.json"})
    opts.crds.push_back(std::string(KUBEC2_SOURCE_DIR) + "/third_party/kubevirt/crds/" + f);
  kube::testing::crash::runSeed();  // printed before the first test
  ::testing::AddGlobalTestEnvironment(new kube::testing::ControlPlaneEnvironment(opts));
  // After the control plane (environments are set up in order).
  ::testing::AddGlobalTestEnvironment(new kube::testing::crash::CrashEnvironment());
  return RUN_ALL_TESTS();
}
