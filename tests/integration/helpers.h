// Shared pieces of the integration tests: the control plane started once per
// test binary (see control_plane.h), a client for it, and a namespace per test.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "runtime/client.h"
#include "runtime/config.h"
#include "tests/integration/control_plane.h"

namespace kube::testing {

inline const Resource kNamespaces{"", "v1", "namespaces", false, "Namespace"};
inline const Resource kConfigMaps{"", "v1", "configmaps", true, "ConfigMap"};
inline const Resource kWidgets{"test.kubec2.io", "v1", "widgets", true, "Widget"};

inline std::string testdata(const std::string& file) {
  return std::string(KUBEC2_SOURCE_DIR) + "/tests/integration/testdata/" + file;
}

inline RestConfig adminConfig() {
  RestConfig c = loadKubeconfig({ControlPlaneEnvironment::get().kubeconfig()});
  c.qps = 0;  // tests are not throttled on the client side
  return c;
}

inline std::string createNamespace(Client& c, const std::string& prefix) {
  std::string name = uniqueNamespaceName(prefix);
  c.create(kNamespaces, "",
           {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", name}}}});
  return name;
}

inline nlohmann::json widget(const std::string& name, int replicas = 1) {
  return {{"apiVersion", "test.kubec2.io/v1"},
          {"kind", "Widget"},
          {"metadata", {{"name", name}}},
          {"spec", {{"replicas", replicas}, {"color", "blue"}}}};
}

// Polls `cond` until true or `timeout` passes. Used only to wait for another
// process (the API server, a watch) to catch up, never to let time pass.
inline bool eventually(const std::function<bool()>& cond,
                       std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return cond();
}

}  // namespace kube::testing
