// Upkeep of the self-signed webhook certificates (--webhook-cert-source
// self-signed; certs.h has the pieces): keeps the Secret's CA and serving
// certificate fresh and the CA in the webhook configurations, which may be
// applied after the operator starts (Helm hooks, GitOps ordering) or have
// their caBundle reset by a re-apply.
//
//   auto keeper = std::make_shared<CertKeeper>(mgr.client(), opts);
//   keeper->load();                                   // at start-up: fail fast
//   ServerOptions so{addr, [keeper] { return keeper->serving(); }};
//   mgr.add(makeCertKeeperRunnable(keeper));          // then every period
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "controllers/webhook/certs.h"
#include "runtime/clock.h"
#include "runtime/runnable.h"

namespace kubec2::webhook {

struct CertKeeperOptions {
  std::string secretNamespace;
  std::string secretName;          // --webhook-secret-name
  std::vector<std::string> hosts;  // --webhook-hosts
  std::string configurationName;   // --webhook-configuration-name
  // How often the Secret and the caBundle are checked (--webhook-ca-sync-seconds).
  std::chrono::seconds period{60};
  // How often while a configuration is missing (at most `period`).
  std::chrono::seconds whileMissing{5};
  // After a failed check: minBackoff, doubling up to maxBackoff.
  std::chrono::seconds minBackoff{1};
  std::chrono::seconds maxBackoff{60};
  // Waits, and the wall time certificates are checked and made against.
  // nullptr: the system clock; must outlive the keeper's runnable.
  const kube::Clock* clock = nullptr;
};

class CertKeeper {
 public:
  // `client` must outlive the keeper.
  CertKeeper(kube::Client& client, CertKeeperOptions opts);

  // Reads the Secret, or (re)creates its certificates when absent or due for
  // renewal (ensureCertSecret), and serves what it holds from then on.
  // Throws what the client throws (kube::ApiError) or std::runtime_error.
  void load();
  // One check, as the runnable makes it: load(), then the CA into both
  // configurations. Logs a warning each time the number of configurations
  // found drops below 2 or changes while below (the API server calls the
  // webhook only once both exist). Returns when to check next: the period,
  // or `whileMissing` while a configuration is missing. Throws as load() and
  // injectCaBundle().
  kube::Next sync();

  // The certificate to serve (a Server's CertProvider); the CA in use.
  // Throw std::logic_error before the first successful load().
  ServingCert serving() const;
  std::string caPem() const;

  const CertKeeperOptions& options() const { return opts_; }

 private:
  SelfSignedCerts current() const;

  kube::Client& client_;
  CertKeeperOptions opts_;
  const kube::Clock& clock_;
  mutable std::mutex mu_;
  std::optional<SelfSignedCerts> certs_;  // guarded by mu_
  int lastFound_ = -1;                    // guarded by mu_: configurations at the last sync
};

// The keeper's checks as a manager Runnable "webhook-certificates", in every
// replica (each serves the Secret's certificate; a replica that has not led
// yet must still repair the caBundle): sync() at once, then as it says;
// on an error, logged, after the keeper's backoff. Stops at once on stop.
std::unique_ptr<kube::Runnable> makeCertKeeperRunnable(std::shared_ptr<CertKeeper> keeper);

}  // namespace kubec2::webhook
