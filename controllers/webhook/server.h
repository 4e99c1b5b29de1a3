// The admission webhook's HTTPS server (cpprestsdk): POST /validate and
// POST /mutate take AdmissionReviews (admission.h). It serves in every
// replica, leader or not, as the API server may call any of them: the
// manager runs it as a Runnable (ServerRunnable) that needs no leader
// election.
#pragma once

#include <functional>
#include <memory>
#include <stop_token>
#include <string>

#include "api/validation/lookups.h"
#include "controllers/webhook/certs.h"
#include "runtime/runnable.h"

namespace kubec2::webhook {

// Called for every new TLS connection, so a renewed certificate is served
// from the next connection on. Throwing fails that handshake (and logs).
using CertProvider = std::function<ServingCert()>;

// What the server needs; new needs (admission lookups) become members here,
// so the Server and ServerRunnable constructors stay as they are.
struct ServerOptions {
  std::string bindAddress;  // host:port, or :port for every interface
  CertProvider certs;       // required
  // The admission rules' view of the cluster (admission.h: warnings, scale
  // writes); null: api::noLookups(), which knows nothing.
  std::shared_ptr<const api::AdmissionLookups> lookups{};
  // PEM file of the CA(s) that sign the API server's client certificate
  // (--webhook-client-ca-file; kube-apiserver's admission webhook client
  // config, docs/admission-webhook.md). Set: every TLS handshake must
  // present a client certificate that verifies against it, or it fails;
  // re-read for every new connection, so a rotated CA takes effect at once.
  // An unreadable or empty file fails every handshake, never lets a
  // connection through unverified. Empty: no client certificate asked for.
  std::string clientCaFile{};
};

// Throws std::runtime_error naming the flag when `path` holds no PEM
// certificate: the operator's start-up check of --webhook-client-ca-file.
void checkClientCaFile(const std::string& path);

class Server {
 public:
  using CertProvider = webhook::CertProvider;

  explicit Server(ServerOptions opts);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Starts listening; throws std::runtime_error naming the flag and address
  // when it cannot ("--webhook-bind-address ADDR: cannot listen: ...": port
  // busy, bad host).
  void start();
  // Stops listening; no-op when not listening. Also done by the destructor.
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The server under a kube::Manager, as controller-runtime's webhook.Server:
// start() binds (so a busy port throws Server::start()'s error, which stops
// the manager and fails the operator's start-up), serves until stop is
// requested, then stops listening and returns. Runs in every replica
// (needsLeaderElection() is false), so a lost Lease does not stop it.
class ServerRunnable final : public kube::Runnable {
 public:
  explicit ServerRunnable(ServerOptions opts);
  std::string name() const override { return "webhook-server"; }
  bool needsLeaderElection() const override { return false; }
  void start(std::stop_token stop) override;

 private:
  Server server_;
};

}  // namespace kubec2::webhook
