// The health probe server: GET /healthz and /readyz for the kubelet, on a
// background thread (Boost.Beast over Asio).
//
//  - /healthz: 200 "ok" while the process can answer at all, and every
//    liveness check passes.
//  - /readyz: 200 "ok" when every readiness check passes (the manager adds
//    one per informer: synced); otherwise 503 with one line per failing check
//    naming it and saying why, as the API server's own /readyz does:
//      [-]informer configmaps (v1) failed: not synced; last error: ...
//      readyz check failed
//    `?verbose` lists the passing checks too.
//
// Checks run on the server's thread at each probe, so they must be quick
// (read an atomic, take a short lock).
#pragma once

#include <functional>
#include <memory>
#include <string>

namespace kube {

// A listen address from a flag: "host:port", ":port" (all interfaces) or
// "[v6addr]:port"; port 0 lets the system choose.
struct BindAddress {
  std::string host;  // empty: all interfaces
  int port = 0;
};

// Throws std::runtime_error naming `flag` and the value when it is not of the
// forms above.
BindAddress parseBindAddress(const std::string& value, const std::string& flag);

class HealthServer {
 public:
  // Empty string: passing. Otherwise the reason it fails.
  using Check = std::function<std::string()>;

  // Binds and listens at once, so that a bad or busy address fails here, with
  // a std::runtime_error naming `flag` and the value; serving starts with
  // start().
  explicit HealthServer(const std::string& bindAddress,
                        const std::string& flag = "--health-probe-bind-address");
  ~HealthServer();  // stops
  HealthServer(const HealthServer&) = delete;
  HealthServer& operator=(const HealthServer&) = delete;

  // Safe to call at any time, also while serving.
  void addHealthzCheck(std::string name, Check check);
  void addReadyzCheck(std::string name, Check check);

  void start();
  void stop();
  // The port bound (the chosen one when asked for port 0).
  int port() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace kube
