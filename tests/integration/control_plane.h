// A real control plane (etcd, kube-apiserver, kube-controller-manager) for the
// integration tests, run by hack/local-cluster.sh on 127.0.0.1 with free ports
// in a fresh temporary folder. One per test binary: ControlPlaneEnvironment
// starts it before the first test and stops it after the last.
//
// The script gets this process's id (--parent-pid), and its watchdog stops
// the servers when this process dies, so a crashed or killed test binary
// leaves nothing running. KEEP=1 in the environment keeps the folder (logs,
// certificates, kubeconfig) after the tests.
#pragma once

#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

namespace kube::testing {

struct ControlPlaneOptions {
  // false starts kube-apiserver with --watch-cache=false: a watch from a
  // compacted resourceVersion then gets the 410 ERROR frame.
  bool watchCache = true;
  // CRD files (JSON or YAML, one object each) installed before the
  // controller manager starts, so its garbage collector knows them at once.
  std::vector<std::string> crds;
  // kube-controller-manager controllers beyond garbagecollector, namespace
  // and serviceaccount-token (such as horizontalpodautoscaling).
  std::vector<std::string> extraControllers;
  // An audit policy file: kube-apiserver then logs the requests it selects
  // to dir()/audit.log (JSON lines, written before each answer). Empty: no
  // audit log.
  std::string auditPolicy;
  // More kube-apiserver flags, as given (such as --audit-policy-file=FILE):
  // files they name must exist before start().
  std::vector<std::string> apiServerFlags{};
};

class ControlPlane {
 public:
  // Starts the process-wide control plane, or returns it if already running
  // (with the same options). Throws std::runtime_error when it cannot start;
  // the script has then printed the failing server's log to stderr.
  static ControlPlane& start(const ControlPlaneOptions& options = {});

  std::string kubeconfig() const;  // admin, client certificate
  std::string dir() const;         // the folder with logs, certificates, env
  bool running() const;

  // Stops kube-apiserver and starts it again on the same port with the same
  // flags; returns once /readyz answers. Clients see their connections drop.
  void restartApiServer();
  // Stops etcd (TERM, KILL after 2 s) and starts it again on the same ports
  // with the same data; returns once etcd is healthy and kube-apiserver,
  // which reconnects by itself, answers /readyz again. Throws
  // std::runtime_error when either does not come back.
  void restartEtcd();
  // Compacts etcd at its current revision and returns that revision.
  long compactEtcd();
  // Creates (or updates) CRDs and waits until each is Established.
  void installCrds(const std::vector<std::string>& files);
  // Stops every server and removes the folder (unless KEEP=1). Idempotent.
  void stop();

  ControlPlane(const ControlPlane&) = delete;
  ControlPlane& operator=(const ControlPlane&) = delete;

 private:
  ControlPlane() = default;
  ~ControlPlane();
  void requireRunning(const char* what) const;

  mutable std::mutex mu_;
  std::string dir_;
  bool running_ = false;
  ControlPlaneOptions options_;
};

// GoogleTest global environment: one control plane per test binary.
//   ::testing::AddGlobalTestEnvironment(new ControlPlaneEnvironment(opts));
// A failure to start is a fatal failure of the global set-up, so GoogleTest
// runs no test and the binary fails.
class ControlPlaneEnvironment : public ::testing::Environment {
 public:
  explicit ControlPlaneEnvironment(ControlPlaneOptions options = {})
      : options_(std::move(options)) {}
  void SetUp() override;
  void TearDown() override;
  // The running control plane; throws std::logic_error outside SetUp..TearDown.
  static ControlPlane& get();

 private:
  ControlPlaneOptions options_;
};

// A namespace name no other test of this run uses: the prefix made a valid
// DNS label (lower case, [a-z0-9-]), a per-process counter and a random part,
// at most 63 characters.
std::string uniqueNamespaceName(const std::string& prefix);

}  // namespace kube::testing
