// The kubec2-operator binary as a child process of a test, the way a
// Deployment's kubelet runs it: its flags named once, then started, stopped
// (SIGTERM), killed (SIGKILL) and started again with the same flags and
// ports. Every start appends to the same log, after a line naming it.
//
// With a webhook port it serves its admission webhook on 127.0.0.1 with the
// self-signed certificates it keeps in a Secret, and writes their CA into
// the webhook configurations' caBundle. The tests' API server reaches it by
// url (installWebhookConfigurations), as it cannot reach a Service's pods.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/integration/child_process.h"

namespace kube::testing {

struct OperatorProcessOptions {
  // Where its stdout and stderr go (appended); required.
  std::string logFile{};
  // --kubeconfig; empty: the control plane's admin kubeconfig
  // (ControlPlaneEnvironment).
  std::string kubeconfig{};
  // Ports on 127.0.0.1 (0 turns the listener off: --...-bind-address 0).
  int metricsPort = 0;
  int healthPort = 0;
  int webhookPort = 0;
  // With a webhook port only: the certificate's names (--webhook-hosts) and
  // how often the caBundle is checked (--webhook-ca-sync-seconds, 1..).
  std::string webhookHosts = "127.0.0.1";
  int webhookCaSyncSeconds = 1;
  // --webhook-secret-namespace, --webhook-configuration-name and
  // --operator-namespace; empty leaves the operator's default
  // (controllers/main.cpp: the kubeconfig context's namespace, "kubec2",
  // the context's namespace).
  std::string webhookSecretNamespace{};
  std::string webhookConfigurationName{};
  std::string operatorNamespace{};
  // Flags of the test's own, after the ones above.
  std::vector<std::string> extraArgs{};
  // A command the operator runs under (e.g. strace -f -o FILE); empty: none.
  std::vector<std::string> wrapper{};
};

// deploy/base/webhook.yaml's configuration of `kind` (Validating- or
// MutatingWebhookConfiguration) as shipped, named `name`, with each webhook's
// clientConfig a url to `baseUrl` + its path instead of the in-cluster
// Service. Throws std::runtime_error if the file has no such kind.
nlohmann::json shippedWebhookConfiguration(const std::string& kind, const std::string& name,
                                           const std::string& baseUrl);

// Whether both webhook configurations named `name` carry a caBundle (any);
// false while either is missing.
bool caBundlesWritten(const std::string& name);

// The operator under its ServiceAccount, as in a pod: a kubeconfig with a
// token of `ns`/`account` (kubectl create token, valid 1 h), the control
// plane's cluster and `ns` as the context's namespace, written to `path`.
// Throws std::runtime_error if kubectl fails.
struct ServiceAccountKubeconfig {
  std::string path{};
  std::string token{};
};
ServiceAccountKubeconfig serviceAccountKubeconfig(const std::string& ns, const std::string& account,
                                                  const std::string& path);

// Points the installed webhook configurations named `name` (deploy/base's:
// /validate and /mutate, one webhook each) at https://127.0.0.1:`port` by
// url, as kubectl patch does. Throws std::runtime_error if kubectl fails.
void pointWebhookConfigurationsAt(const std::string& name, int port);

class OperatorProcess {
 public:
  // Does not start it (start()).
  explicit OperatorProcess(OperatorProcessOptions options);
  // stop(), then SIGKILL if it is still running.
  ~OperatorProcess();
  OperatorProcess(const OperatorProcess&) = delete;
  OperatorProcess& operator=(const OperatorProcess&) = delete;

  // A new incarnation with the same flags. Throws std::logic_error while one
  // runs.
  void start();
  // SIGTERM (to the operator, not its wrapper) and its exit within `within`:
  // its exit code, or nullopt if it is still running then (or never ran).
  std::optional<int> stop(std::chrono::seconds within = std::chrono::seconds(30));
  // SIGKILL, as the OOM killer or a node failure would. Throws
  // std::runtime_error if it outlives it for 30 s.
  void kill();
  // stop(), then start().
  void restart();
  // Any other signal (SIGSTOP, SIGCONT) to the operator.
  void signal(int sig);
  // Its exit code once it exits, or nullopt while it runs after `timeout`.
  std::optional<int> wait(std::chrono::milliseconds timeout);
  // True while the current incarnation runs (it has not exited).
  bool running();
  int starts() const { return starts_; }

  // The whole log (every incarnation), and its last `chars` characters.
  std::string output() const;
  std::string tail(std::size_t chars = 6000) const;
  const std::string& logFile() const { return options_.logFile; }
  const OperatorProcessOptions& options() const { return options_; }

  // The webhook configurations of deploy/base/webhook.yaml named
  // webhookConfigurationName, with a url to this operator's webhook port
  // and no caBundle (the operator writes it), and the Secret's namespace
  // (created if missing). Throws ApiError (e.g. they exist already).
  void installWebhookConfigurations();
  // Deletes them; errors ignored (for tear-downs).
  void removeWebhookConfigurations() noexcept;
  // Waits until both configurations carry the CA of the operator's Secret
  // (kubec2-webhook-tls in webhookSecretNamespace): the webhook is set up.
  // Returns that CA (PEM). Throws std::runtime_error with the log's tail
  // after `within`, std::logic_error without a webhookSecretNamespace.
  std::string waitForWebhook(std::chrono::seconds within = std::chrono::seconds(60));

 private:
  std::string configurationName() const;
  // The process to signal: the wrapper's child when wrapped.
  pid_t operatorPid() const;

  OperatorProcessOptions options_;
  std::unique_ptr<ChildProcess> process_;
  int starts_ = 0;
};

}  // namespace kube::testing
