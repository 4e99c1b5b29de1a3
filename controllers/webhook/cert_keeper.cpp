#include "controllers/webhook/cert_keeper.h"

#include <algorithm>
#include <stdexcept>
#include <utility>

#include "runtime/log.h"

namespace kubec2::webhook {

CertKeeper::CertKeeper(kube::Client& client, CertKeeperOptions opts)
    : client_(client),
      opts_(std::move(opts)),
      clock_(opts_.clock ? *opts_.clock : kube::SystemClock::instance()) {}

void CertKeeper::load() {
  SelfSignedCerts c = ensureCertSecret(client_, opts_.secretNamespace, opts_.secretName,
                                       opts_.hosts, clock_.wallNow());
  std::lock_guard l(mu_);
  certs_ = std::move(c);
}

kube::Next CertKeeper::sync() {
  load();
  const int found = injectCaBundle(client_, opts_.configurationName, caPem());
  bool warn = false;
  {
    std::lock_guard l(mu_);
    warn = found != lastFound_ && found < 2;
    lastFound_ = found;
  }
  if (warn) {
    kube::log::warn(
        "Webhook configurations missing: the API server calls the webhook only once both exist",
        {{"name", opts_.configurationName}, {"found", found}});
  }
  // Until both exist, look again soon.
  if (found < 2) return kube::Next::after(std::min(opts_.period, opts_.whileMissing));
  return kube::Next::period();
}

SelfSignedCerts CertKeeper::current() const {
  std::lock_guard l(mu_);
  if (!certs_) throw std::logic_error("webhook certificates not loaded yet");
  return *certs_;
}

ServingCert CertKeeper::serving() const {
  return current().serving;
}

std::string CertKeeper::caPem() const {
  return current().caPem;
}

std::unique_ptr<kube::Runnable> makeCertKeeperRunnable(std::shared_ptr<CertKeeper> keeper) {
  if (!keeper) throw std::invalid_argument("makeCertKeeperRunnable: no keeper");
  const CertKeeperOptions& o = keeper->options();
  kube::PeriodicOptions po;
  po.period = o.period;
  po.minBackoff = o.minBackoff;
  po.maxBackoff = o.maxBackoff;
  po.needsLeaderElection = false;
  po.clock = o.clock;
  return kube::makePeriodicRunnable(
      "webhook-certificates",
      [keeper = std::move(keeper)](const std::stop_token&) { return keeper->sync(); }, po);
}

}  // namespace kubec2::webhook
