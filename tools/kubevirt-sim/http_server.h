// Small HTTP/1.1 servers on one Asio thread (Boost.Beast): the control API
// and every port of every running VMI. One request per connection
// (Connection: close), which is all health checks and load balancers need.
// A handler may answer HttpResponse::none(): the connection is then held open
// without an answer until the client closes it (or for kHangLimit at most).
// Asio stays inside http_server.cpp.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>

#include "tools/kubevirt-sim/control_api.h"

namespace kubec2::sim {

using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

// How long a connection left without an answer is held before the server
// closes it (still without an answer): longer than any health check waits
// (ELB's timeout is at most 120 s), short enough that clients that never
// close do not pile up sockets for ever.
inline constexpr std::chrono::minutes kHangLimit{10};

// What a port of a running VMI answers (README.md, "Real sockets"): under
// hang-health nothing, on every path; on `healthPath` 503 under fail-health,
// else 200 "ok"; on any other path 200 with `banner` (a line naming the VMI).
HttpResponse vmiAnswer(const HttpRequest& r, const std::string& healthPath, bool failHealth,
                       bool hangHealth, const std::string& banner);

class BindError : public std::runtime_error {
 public:
  BindError(const std::string& what, bool addressInUse)
      : std::runtime_error(what), addressInUse_(addressInUse) {}
  bool addressInUse() const { return addressInUse_; }

 private:
  bool addressInUse_;
};

class HttpServers {
 public:
  HttpServers();
  ~HttpServers();  // stops
  HttpServers(const HttpServers&) = delete;
  HttpServers& operator=(const HttpServers&) = delete;

  struct Bound {
    std::uint64_t id = 0;
    int port = 0;  // the one bound (chosen by the system for port 0)
  };
  // Binds and listens now (so a busy address fails here, with BindError);
  // serving starts at once when the servers run, else at start(). Any thread.
  Bound listen(const std::string& host, int port, HttpHandler handler);
  // Stops listening; connections in progress finish. Any thread.
  void close(std::uint64_t id);
  std::size_t listeners() const;

  void start();
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace kubec2::sim
