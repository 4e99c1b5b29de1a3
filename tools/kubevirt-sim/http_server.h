// Small HTTP/1.1 servers on one Asio thread (Boost.Beast): the control API
// and every port of every running VMI. One request per connection
// (Connection: close), which is all health checks and load balancers need.
// Asio stays inside http_server.cpp.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>

#include "tools/kubevirt-sim/control_api.h"

namespace kubec2::sim {

using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

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
