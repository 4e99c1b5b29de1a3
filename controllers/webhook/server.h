// The admission webhook's HTTPS server (cpprestsdk): POST /validate and
// POST /mutate take AdmissionReviews (admission.h). It serves in every
// replica, leader or not, as the API server may call any of them.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "controllers/webhook/certs.h"

namespace kubec2::webhook {

class Server {
 public:
  // Called for every new TLS connection, so a renewed certificate is served
  // from the next connection on. Throwing fails that handshake (and logs).
  using CertProvider = std::function<ServingCert()>;

  // bindAddress: host:port, or :port for every interface.
  Server(const std::string& bindAddress, CertProvider certs);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Starts listening; throws std::runtime_error naming the address when it
  // cannot (port busy, bad host).
  void start();
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace kubec2::webhook
