// Files reliability_security's main() makes before the control plane starts
// (security_main.cpp), for its tests.
#pragma once

#include <string>

namespace kube::testing::security {

struct Files {
  std::string dir{};       // everything below lives here
  std::string clientCa{};  // the CA of the API server's webhook client certificate
  std::string auditLog{};  // kube-apiserver's audit log (JSON lines)
  // In dir: apiserver-webhook-client.{crt,key} (the API server's, signed by
  // clientCa), intruder.{crt,key} (signed by other-ca.crt), and
  // prometheus.{crt,key} (self-signed, trusted by nobody).
};

// Throws std::logic_error before main() has prepared them.
const Files& files();

}  // namespace kube::testing::security
