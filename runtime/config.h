// Where and how to reach the API server: from kubeconfig files or from the
// in-cluster service account. TLS verification is always on: there is no
// insecure mode, and insecure-skip-tls-verify in a kubeconfig is refused.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "runtime/errors.h"

namespace kube {

struct RestConfig {
  std::string server;  // https://host:port, no trailing slash
  // Trust: PEM text of the CA bundle (from certificate-authority-data or a file).
  std::string caPem;
  std::string caFile;  // kept for messages; caPem holds the contents
  // Client certificate authentication (PEM text).
  std::string clientCertPem;
  std::string clientKeyPem;
  // Bearer token, fixed or read from a file. A token file is re-read when it
  // changes (service-account tokens rotate), at most every `tokenRereadPeriod`.
  std::string token;
  std::string tokenFile;
  std::chrono::seconds tokenRereadPeriod{60};
  // Server name to check the certificate against when it differs from the URL host.
  std::string tlsServerName;

  std::string contextName;       // the kubeconfig context used, for messages
  std::string defaultNamespace;  // context's namespace, or the pod's namespace in-cluster

  double qps = 20;  // client-side rate limit (requests per second)
  int burst = 30;
  std::chrono::milliseconds timeout{30000};  // per request, except watches
  std::chrono::milliseconds connectTimeout{10000};
  int maxRetries = 5;  // for 429, 5xx and transport errors on idempotent verbs
  // A response body larger than this fails (ApiError reason TooLarge) rather
  // than grow memory without bound; a list of 100,000 large objects fits.
  std::size_t maxResponseBytes = std::size_t{1} << 30;  // 1 GiB
  std::string userAgent = "kubec2";
};

// Loads a kubeconfig. `paths` are merged in order as kubectl does (first file
// to set a map key wins); `context` overrides current-context when non-empty.
// Throws ConfigError naming the file and the field at fault.
RestConfig loadKubeconfig(const std::vector<std::string>& paths, const std::string& context = "");

// Parses kubeconfig YAML text (for tests and for the path-loading above).
// `baseDir` resolves relative file references; `source` names it in errors.
RestConfig parseKubeconfig(const std::string& yamlText, const std::string& context,
                           const std::string& baseDir, const std::string& source);

// In-cluster configuration: KUBERNETES_SERVICE_HOST/PORT and the service
// account files under `saDir`. Throws ConfigError when not in a cluster.
RestConfig inClusterConfig(
    const std::string& saDir = "/var/run/secrets/kubernetes.io/serviceaccount");

// What kubectl does: --kubeconfig if given, else $KUBECONFIG (colon
// separated), else in-cluster when KUBERNETES_SERVICE_HOST is set, else
// ~/.kube/config.
RestConfig loadConfig(const std::string& kubeconfigFlag, const std::string& context);

}  // namespace kube
