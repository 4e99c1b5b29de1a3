// main() of each integration test binary: one control plane for all tests.
#include <gtest/gtest.h>

#include "runtime/client.h"
#include "tests/integration/control_plane.h"
#include "tests/integration/helpers.h"

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  kube::globalInit();
  kube::testing::ControlPlaneOptions opts;
  opts.watchCache = KUBEC2_WATCH_CACHE != 0;
  opts.crds = {kube::testing::testdata("widgets-crd.json")};
  ::testing::AddGlobalTestEnvironment(new kube::testing::ControlPlaneEnvironment(opts));
  return RUN_ALL_TESTS();
}
