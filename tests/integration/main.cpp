// main() of each integration test binary: one control plane for all tests.
#include <algorithm>
#include <filesystem>

#include <gtest/gtest.h>

#include "runtime/client.h"
#include "runtime/http_transport.h"
#include "tests/integration/control_plane.h"
#include "tests/integration/crds.h"
#include "tests/integration/helpers.h"
#ifdef KUBEC2_WEBHOOK_ENV
#include "tests/integration/webhook_env.h"
#endif

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  kube::globalInit();
  kube::testing::ControlPlaneOptions opts;
  opts.watchCache = KUBEC2_WATCH_CACHE != 0;
  opts.crds = {kube::testing::testdata("widgets-crd.json")};
#ifdef KUBEC2_COMPUTE_CRDS
  const auto compute = kube::testing::computeCrdFiles();
  opts.crds.insert(opts.crds.end(), compute.begin(), compute.end());
#endif
#ifdef KUBEC2_KUBEVIRT_CRDS
  // KubeVirt's real API schema: every VM written is checked against it.
  const auto kubevirt = kube::testing::kubevirtCrdFiles();
  opts.crds.insert(opts.crds.end(), kubevirt.begin(), kubevirt.end());
#endif
#if defined(KUBEC2_SNAPSHOT_CRDS) || defined(KUBEC2_STORAGE_CRDS)
  // The CSI external-snapshotter's, KubeVirt's snapshot and CDI's
  // DataVolume schemas (third_party/), whose controllers the simulator
  // plays where they are served; and the PVC protection controller, which
  // lets a claim go once no pod uses it (as in every cluster).
  for (const auto& files : {kube::testing::snapshotCrdFiles(), kube::testing::cdiCrdFiles()})
    opts.crds.insert(opts.crds.end(), files.begin(), files.end());
  opts.extraControllers.push_back("pvc-protection");
#endif
#ifdef KUBEC2_HELM_STAND_IN_CRDS
  // The Helm chart's optional objects (ServiceMonitor, PrometheusRule,
  // cert-manager's Issuer and Certificate): stand-in CRDs with an open spec,
  // so the server takes them without the operators that own them.
  for (const char* f : {"stand-in-servicemonitors-crd.json", "stand-in-prometheusrules-crd.json",
                        "stand-in-issuers-crd.json", "stand-in-certificates-crd.json"})
    opts.crds.push_back(kube::testing::testdata(f));
#endif
#ifdef KUBEC2_HPA_CONTROLLER
  // A real HorizontalPodAutoscaler scales a ScalingGroup through its scale
  // subresource (webhook_test.cpp).
  opts.extraControllers = {"horizontalpodautoscaling"};
#endif
  ::testing::AddGlobalTestEnvironment(new kube::testing::ControlPlaneEnvironment(opts));
#ifdef KUBEC2_WEBHOOK_ENV
  // After the control plane (environments are set up in order).
  ::testing::AddGlobalTestEnvironment(new kube::testing::WebhookEnvironment());
#endif
  return RUN_ALL_TESTS();
}
